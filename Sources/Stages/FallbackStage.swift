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
      if chunk.items.count - start < p.size {
        let own = history.cells[history.range(of: c)], present = chunk.items[start...]
        CoPurchase.suggest(for: recent.row(c), table: coBought, limit: p.size - present.count, scratch: &scratch) { a in
          !own.contains(article: a) && !present.contains { $0.article == a }
        }
        for (a, _) in scratch.best { chunk.items.append(Prediction(article: a, source: .copurchase)) }
      }
      for a in popular {
        if chunk.items.count - start == p.size { break }
        if !chunk.items[start...].contains(where: { $0.article == a }) { chunk.items.append(Prediction(article: a, source: .popularity)) }
      }
    }
    for source in PredictionSource.allCases {
      context.record("predictions.\(source.name)", Double(result.items.filter { $0.source == source }.count))
    }
    context.record("customers_without_history", Double((0..<customers).filter { history.range(of: $0).isEmpty }.count))
    try context.write("predictions", PredictionsTable.make(offsets: result.offsets, result.items))
  }
}

/// Bounded "customers who bought this also bought".
enum CoPurchase {
  /// Rows of lists (CSR): articles, or (article, count) pairs.
  struct Lists<Item: Sendable>: Sendable {
    let offsets: [UInt64]
    let items: [Item]
    func row(_ r: Int) -> ArraySlice<Item> { items[Int(offsets[r])..<Int(offsets[r + 1])] }
  }
  typealias Entry = (key: UInt32, count: UInt32)

  struct Scratch {
    var counter: SparseCounter
    var best: [Entry] = []
    var order: [(day: Int32, key: UInt32)] = []
    init(articles: Int) { counter = SparseCounter(keys: articles) }
  }

  /// Each customer's `limit` most recently bought distinct articles (latest first; ties: lower index).
  static func recentArticles(_ history: PurchaseHistory, limit: Int) -> Lists<UInt32> {
    let (offsets, items) = ListBuilder.build(rows: history.customerCount, scratch: { [(day: Int32, key: UInt32)]() }) { c, order, chunk in
      order.removeAll(keepingCapacity: true)
      for cell in history.cells[history.range(of: c)] { order.append((cell.lastDay, cell.article)) }
      order.sort { $0.day > $1.day || ($0.day == $1.day && $0.key < $1.key) }
      for (_, a) in order.prefix(limit) { chunk.items.append(a) }
    }
    return Lists(offsets: offsets, items: items)
  }

  /// For each article, the `perArticle` articles most often in the recent lists of its `buyers`
  /// most recent buyers, with those counts, best first.
  static func table(_ history: PurchaseHistory, recent: Lists<UInt32>, articles: Int, buyers: Int, perArticle: Int) -> Lists<Entry> {
    let byArticle = history.byArticle(articles: articles)
    let (offsets, items) = ListBuilder.build(rows: articles, rowsPerChunk: 256, scratch: { Scratch(articles: articles) }) { a, s, chunk in
      s.order.removeAll(keepingCapacity: true)
      for i in byArticle.offsets[a]..<byArticle.offsets[a + 1] {
        s.order.append((history.cells[Int(byArticle.cells[i])].lastDay, byArticle.customers[i]))
      }
      s.order.sort { $0.day > $1.day || ($0.day == $1.day && $0.key < $1.key) }
      for (_, buyer) in s.order.prefix(buyers) {
        for other in recent.row(Int(buyer)) where other != UInt32(a) { s.counter.add(other) }
      }
      s.counter.top(perArticle, into: &s.best)
      chunk.items += s.best
      s.counter.reset()
    }
    return Lists(offsets: offsets, items: items)
  }

  /// Fills `scratch.best` with the `limit` articles passing `keep` that are co-bought most often
  /// with the `recent` ones (counts summed over them).
  static func suggest(
    for recent: ArraySlice<UInt32>, table: Lists<Entry>, limit: Int, scratch s: inout Scratch, keep: (UInt32) -> Bool
  ) {
    for a in recent {
      for (other, count) in table.row(Int(a)) { s.counter.add(other, count) }
    }
    s.counter.top(limit, into: &s.best, where: keep)
    s.counter.reset()
  }
}
