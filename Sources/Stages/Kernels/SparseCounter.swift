/// Counts over a large key range (articles) where each use touches few keys: a dense array plus the
/// list of keys touched, so reading out and resetting cost only what was touched. Per-worker scratch
/// (a class: one worker's buffers, counted into hundreds of millions of times, through pointers
/// without the copy-on-write checks of arrays in a struct).
public final class SparseCounter {
  private let counts: UnsafeMutableBufferPointer<UInt32>
  /// The keys touched since the last reset, in first-touch order: `touched[0..<touchedCount]`.
  private let touched: UnsafeMutablePointer<UInt32>
  private var touchedCount = 0

  public init(keys: Int) {
    counts = .allocate(capacity: keys)
    counts.initialize(repeating: 0)
    touched = .allocate(capacity: keys)
  }

  deinit {
    counts.deallocate()
    touched.deallocate()
  }

  /// Adds `amount` to `key`'s count (nothing for 0: a key is listed as touched once, so the list
  /// never outgrows the key range).
  @inline(__always) public func add(_ key: UInt32, _ amount: UInt32 = 1) {
    let k = Int(key)
    precondition(k < counts.count, "key out of range")
    guard amount > 0 else { return }
    if counts[k] == 0 {
      touched[touchedCount] = key
      touchedCount += 1
    }
    counts[k] += amount
  }

  @inline(__always) public subscript(key: UInt32) -> UInt32 { counts[Int(key)] }

  /// Puts into `best` the `limit` keys with the highest counts (ties: the lower key), best first,
  /// among those passing `keep`. `best` is the caller's buffer, reused across rows.
  public func top(_ limit: Int, into best: inout [(key: UInt32, count: UInt32)], where keep: (UInt32) -> Bool = { _ in true }) {
    best.removeAll(keepingCapacity: true)
    guard limit > 0 else { return }
    let better = { (a: (key: UInt32, count: UInt32), b: (key: UInt32, count: UInt32)) in
      a.count > b.count || (a.count == b.count && a.key < b.key)
    }
    for key in UnsafeBufferPointer(start: touched, count: touchedCount) {
      let entry = (key: key, count: counts[Int(key)])
      if best.count == limit {
        guard better(entry, best[limit - 1]), keep(key) else { continue }
        best.removeLast()
      } else if !keep(key) {
        continue
      }
      let at = best.firstIndex { better(entry, $0) } ?? best.count
      best.insert(entry, at: at)
    }
  }

  public func reset() {
    for key in UnsafeBufferPointer(start: touched, count: touchedCount) { counts[Int(key)] = 0 }
    touchedCount = 0
  }
}
