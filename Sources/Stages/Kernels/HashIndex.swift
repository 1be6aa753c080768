/// Read-only open-addressing hash maps from ids to dense indexes, built once, then looked up from
/// every thread (31.8M lookups per ingest, so no `Dictionary` boxing or hashing of strings).
public struct IDIndex<Key: Hashable & Sendable>: Sendable {
  private let keys: [Key]
  private let slots: [Int32]  // -1 = empty, else the key's index
  private let mask: Int
  private let hash: @Sendable (Key) -> UInt64

  /// Indexes `keys` by position; the first of duplicate keys wins.
  public init(_ keys: [Key], hash: @escaping @Sendable (Key) -> UInt64) {
    var capacity = 16
    while capacity < keys.count * 2 { capacity <<= 1 }
    var slots = [Int32](repeating: -1, count: capacity)
    let mask = capacity - 1
    for (n, key) in keys.enumerated() {
      var s = Int(hash(key) & UInt64(mask))
      while slots[s] >= 0 {
        if keys[Int(slots[s])] == key { break }
        s = (s + 1) & mask
      }
      if slots[s] < 0 { slots[s] = Int32(n) }
    }
    self.keys = keys
    self.slots = slots
    self.mask = mask
    self.hash = hash
  }

  @inline(__always)
  public func index(of key: Key) -> Int? {
    var s = Int(hash(key) & UInt64(mask))
    while true {
      let n = slots[s]
      if n < 0 { return nil }
      if keys[Int(n)] == key { return Int(n) }
      s = (s + 1) & mask
    }
  }
}

extension IDIndex where Key == UInt64 {
  public init(_ keys: [UInt64]) { self.init(keys) { CounterRandom.mix($0) } }
}

extension IDIndex where Key == CustomerKey {
  /// Customer ids are hashes already: their first word is a good hash.
  public init(_ keys: [CustomerKey]) { self.init(keys) { CounterRandom.mix($0.a ^ $0.d) } }
}
