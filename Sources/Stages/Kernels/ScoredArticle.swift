import Pipeline

/// An article with a score from whatever proposed or ranked it, ordered best first: the higher
/// score, then the lower article index (so every list has one order, whatever the thread count).
public struct ScoredArticle: Sendable, Comparable {
  public var article: UInt32
  public var score: Float

  public init(_ article: UInt32, _ score: Float) {
    self.article = article
    self.score = score
  }

  public static func < (a: ScoredArticle, b: ScoredArticle) -> Bool {
    a.score > b.score || (a.score == b.score && a.article < b.article)
  }
}

extension Array where Element == ScoredArticle {
  /// Keeps `self[start...]` the best `keep` seen so far, best first: an insertion into a short
  /// sorted list, cheap because few candidates beat the current worst.
  @inline(__always)
  mutating func insertKeepingBest(_ s: ScoredArticle, from start: Int, keeping keep: Int) {
    if count - start == keep {
      guard s < self[count - 1] else { return }
      removeLast()
    }
    var i = count
    append(s)
    while i > start && s < self[i - 1] {
      self[i] = self[i - 1]
      i -= 1
    }
    self[i] = s
  }
}

extension ListBuilder.Chunk where Item == ScoredArticle {
  /// Sorts the current row best first and keeps its `limit` best.
  public mutating func keepBest(_ limit: Int) {
    let start = items.count - currentRow.count
    items[start...].sort()
    if items.count - start > limit { items.removeLast(items.count - start - limit) }
  }
}

extension ArticleLists {
  /// The table of scored lists, best first in every row.
  public func make(_ built: (offsets: [UInt64], items: [ScoredArticle])) -> Table {
    make(offsets: built.offsets, items: built.items.map(\.article), scores: built.items.map(\.score))
  }
}

/// The last days of a training table: what candidate generators look back over.
public struct TrainingWindow: Sendable {
  /// The last day of the data (day numbers as `KaggleDate`).
  public let lastDay: Int32
  /// The first day inside the window.
  public let firstDay: Int32

  /// The `days` days up to the last day of `day`.
  public init(_ day: TypedValues<Int32>, days: Int) {
    lastDay = day.max() ?? 0
    firstDay = lastDay - Int32(days) + 1
  }

  public func contains(_ day: Int32) -> Bool { day >= firstDay }
}
