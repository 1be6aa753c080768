import Pipeline

/// rank: for every customer in the ALS model, their candidates that are in the model, scored by the
/// dot product of the user's and the item's factors; the best `top` kept in rank order (ties: the
/// lower article index first). The seed kept the set but lost the order; here it is the output.
///
/// Inputs: `candidates` (filter's), `users` and `items` (als-train's). Output: `ranked`, one row per
/// customer: `articles` (list<u32>, best first) and `scores` (list<f32>). Params: `top` (default 12).
public struct RankStage: Stage {
  public static let kind = "rank"
  public static let version = 1
  public static let inputs = [InputSlot("candidates"), InputSlot("users"), InputSlot("items")]
  public static let outputs = ["ranked"]

  public struct Params: StageParams {
    public var top = 12
    public init() {}
  }

  public static func validate(_ p: Params) throws(ParamError) {
    try ParamError.check("top", p.top, in: 1...1000)
  }

  public static func run(_ p: Params, _ context: StageContext) throws {
    let candidates = try ArticleLists.candidates.lists(context, "candidates")
    let (users, userRow) = try FactorTable.read(context, "users", idName: "customer", count: candidates.rowCount)
    let articleCount = Int(try candidates.values(UInt32.self).max().map { $0 + 1 } ?? 0)
    let (items, itemRow) = try FactorTable.read(context, "items", idName: "article", count: articleCount)
    guard users.factors == items.factors else {
      throw StageInputError(stage: context.stage, slot: "items", detail: "has \(items.factors) factors, the users \(users.factors)")
    }
    let lists = try candidates.values(UInt32.self), offsets = candidates.offsetBuffer
    let ranked: (offsets: [UInt64], items: [ScoredArticle]) = ListBuilder.build(
      rows: candidates.rowCount, scratch: { ScoringScratch() }
    ) { customer, scratch, chunk in
      let u = userRow[customer]
      guard u >= 0 else { return }
      scratch.clear()
      for i in Int(offsets[customer])..<Int(offsets[customer + 1]) {
        let article = lists[i], v = Int(article) < itemRow.count ? itemRow[Int(article)] : -1
        if v >= 0 { scratch.append(article, row: v) }
      }
      scratch.score(Int(u), users, items)
      let start = chunk.items.count
      for (article, score) in zip(scratch.articles, scratch.scores) {
        chunk.items.insertKeepingBest(ScoredArticle(article, score), from: start, keeping: p.top)
      }
    }
    context.record("customers_ranked", Double(ListBuilder.nonEmptyRows(ranked.offsets)))
    context.record("ranked", Double(ranked.items.count))
    try context.write(
      "ranked",
      ArticleLists.ranked.make(
        offsets: ranked.offsets, items: ranked.items.map(\.article),
        scores: ranked.items.map(\.score)))
  }
}

/// One customer's candidates in the model (article, item row) and their scores, reused from
/// customer to customer so scoring allocates nothing per row.
struct ScoringScratch {
  var articles: [UInt32] = [], itemRows: [Int32] = [], scores: [Float] = []

  mutating func clear() {
    articles.removeAll(keepingCapacity: true)
    itemRows.removeAll(keepingCapacity: true)
  }

  mutating func append(_ article: UInt32, row: Int32) {
    articles.append(article)
    itemRows.append(row)
  }

  /// Each article's score for model user `user`, as `FactorMatrix.dot` gives it.
  mutating func score(_ user: Int, _ users: FactorMatrix, _ items: FactorMatrix) {
    if scores.count < itemRows.count { scores = [Float](repeating: 0, count: itemRows.count * 2) }
    itemRows.withUnsafeBufferPointer { rows in
      scores.withUnsafeMutableBufferPointer { users.dots(user, items, rows: rows, into: $0.baseAddress!) }
    }
  }
}
