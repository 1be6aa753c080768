import Pipeline

/// A fixed-size set of small integers, one bit each: the per-worker scratch for "has this customer
/// bought from department d" and similar questions asked millions of times.
public struct Bitset: Sendable {
  private var words: [UInt64]

  public init(capacity: Int) { words = [UInt64](repeating: 0, count: (capacity + 63) / 64) }

  @inline(__always) public func contains(_ i: Int) -> Bool { words[i >> 6] & (1 << UInt64(i & 63)) != 0 }
  @inline(__always) public mutating func insert(_ i: Int) { words[i >> 6] |= 1 << UInt64(i & 63) }
  @inline(__always) public mutating func remove(_ i: Int) { words[i >> 6] &= ~(1 << UInt64(i & 63)) }

  /// How many integers are in the set.
  public var count: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }

  /// The set of `values`, sized to hold the largest.
  public init(of values: TypedValues<UInt32>) {
    self.init(capacity: Int(values.max() ?? 0) + 1)
    for v in values { insert(Int(v)) }
  }
}
