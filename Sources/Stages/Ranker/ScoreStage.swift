import Pipeline

/// score: every customer's candidates ranked by the trained model; the best `top` kept, best first
/// (ties: the lower article index). Customers without feature rows get an empty list (fill and
/// fallback serve them).
///
/// Inputs: `features` (features', for the weeks to predict), `model` (train-ranker's), `customers`
/// (ingest's: the row count). Output: `ranked`, as rank's: `articles` and `scores` per customer.
public struct ScoreStage: Stage {
  public static let kind = "score"
  public static let version = 1
  public static let inputs = [InputSlot("features"), InputSlot("model"), InputSlot("customers")]
  public static let outputs = ["ranked"]

  public struct Params: StageParams {
    public var top = 12
    public var threads = 2
    public init() {}
  }

  public static func validate(_ p: Params) throws(ParamError) {
    try ParamError.check("top", p.top, in: 1...1000)
    try ParamError.check("threads", p.threads, in: 1...256)
  }

  public static func run(_ p: Params, _ context: StageContext) throws {
    let customers = try context.manifest("customers").rows
    let matrix = try FeatureMatrix(try context.table("features"), slot: "features", stage: context.stage)
    let model = try context.table("model")
    let trained = (model.metadata["features"] ?? "").split(separator: ",").map(String.init)
    guard trained == matrix.names else {
      throw StageInputError(
        stage: context.stage, slot: "features", detail: "has features \(matrix.names), the model was trained on \(trained)")
    }
    let ranker = GradientBoostedRanker(model: Array(model.columns[0].values.bytes))
    let rows = matrix.rows(Array(0..<matrix.customers.count))
    let scores = try rows.withUnsafeBufferPointer {
      try ranker.scores(features: $0, rows: matrix.customers.count, columns: matrix.names.count, threads: p.threads)
    }
    var counts = [Int](repeating: 0, count: customers + 1)
    for c in matrix.customers { counts[Int(c) + 1] += 1 }
    for c in 0..<customers { counts[c + 1] += counts[c] }
    let start = counts
    let built: (offsets: [UInt64], items: [ScoredArticle]) = ListBuilder.build(rows: customers) { c, chunk in
      for i in start[c]..<start[c + 1] { chunk.items.append(ScoredArticle(matrix.articles[i], scores[i])) }
      chunk.keepBest(p.top)
    }
    context.record("customers_ranked", Double(ListBuilder.nonEmptyRows(built.offsets)))
    try context.write(
      "ranked", ArticleLists.ranked.make(offsets: built.offsets, items: built.items.map(\.article), scores: built.items.map(\.score)))
  }
}
