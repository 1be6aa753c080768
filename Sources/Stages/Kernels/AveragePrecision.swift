/// Average precision at k exactly as the competition's reference `apk` computes it: a prediction
/// counts as a hit when it is among the customer's purchased articles and not a repeat of an
/// earlier prediction; each hit adds the precision at its position; the sum is divided by
/// min(distinct purchases, k). MAP@k is its mean over customers with at least one purchase.
public enum AveragePrecision {
  /// - Parameters:
  ///   - truth: the customer's distinct purchased articles, sorted ascending (not empty).
  ///   - hit: called with each hit's position and the amount it adds to the score, so callers can
  ///     credit it to the source of that prediction.
  @inline(__always)
  public static func score(
    _ predicted: some Collection<UInt32>, truth: ArraySlice<UInt32>, k: Int = 12, hit: (Int, Double) -> Void = { _, _ in }
  ) -> Double {
    guard !truth.isEmpty else { return 0 }
    let denominator = Double(min(truth.count, k))
    var hits = 0, sum = 0.0
    for (position, article) in predicted.prefix(k).enumerated() {
      guard truth.sortedContains(article), !predicted.prefix(position).contains(article) else { continue }
      hits += 1
      let gain = Double(hits) / Double(position + 1) / denominator
      sum += gain
      hit(position, gain)
    }
    return sum
  }
}
