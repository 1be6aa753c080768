import CIntrinsics
import Pipeline

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
///
/// The slots are cut into regions (16 for a large index): a key's region is chosen by the top bits
/// of its hash, its slot by the low bits, and probing wraps within the region. So the regions fill
/// independently, on all cores (the customers' index is 80 MB of fresh memory), and the layout
/// depends only on the keys.
public struct IDIndex<Key: IndexKey>: Sendable {
  struct Slot: Sendable {
    var key: Key
    var index: Int32  // -1 = empty
  }

  private let slots: [Slot]
  /// Slots per region, less one.
  private let regionMask: Int
  /// log2 of the regions and of the slots per region.
  private let regionBits: Int
  private let slotBits: Int
  /// The first key met again while indexing (in key order), if any.
  public let firstDuplicate: Key?

  /// Indexes `keys` by position; the first of duplicate keys wins.
  public init(_ keys: [Key]) {
    var capacity = 16
    while capacity < keys.count + keys.count / 2 { capacity <<= 1 }
    regionBits = max(1, min(16, capacity / 4096)).trailingZeroBitCount
    slotBits = capacity.trailingZeroBitCount - regionBits
    regionMask = (1 << slotBits) - 1
    guard let filler = keys.first else {
      slots = []
      firstDuplicate = nil
      return
    }
    let bits = regionBits, regionCount = 1 << bits
    let (order, starts) = Self.grouped(count: keys.count, buckets: regionCount) { Self.region(keys[$0].hash64, bits: bits) }
    let regionMask = regionMask, perRegion = regionMask + 1
    var duplicates: [Int32?] = []
    slots = [Slot](unsafeUninitializedCapacity: capacity) { buffer, initialized in
      let shared = UnsafeTransfer(buffer.baseAddress!)
      // Each region writes only its own slots.
      duplicates = Parallel.map(chunks: regionCount) { r -> Int32? in
        let region = UnsafeMutableBufferPointer(start: shared.wrapped + r * perRegion, count: perRegion)
        region.initialize(repeating: Slot(key: filler, index: -1))
        var duplicate: Int32?
        for n in order[starts[r]..<starts[r + 1]] {
          let key = keys[Int(n)]
          var s = Int(truncatingIfNeeded: key.hash64) & regionMask
          while region[s].index >= 0 && region[s].key != key { s = (s + 1) & regionMask }
          if region[s].index < 0 { region[s] = Slot(key: key, index: n) } else if duplicate == nil { duplicate = n }
        }
        return duplicate
      }
      initialized = capacity
    }
    firstDuplicate = duplicates.compactMap { $0 }.min().map { keys[Int($0)] }
  }

  /// The positions `0..<count` grouped by `bucket(position)`, in position order within each (a
  /// counting sort), and where each bucket's run starts: bucket b is `order[starts[b]..<starts[b + 1]]`.
  @inline(__always)
  private static func grouped(count: Int, buckets: Int, bucket: (Int) -> Int) -> (order: [Int32], starts: [Int]) {
    var starts = [Int](repeating: 0, count: buckets + 1)
    for n in 0..<count { starts[bucket(n) + 1] += 1 }
    for b in 0..<buckets { starts[b + 1] += starts[b] }
    var next = starts
    let order = [Int32](unsafeUninitializedCapacity: count) { order, initialized in
      for n in 0..<count {
        let b = bucket(n)
        order[next[b]] = Int32(n)
        next[b] += 1
      }
      initialized = count
    }
    return (order, starts)
  }

  /// Slots prefetched this many keys before they are probed.
  private static var prefetchAhead: Int { 16 }

  /// Asks for the slot at `at`; a slot may straddle two cache lines, so for both ends.
  @inline(__always)
  private static func prefetch(_ slots: UnsafeBufferPointer<Slot>, at: Int) {
    let slot = UnsafeRawPointer(slots.baseAddress! + at)
    hmpipe_prefetch(slot)
    hmpipe_prefetch(slot + MemoryLayout<Slot>.stride - 1)
  }

  /// The region of a key with this hash: the hash's top `bits` bits.
  @inline(__always)
  private static func region(_ hash: UInt64, bits: Int) -> Int { bits == 0 ? 0 : Int(hash >> UInt64(64 - bits)) }

  /// The slot where the search for `key` starts: its region's first slot plus its hash's low bits.
  @inline(__always)
  private func home(_ key: Key) -> Int {
    let hash = key.hash64
    return Self.region(hash, bits: regionBits) << slotBits | Int(truncatingIfNeeded: hash) & regionMask
  }

  /// The index of each key of `keys` (-1 when absent) into `found`. Each key's slot is prefetched
  /// `prefetchAhead` keys before it is probed, so the cache misses of a table far larger than the cache
  /// overlap instead of following one another.
  public func indexes(of keys: UnsafeBufferPointer<Key>, into found: UnsafeMutableBufferPointer<Int32>) {
    precondition(found.count >= keys.count)
    guard !slots.isEmpty else {
      for i in keys.indices { found[i] = -1 }
      return
    }
    let ahead = Self.prefetchAhead, mask = regionMask
    slots.withUnsafeBufferPointer { slots in
      for i in 0..<min(ahead, keys.count) { Self.prefetch(slots, at: home(keys[i])) }
      for i in keys.indices {
        if i + ahead < keys.count { Self.prefetch(slots, at: home(keys[i + ahead])) }
        // Runs of one key are common (a customer's basket is consecutive rows): one probe serves all.
        if i > 0 && keys[i] == keys[i - 1] {
          found[i] = found[i - 1]
        } else {
          found[i] = Self.probe(slots, from: home(keys[i]), for: keys[i], mask: mask)
        }
      }
    }
  }

  /// As `indexes(of:into:)`, probing in the order of the slots the keys start from, for batches far
  /// larger than the table has pages (a piece of the transactions file: ~100k customers against the
  /// customers' 84 MB table, 20k pages). Keys that start in one block of slots are probed one after
  /// another, so a page of the table is translated for all of its keys at once rather than once per
  /// key (on a virtual machine a TLB miss is a two-level page walk). In ingest this took about a
  /// sixth off the customer lookups.
  public func indexesInSlotOrder(of keys: UnsafeBufferPointer<Key>, into found: UnsafeMutableBufferPointer<Int32>) {
    precondition(found.count >= keys.count)
    guard keys.count >= 4096, !slots.isEmpty else { return indexes(of: keys, into: found) }
    let blockBits = 6, blocks = (slots.count >> blockBits) + 1, count = keys.count
    let homes = [Int32](unsafeUninitializedCapacity: count) { homes, initialized in
      for i in 0..<count { homes[i] = Int32(home(keys[i])) }
      initialized = count
    }
    // The keys' positions grouped by block; then the keys and homes gathered in that order
    // (independent loads, which overlap), so the probes read them in sequence.
    let order = Self.grouped(count: count, buckets: blocks) { Int(homes[$0]) >> blockBits }.order
    let sortedKeys = order.map { keys[Int($0)] }, sortedHomes = order.map { Int(homes[Int($0)]) }
    let ahead = Self.prefetchAhead, mask = regionMask
    slots.withUnsafeBufferPointer { slots in
      for j in 0..<count {
        if j + ahead < count { Self.prefetch(slots, at: sortedHomes[j + ahead]) }
        found[Int(order[j])] = Self.probe(slots, from: sortedHomes[j], for: sortedKeys[j], mask: mask)
      }
    }
  }

  /// The index of `key`, searching from `start` and wrapping within its region.
  @inline(__always)
  static func probe(_ slots: UnsafeBufferPointer<Slot>, from start: Int, for key: Key, mask: Int) -> Int32 {
    let region = start & ~mask
    var s = start
    while true {
      let slot = slots[s]
      if slot.index < 0 || slot.key == key { return slot.index }
      s = region | (s + 1) & mask
    }
  }

  @inline(__always)
  public func index(of key: Key) -> Int? {
    guard !slots.isEmpty else { return nil }
    let found = slots.withUnsafeBufferPointer { Self.probe($0, from: home(key), for: key, mask: regionMask) }
    return found < 0 ? nil : Int(found)
  }
}
