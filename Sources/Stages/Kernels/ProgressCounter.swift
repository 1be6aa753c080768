import Synchronization

/// Counts finished chunks across threads and reports the fraction done.
final class ProgressCounter: Sendable {
  private let done = Mutex(0)
  private let total: Int
  private let report: @Sendable (Double) -> Void

  init(total: Int, report: @escaping @Sendable (Double) -> Void) {
    self.total = total
    self.report = report
  }

  func advance() {
    let n = done.withLock {
      $0 += 1
      return $0
    }
    report(Double(n) / Double(max(total, 1)))
  }
}
