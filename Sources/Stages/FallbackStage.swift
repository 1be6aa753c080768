import Pipeline

/// fallback: tops every customer up to exactly `size` distinct articles. First "bought what you
/// bought": articles that other buyers of the customer's recent purchases bought, ranked by how
/// often, excluding the customer's own purchases. The seed's query had unbounded fan-out; here each
/// article looks at its `copurchase_buyers` most recent buyers and their `copurchase_recent` most
/// recent articles, and keeps its `copurchase_per_article` most co-bought. Then recent popularity:
/// the most bought articles of the last `popularity_days` of the training data (ties: all-time
/// counts), for customers with no history and anyone still short.
///
/// Inputs: `predictions` (fill's), `transactions` (training rows), `articles`. Output: `predictions`.
public struct FallbackStage: Stage {
  public static let kind = "fallback"
  public static let version = 1
  public static let inputs = [InputSlot("predictions"), InputSlot("transactions"), InputSlot("articles")]
  public static let outputs = ["predictions"]

  public struct Params: StageParams {
    public var size = 12
    public var copurchase_buyers = 100
    public var copurchase_recent = 20
    public var copurchase_per_article = 24
    public var popularity_days = 7
    public init() {}
  }

  public static func validate(_ p: Params) throws(ParamError) {
    try ParamError.check("size", p.size, in: 1...1000)
    try ParamError.check("copurchase_buyers", p.copurchase_buyers, in: 0...100_000)
    try ParamError.check("copurchase_recent", p.copurchase_recent, in: 1...10_000)
    try ParamError.check("copurchase_per_article", p.copurchase_per_article, in: 0...10_000)
    try ParamError.check("popularity_days", p.popularity_days, in: 1...100_000)
  }

  public static func run(_ p: Params, _ context: StageContext) throws {
    let articleCount = try context.manifest("articles").rows
    guard articleCount >= p.size else {
      throw StageInputError(
        stage: context.stage, slot: "articles",
        detail: "has only \(articleCount) articles, fewer than the \(p.size) distinct ones each customer needs")
    }
    let input = try PredictionsTable.read(try context.table("predictions"))
    let customers = input.offsets.count - 1
    let transactions = try context.table("transactions", columns: ["day", "customer", "article"])
    let history = try PurchaseHistory(transactions, customers: customers)
    context.progress(0.2, "histories")
    let recent = CoPurchase.recentArticles(history, limit: p.copurchase_recent)
    let coBought = CoPurchase.table(
      history, recent: recent, articles: articleCount,
      buyers: p.copurchase_buyers, perArticle: p.copurchase_per_article)
    context.progress(0.6, "co-purchases")
    let popular = try Popularity.ranking(transactions, articles: articleCount, days: p.popularity_days)
    let result: (offsets: [UInt64], items: [Prediction]) = ListBuilder.build(
      rows: customers, scratch: { CoPurchase.Scratch(articles: articleCount) }
    ) { c, scratch, chunk in
      let start = chunk.items.count
      for i in Int(input.offsets[c])..<Int(input.offsets[c + 1]) {
        chunk.items.append(Prediction(article: input.articles[i], source: PredictionSource(rawValue: input.sources[i]) ?? .rank))
      }
      // The customer's predictions so far are read by index, never through a slice: a slice alive
      // while the chunk's array grows makes every append copy the whole array.
      let has = { (items: [Prediction], a: UInt32) in (start..<items.count).contains { items[$0].article == a } }
      if chunk.items.count - start < p.size {
        let own = history.cells[history.range(of: c)]
        CoPurchase.suggest(for: recent.row(c), table: coBought, limit: p.size - (chunk.items.count - start), scratch: &scratch) { a in
          !own.contains(article: a) && !has(chunk.items, a)
        }
        for (a, _) in scratch.best { chunk.items.append(Prediction(article: a, source: .copurchase)) }
      }
      for a in popular {
        if chunk.items.count - start == p.size { break }
        if !has(chunk.items, a) { chunk.items.append(Prediction(article: a, source: .popularity)) }
      }
    }
    var bySource = [Int](repeating: 0, count: 256)  // by raw value
    for item in result.items { bySource[Int(item.source.rawValue)] += 1 }
    for source in PredictionSource.allCases { context.record("predictions.\(source.name)", Double(bySource[Int(source.rawValue)])) }
    context.record("customers_without_history", Double((0..<customers).count { history.range(of: $0).isEmpty }))
    try context.write("predictions", PredictionsTable.make(offsets: result.offsets, result.items))
  }
}
