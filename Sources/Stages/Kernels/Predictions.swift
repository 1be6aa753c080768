import Pipeline

/// Which stage put an article into a customer's predictions (stored as u8 beside each prediction).
public enum PredictionSource: UInt8, CaseIterable, Sendable {
  case rank = 1
  case fill, copurchase, popularity

  public var name: String {
    switch self {
    case .rank: "rank"
    case .fill: "fill"
    case .copurchase: "co-purchase"
    case .popularity: "popularity"
    }
  }
}

/// One predicted article and where it came from.
public struct Prediction: Sendable, Equatable {
  public var article: UInt32
  public var source: PredictionSource
}

/// The predictions table every stage from fill on reads and writes: one row per customer,
/// `articles` (list<u32>, best first) and `sources` (list<u8>, `PredictionSource`).
public enum PredictionsTable {
  public static func make(offsets: [UInt64], _ items: [Prediction]) -> Table {
    Table(
      [
        Column("articles", offsets: offsets, values: items.map(\.article)),
        Column("sources", offsets: offsets, values: items.map(\.source.rawValue)),
      ],
      metadata: ["sources": PredictionSource.allCases.map { "\($0.rawValue)=\($0.name)" }.joined(separator: ",")])
  }

  /// Reads the table back as offsets, articles and sources.
  public static func read(_ table: Table) throws -> (
    offsets: TypedValues<UInt64>, articles: TypedValues<UInt32>, sources: TypedValues<UInt8>
  ) {
    let articles = try table.column("articles")
    return (articles.offsetBuffer, try articles.values(UInt32.self), try table.column("sources").values(UInt8.self))
  }
}
