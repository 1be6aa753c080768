import Pipeline

/// score: every customer's candidates ranked by the trained model; the best `top` kept, best first
/// (ties: the lower article index). The features are those the features stage computes, from the
/// same inputs, filled and scored `batch` customers at a time: the rows of every customer (tens of
/// millions at full scale) are never all held, nor written. Customers without candidates, and with
/// `skip_trending_only` those whose candidates are all trending ones, get an empty list (fill and
/// fallback serve them).
///
/// Inputs: `candidates` (merge-candidates'), `transactions` (training rows), `customers`, `articles`
/// (ingest's), optional `users` and `items` (als-train's), as the features stage that trained the
/// model had; `model` (train-ranker's). Output: `ranked`, as rank's: `articles` and `scores` per
/// customer.
public struct ScoreStage: Stage {
  public static let kind = "score"
  /// 2: computes the features itself, in batches (it read them from a features table).
  public static let version = 2
  public static let inputs = [
    InputSlot("candidates"), InputSlot("transactions"), InputSlot("customers"), InputSlot("articles"),
    InputSlot("users", optional: true), InputSlot("items", optional: true), InputSlot("model"),
  ]
  public static let outputs = ["ranked"]

  public struct Params: StageParams {
    public var top = 12
    public var threads = 2
    public var batch = 16384
    public var skip_trending_only = true
    public init() {}
  }

  public static func validate(_ p: Params) throws(ParamError) {
    try ParamError.check("top", p.top, in: 1...1000)
    try ParamError.check("threads", p.threads, in: 1...256)
    try ParamError.check("batch", p.batch, in: 1...10_000_000)
  }

  public static func run(_ p: Params, _ context: StageContext) throws {
    let source = try FeatureRows(context)
    let model = try context.table("model")
    let trained = (model.metadata["features"] ?? "").split(separator: ",").map(String.init)
    guard trained == source.names else {
      throw StageInputError(
        stage: context.stage, slot: "candidates", detail: "gives features \(source.names), the model was trained on \(trained)")
    }
    let ranker = GradientBoostedRanker(model: Array(model.columns[0].values.bytes))
    var offsets: [UInt64] = [0], ranked: [ScoredArticle] = [], kept: [ScoredArticle] = []
    var scoredRows = 0
    for first in stride(from: 0, to: source.customerCount, by: p.batch) {
      let batch = first..<min(source.customerCount, first + p.batch)
      let customers = batch.filter { !p.skip_trending_only || source.hasOtherThanTrending($0) }
      let rows = customers.reduce(0) { $0 + source.candidates(of: $1).count }
      let matrix = source.matrix(customers: customers, rows: rows)
      let scores = try matrix.withUnsafeBufferPointer {
        try ranker.scores(features: $0, rows: rows, columns: source.names.count, threads: p.threads)
      }
      var row = 0, next = customers.startIndex
      for c in batch {
        if next < customers.endIndex && customers[next] == c {
          kept.removeAll(keepingCapacity: true)
          for i in source.candidates(of: c) {
            kept.append(ScoredArticle(source.items[i], scores[row]))
            row += 1
          }
          kept.sort()
          ranked += kept.prefix(p.top)
          next += 1
        }
        offsets.append(UInt64(ranked.count))
      }
      scoredRows += rows
      context.progress(Double(batch.upperBound) / Double(max(source.customerCount, 1)), "\(batch.upperBound) customers")
    }
    context.record("rows_scored", Double(scoredRows))
    context.record("customers_ranked", Double(ListBuilder.nonEmptyRows(offsets)))
    try context.write("ranked", ArticleLists.ranked.make(offsets: offsets, items: ranked.map(\.article), scores: ranked.map(\.score)))
  }
}
