import CIntrinsics

/// A key an `IDIndex` can hold: it supplies its own 64-bit hash, so lookups inline it.
public protocol IndexKey: Hashable, Sendable {
  var hash64: UInt64 { get }
}

extension UInt64: IndexKey {
  @inline(__always) public var hash64: UInt64 { CounterRandom.mix(self) }
}

/// Read-only open-addressing hash map from ids to dense indexes, built once, then looked up from
/// every thread (31.8M lookups per ingest). Keys sit inline in the slots beside their index, so a
/// lookup usually touches one cache line.
public struct IDIndex<Key: IndexKey>: Sendable {
  struct Slot: Sendable {
    var key: Key
    var index: Int32  // -1 = empty
  }

  private let slots: [Slot]
  private let mask: Int
  /// The first key met again while indexing (in key order), if any.
  public let firstDuplicate: Key?

  /// Indexes `keys` by position; the first of duplicate keys wins.
  public init(_ keys: [Key]) {
    var capacity = 16
    while capacity < keys.count + keys.count / 2 { capacity <<= 1 }
    guard let filler = keys.first else {
      slots = []
      mask = 0
      firstDuplicate = nil
      return
    }
    var slots = [Slot](repeating: Slot(key: filler, index: -1), count: capacity)
    let mask = capacity - 1
    var duplicate: Key?
    for (n, key) in keys.enumerated() {
      var s = Int(key.hash64 & UInt64(mask))
      while slots[s].index >= 0 && slots[s].key != key { s = (s + 1) & mask }
      if slots[s].index < 0 { slots[s] = Slot(key: key, index: Int32(n)) } else if duplicate == nil { duplicate = key }
    }
    self.slots = slots
    self.mask = mask
    firstDuplicate = duplicate
  }

  /// The index of each key of `keys` (-1 when absent) into `found`. Each key's slot is prefetched
  /// `ahead` keys before it is probed, so the cache misses of a table far larger than the cache
  /// overlap instead of following one another.
  public func indexes(of keys: UnsafeBufferPointer<Key>, into found: UnsafeMutableBufferPointer<Int32>) {
    precondition(found.count >= keys.count)
    guard !slots.isEmpty else {
      for i in keys.indices { found[i] = -1 }
      return
    }
    let ahead = 16, mask = mask
    slots.withUnsafeBufferPointer { slots in
      let home = { (key: Key) in Int(key.hash64 & UInt64(mask)) }
      // A slot may straddle two cache lines: ask for both ends.
      let last = MemoryLayout<Slot>.stride - 1
      func prefetch(_ key: Key) {
        let slot = UnsafeRawPointer(slots.baseAddress! + home(key))
        hmpipe_prefetch(slot)
        hmpipe_prefetch(slot + last)
      }
      for i in 0..<min(ahead, keys.count) { prefetch(keys[i]) }
      for i in keys.indices {
        if i + ahead < keys.count { prefetch(keys[i + ahead]) }
        // Runs of one key are common (a customer's basket is consecutive rows): one probe serves all.
        if i > 0 && keys[i] == keys[i - 1] {
          found[i] = found[i - 1]
        } else {
          found[i] = Self.probe(slots, from: home(keys[i]), for: keys[i], mask: mask)
        }
      }
    }
  }

  @inline(__always)
  static func probe(_ slots: UnsafeBufferPointer<Slot>, from start: Int, for key: Key, mask: Int) -> Int32 {
    var s = start
    while true {
      let slot = slots[s]
      if slot.index < 0 || slot.key == key { return slot.index }
      s = (s + 1) & mask
    }
  }

  @inline(__always)
  public func index(of key: Key) -> Int? {
    guard !slots.isEmpty else { return nil }
    let found = slots.withUnsafeBufferPointer { Self.probe($0, from: Int(key.hash64 & UInt64(mask)), for: key, mask: mask) }
    return found < 0 ? nil : Int(found)
  }
}
