import Pipeline

/// copurchase: "customers who bought this also bought", from the last `days` days of training only.
/// Each article's `per_article` most co-bought articles among the `recent` latest purchases of its
/// `buyers` latest buyers (the bounded table fallback also uses); a customer's candidates are the
/// co-bought articles of their own `recent` latest purchases in the window, scored by summed
/// co-counts, excluding what they bought; the best `top` per customer.
///
/// Inputs: `transactions` (training rows), `customers`, `articles` (ingest's). Output:
/// `candidates` as repurchase's.
public struct CoPurchaseStage: Stage {
  public static let kind = "copurchase"
  public static let version = 1
  public static let inputs = [InputSlot("transactions"), InputSlot("customers"), InputSlot("articles")]
  public static let outputs = ["candidates"]

  public struct Params: StageParams {
    public var days = 28
    public var top = 12
    public var recent = 20
    public var buyers = 100
    public var per_article = 24
    public init() {}
  }

  public static func validate(_ p: Params) throws(ParamError) {
    try ParamError.check("days", p.days, in: 1...10_000)
    try ParamError.check("top", p.top, in: 1...1000)
    try ParamError.check("recent", p.recent, in: 1...10_000)
    try ParamError.check("buyers", p.buyers, in: 1...100_000)
    try ParamError.check("per_article", p.per_article, in: 1...10_000)
  }

  public static func run(_ p: Params, _ context: StageContext) throws {
    let customers = try context.manifest("customers").rows, articles = try context.manifest("articles").rows
    let all = try context.table("transactions", columns: ["day", "customer", "article"])
    let day = try all.column("day").values(Int32.self)
    let window = TrainingWindow(day, days: p.days)
    let transactions = all.filter { window.contains(day[$0]) }
    let history = try PurchaseHistory(transactions, customers: customers)
    let everBought = try PurchaseHistory(all, customers: customers)
    let recent = CoPurchase.recentArticles(history, limit: p.recent)
    let table = CoPurchase.table(history, recent: recent, articles: articles, buyers: p.buyers, perArticle: p.per_article)
    context.progress(0.7, "co-purchases")
    let built: (offsets: [UInt64], items: [ScoredArticle]) = ListBuilder.build(
      rows: customers, scratch: { CoPurchase.Scratch(articles: articles) }
    ) { c, scratch, chunk in
      let own = everBought.cells[everBought.range(of: c)]
      CoPurchase.suggest(for: recent.row(c), table: table, limit: p.top, scratch: &scratch) { !own.contains(article: $0) }
      for (a, count) in scratch.best { chunk.items.append(ScoredArticle(a, Float(count))) }
    }
    CandidateFigures.record(built.offsets, into: context)
    try context.write("candidates", ArticleLists.candidates.make(built))
  }
}
