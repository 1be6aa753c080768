import Pipeline

/// product-variants: the other colours and sizes of what a customer bought lately. For each
/// article bought in the last `days` days of training, every other article of its `product_code`
/// that the customer never bought, scored by its sales in the last `popularity_days` (plus one, so
/// an unsold variant still counts); the best `top` per customer.
///
/// Inputs: `transactions` (training rows), `customers`, `articles` (ingest's). Output:
/// `candidates` as repurchase's.
public struct ProductVariantsStage: Stage {
  public static let kind = "product-variants"
  public static let version = 1
  public static let inputs = [InputSlot("transactions"), InputSlot("customers"), InputSlot("articles")]
  public static let outputs = ["candidates"]

  public struct Params: StageParams {
    public var days = 28
    public var top = 12
    public var popularity_days = 7
    public init() {}
  }

  public static func validate(_ p: Params) throws(ParamError) {
    try ParamError.check("days", p.days, in: 1...10_000)
    try ParamError.check("top", p.top, in: 1...1000)
    try ParamError.check("popularity_days", p.popularity_days, in: 1...10_000)
  }

  public static func run(_ p: Params, _ context: StageContext) throws {
    let customers = try context.manifest("customers").rows
    let codes = Array(try context.column("articles", "product_code").values(Int32.self))
    let transactions = try context.table("transactions", columns: ["day", "customer", "article"])
    let days = try transactions.column("day").values(Int32.self)
    let window = TrainingWindow(days, days: p.days)
    let sales = try RecentSales(transactions, articles: codes.count, window: TrainingWindow(days, days: p.popularity_days))
    let variants = Variants(codes)
    let history = try PurchaseHistory(transactions, customers: customers)
    let built: (offsets: [UInt64], items: [ScoredArticle]) = ListBuilder.build(rows: customers) { c, chunk in
      let own = history.cells[history.range(of: c)]
      for cell in own where window.contains(cell.lastDay) {
        for v in variants.of(Int(cell.article)) where v != cell.article && !own.contains(article: v) {
          chunk.items.append(ScoredArticle(v, Float(sales.count[Int(v)] + 1)))
        }
      }
      chunk.deduplicateRow()
      chunk.keepBest(p.top)
    }
    CandidateFigures.record(built.offsets, into: context)
    try context.write("candidates", ArticleLists.candidates.make(built))
  }
}

/// Articles grouped by product code: `of(a)` lists every article (a included) sharing a's code,
/// ascending; an article with no code (null) is alone.
struct Variants: Sendable {
  private let order: [UInt32]
  private let start: [Int]  // article → first position of its group in `order`
  private let end: [Int]

  init(_ codes: [Int32]) {
    order = (0..<codes.count).map(UInt32.init).sorted { (codes[Int($0)], $0) < (codes[Int($1)], $1) }
    var start = [Int](repeating: 0, count: codes.count), end = [Int](repeating: 0, count: codes.count)
    var i = 0
    while i < order.count {
      var j = i + 1
      let code = codes[Int(order[i])]
      while j < order.count && code != Int32.min && codes[Int(order[j])] == code { j += 1 }
      for k in i..<j { (start[Int(order[k])], end[Int(order[k])]) = (i, j) }
      i = j
    }
    (self.start, self.end) = (start, end)
  }

  func of(_ article: Int) -> ArraySlice<UInt32> { order[start[article]..<end[article]] }
}

/// Rows per article within a window of the training data.
struct RecentSales: Sendable {
  let count: [Int]

  init(_ transactions: Table, articles: Int, window: TrainingWindow) throws {
    var count = [Int](repeating: 0, count: articles)
    let day = try transactions.column("day").values(Int32.self), article = try transactions.column("article").values(UInt32.self)
    for row in 0..<day.count where window.contains(day[row]) { count[Int(article[row])] += 1 }
    self.count = count
  }
}

extension ListBuilder.Chunk where Item == ScoredArticle {
  /// Keeps one entry per article in the current row, the best scored.
  mutating func deduplicateRow() {
    let start = items.count - currentRow.count
    items[start...].sort { ($0.article, $1.score) < ($1.article, $0.score) }
    var kept = start
    for i in start..<items.count where i == start || items[i].article != items[kept - 1].article {
      items[kept] = items[i]
      kept += 1
    }
    items.removeLast(items.count - kept)
  }
}
