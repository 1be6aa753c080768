import Pipeline

/// A fixed-size set of small integers, one bit each: the per-worker scratch for "has this customer
/// bought from department d" and similar questions asked millions of times.
public struct Bitset: Sendable {
  private var words: [UInt64]

  public init(capacity: Int) { words = [UInt64](repeating: 0, count: (capacity + 63) / 64) }

  @inline(__always) public func contains(_ i: Int) -> Bool { words[i >> 6] & (1 << UInt64(i & 63)) != 0 }
  /// 1 when `i` is in the set, else 0: for tests combined without branches.
  @inline(__always) public func bit(_ i: Int) -> UInt64 { words[i >> 6] >> UInt64(i & 63) & 1 }
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

/// A set of small integers that hands its members back in ascending order in time proportional
/// to how many it holds (plus one word per 4096 of capacity): a bitset, and a bitset of its
/// non-empty words. Per-worker scratch for collecting a customer's distinct candidates in order
/// without sorting them.
struct OrderedBitset {
  private var words: [UInt64]
  private var nonEmpty: [UInt64]

  init(capacity: Int) {
    words = [UInt64](repeating: 0, count: (capacity + 63) / 64)
    nonEmpty = [UInt64](repeating: 0, count: (words.count + 63) / 64)
  }

  /// Adds `i`; false when it was already there.
  @discardableResult @inline(__always) mutating func insert(_ i: Int) -> Bool {
    let w = i >> 6, bit = UInt64(1) << UInt64(i & 63)
    guard words[w] & bit == 0 else { return false }
    words[w] |= bit
    nonEmpty[w >> 6] |= 1 << UInt64(w & 63)
    return true
  }

  /// Adds `i` when `flag` is 1, and nothing when it is 0, without a branch.
  @inline(__always) mutating func insert(_ i: Int, if flag: UInt64) {
    let w = i >> 6
    words[w] |= flag << UInt64(i & 63)
    nonEmpty[w >> 6] |= flag << UInt64(w & 63)
  }

  /// Appends the members to `out` in ascending order and empties the set.
  mutating func drain(into out: inout [UInt32]) {
    for s in nonEmpty.indices where nonEmpty[s] != 0 {
      var summary = nonEmpty[s]
      nonEmpty[s] = 0
      while summary != 0 {
        let w = s << 6 | summary.trailingZeroBitCount
        summary &= summary - 1
        var word = words[w]
        words[w] = 0
        while word != 0 {
          out.append(UInt32(w << 6 | word.trailingZeroBitCount))
          word &= word - 1
        }
      }
    }
  }
}
