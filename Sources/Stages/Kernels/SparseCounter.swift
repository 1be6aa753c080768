/// Counts over a large key range (articles) where each use touches few keys: a dense array plus the
/// list of keys touched, so reading out and resetting cost only what was touched. Per-worker scratch.
public struct SparseCounter: Sendable {
  private var counts: [UInt32]
  public private(set) var touched: [UInt32] = []

  public init(keys: Int) { counts = [UInt32](repeating: 0, count: keys) }

  @inline(__always) public mutating func add(_ key: UInt32, _ amount: UInt32 = 1) {
    if counts[Int(key)] == 0 { touched.append(key) }
    counts[Int(key)] += amount
  }

  @inline(__always) public subscript(key: UInt32) -> UInt32 { counts[Int(key)] }

  /// Puts into `best` the `limit` keys with the highest counts (ties: the lower key), best first,
  /// among those passing `keep`. `best` is the caller's buffer, reused across rows.
  public func top(_ limit: Int, into best: inout [(key: UInt32, count: UInt32)], where keep: (UInt32) -> Bool = { _ in true }) {
    best.removeAll(keepingCapacity: true)
    for key in touched where keep(key) {
      let entry = (key: key, count: counts[Int(key)])
      let better = { (a: (key: UInt32, count: UInt32), b: (key: UInt32, count: UInt32)) in
        a.count > b.count || (a.count == b.count && a.key < b.key)
      }
      if best.count == limit {
        guard limit > 0, better(entry, best[limit - 1]) else { continue }
        best.removeLast()
      }
      let at = best.firstIndex { better(entry, $0) } ?? best.count
      best.insert(entry, at: at)
    }
  }

  public mutating func reset() {
    for key in touched { counts[Int(key)] = 0 }
    touched.removeAll(keepingCapacity: true)
  }
}
