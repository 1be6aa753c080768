import Pipeline

/// features: one row per (customer, candidate) pair of merge-candidates' lists, with what the
/// ranker learns from, all from the training rows only (so a label week never leaks into them):
///
/// - every generator's score (`score.<generator>`, NaN where it did not propose the article);
/// - customer: `c.age`, `c.rows` (all training rows), `c.rows_4w`, `c.days_since_last`,
///   `c.online_share` (channel 2; NaN without channels);
/// - article: `a.sales_1w`, `a.sales_2w`, `a.sales_4w`, `a.trend` ((1w + 1) / (4w / 4 + 1)),
///   `a.days_since_first_sale`, `a.price` (mean over the last 4 weeks), and its codes
///   `a.product_type_no`, `a.index_group_no`, `a.garment_group_no`, `a.colour_group_code`,
///   `a.product_articles` (articles of its product code: its colours);
/// - pair: `p.bought` (rows of this article by this customer), `p.days_since_bought`,
///   `p.product_bought` (rows of its product code), `p.days_since_product` (NaN when never),
///   `p.type_share` and `p.group_share` (the share of the customer's rows in the article's product
///   type and index group: their taste), `p.group_sales_1w` and `p.band_sales_1w` (its sales in the
///   last week among customers of the same home index group, of the same age band), `p.als_score`
///   (the ALS model's, with `users` and `items` connected; NaN otherwise or outside the model),
///   `p.product_share` (`p.product_bought` over the customer's rows).
///
/// With `labels` (a later week's transactions) connected, `label` is 1 where the customer bought the
/// article that week, and only the customers who bought that week are kept (`labelled_only`).
/// Customers whose only candidates are trending ones are left out when
/// `skip_trending_only` (their order is the trending order already; fill and fallback serve them).
///
/// Inputs: `candidates` (merge-candidates'), `transactions` (training rows), `customers`,
/// `articles` (ingest's), optional `labels`, `users` and `items` (als-train's). Output: `features`: `customer`, `article` (u32),
/// one f32 column per feature, `label` (f32) with labels; metadata `features` names them in order.
public struct FeaturesStage: Stage {
  public static let kind = "features"
  /// 2: taste features (`p.type_share`, `p.group_share`).
  /// 3: `labelled_only`; sales among the customer's segments, the ALS score.
  /// 4: `a.product_articles`, `p.product_share`.
  public static let version = 4
  public static let inputs = [
    InputSlot("candidates"), InputSlot("transactions"), InputSlot("customers"), InputSlot("articles"),
    InputSlot("labels", optional: true), InputSlot("users", optional: true), InputSlot("items", optional: true),
  ]
  public static let outputs = ["features"]

  public struct Params: StageParams {
    public var skip_trending_only = true
    /// With labels: only the customers who bought in the labelled week (a ranker learns nothing from
    /// a customer without a purchase to rank first, and they are most of the rows).
    public var labelled_only = true
    public init() {}
  }

  public static func run(_ p: Params, _ context: StageContext) throws {
    let source = try FeatureRows(context)
    context.progress(0.3, "customer, article and pair facts")
    let truth =
      context.hasInput("labels")
      ? try PurchaseHistory(try context.table("labels", columns: ["day", "customer", "article"]), customers: source.customerCount) : nil
    let kept = (0..<source.customerCount).filter { c in
      if p.labelled_only, let truth, truth.range(of: c).isEmpty { return false }
      return !p.skip_trending_only || source.hasOtherThanTrending(c)
    }
    var rowCustomer: [UInt32] = [], rowCandidate: [Int] = []
    for c in kept {
      for i in source.candidates(of: c) {
        rowCustomer.append(UInt32(c))
        rowCandidate.append(i)
      }
    }
    let matrix = source.matrix(customers: kept, rows: rowCustomer.count)
    let writer = try context.outputWriter("features")
    try writer.append(Column("customer", rowCustomer))
    try writer.append(Column("article", rowCandidate.map { source.items[$0] }))
    let width = source.names.count
    for (f, name) in source.names.enumerated() {
      try writer.append(Column(name, (0..<rowCustomer.count).map { matrix[$0 * width + f] }))
    }
    if let truth {
      let labels: [Float] = zip(rowCustomer, rowCandidate).map { c, i in
        truth.cells[truth.range(of: Int(c))].contains(article: source.items[i]) ? 1 : 0
      }
      context.record("positives", Double(labels.filter { $0 > 0 }.count))
      try writer.append(Column("label", labels))
    }
    context.record("pairs", Double(rowCustomer.count))
    context.record("customers", Double(kept.count))
    try writer.finish(metadata: ["features": source.names.joined(separator: ",")])
  }
}

/// What the features stage knows of each customer, from the training rows.
struct CustomerFacts: Sendable {
  static let rowsFeature = FeatureRows.customerFeatures.firstIndex(of: "c.rows")!
  let count: Int
  let last: Int32
  let history: PurchaseHistory
  /// The histories by product code, product type and index group.
  let products: GroupedHistory
  let types: GroupedHistory
  let groups: GroupedHistory
  private let values: [[Float]]

  init(_ context: StageContext, transactions: Table) throws {
    let customerTable = try context.table("customers", columns: ["age"])
    count = customerTable.rowCount
    let day = try transactions.column("day").values(Int32.self), customer = try transactions.column("customer").values(UInt32.self)
    let channel = try transactions.column("channel").values(UInt8.self)
    last = day.max() ?? 0
    history = try PurchaseHistory(transactions, customers: count)
    let catalogue = try context.table("articles", columns: ["product_code", "product_type_no", "index_group_no"])
    let customers = count
    let group = { (name: String) in
      try GroupedHistory(codes: catalogue.column(name).values(Int32.self), transactions: transactions, customers: customers)
    }
    (products, types, groups) = (try group("product_code"), try group("product_type_no"), try group("index_group_no"))
    var rows = [Float](repeating: 0, count: count), recent = rows, online = rows, channels = rows
    var lastDay = [Float](repeating: .nan, count: count)
    for r in 0..<day.count {
      let c = Int(customer[r])
      rows[c] += 1
      if day[r] > last - 28 { recent[c] += 1 }
      if channel[r] != TransactionColumns.noChannel {
        channels[c] += 1
        if channel[r] == 2 { online[c] += 1 }
      }
      lastDay[c] = lastDay[c].isNaN ? Float(day[r]) : max(lastDay[c], Float(day[r]))
    }
    let ages = try customerTable.column("age").values(UInt8.self)
    let last = Float(last)
    values = [
      ages.map { $0 == 255 ? .nan : Float($0) }, rows, recent, lastDay.map { last - $0 },
      zip(online, channels).map { $1 > 0 ? $0 / $1 : .nan },
    ]
  }

  func value(_ feature: Int, _ customer: Int) -> Float { values[feature][customer] }
}

/// What the features stage knows of each article, from the training rows and the catalogue.
struct ArticleFacts: Sendable {
  private let values: [[Float]]

  init(_ context: StageContext, transactions: Table, last: Int32) throws {
    let catalogue = try context.table(
      "articles", columns: ["product_code", "product_type_no", "index_group_no", "garment_group_no", "colour_group_code"])
    let count = catalogue.rowCount
    let day = try transactions.column("day").values(Int32.self), article = try transactions.column("article").values(UInt32.self)
    let price = try transactions.column("price").values(Float.self)
    var week = [Float](repeating: 0, count: count), twoWeeks = week, fourWeeks = week, priceSum = week
    var firstSale = [Float](repeating: .nan, count: count)
    for r in 0..<day.count {
      let a = Int(article[r]), age = last - day[r]
      if age < 7 { week[a] += 1 }
      if age < 14 { twoWeeks[a] += 1 }
      if age < 28 {
        fourWeeks[a] += 1
        priceSum[a] += price[r]
      }
      firstSale[a] = firstSale[a].isNaN ? Float(day[r]) : min(firstSale[a], Float(day[r]))
    }
    let code = { (name: String) in try catalogue.column(name).values(Int32.self).map { $0 == Int32.min ? Float.nan : Float($0) } }
    let products = try catalogue.column("product_code").values(Int32.self)
    var productSize: [Int32: Float] = [:]
    for product in products { productSize[product, default: 0] += 1 }
    values = [
      week, twoWeeks, fourWeeks, zip(week, fourWeeks).map { ($0 + 1) / ($1 / 4 + 1) }, firstSale.map { Float(last) - $0 },
      zip(priceSum, fourWeeks).map { $1 > 0 ? $0 / $1 : .nan },
      try code("product_type_no"), try code("index_group_no"), try code("garment_group_no"), try code("colour_group_code"),
      products.map { productSize[$0]! },
    ]
  }

  func value(_ feature: Int, _ article: Int) -> Float { values[feature][article] }
}

/// The pair features of one row: how often and how lately the customer bought the article and its
/// product, their taste for its type and group, its sales among customers like them, its ALS score.
enum PairFacts {
  static func fill(
    customer c: Int, article a: UInt32, facts: CustomerFacts, segments: [SegmentSales], als: AlsScorer?,
    into out: UnsafeMutablePointer<Float>
  ) {
    let last = facts.last
    let own = facts.history.cells[facts.history.range(of: c)]
    let cell = own.sortedLowerBound(a, by: \.article)
    let boughtIt = cell < own.endIndex && own[cell].article == a
    out[0] = boughtIt ? Float(own[cell].rows) : 0
    out[1] = boughtIt ? Float(last - own[cell].lastDay) : .nan
    let product = facts.products.cell(c, of: a)
    out[2] = Float(product?.rows ?? 0)
    out[3] = product.map { Float(last - $0.lastDay) } ?? .nan
    let rows = facts.value(CustomerFacts.rowsFeature, c)
    out[4] = rows > 0 ? Float(facts.types.cell(c, of: a)?.rows ?? 0) / rows : .nan
    out[5] = rows > 0 ? Float(facts.groups.cell(c, of: a)?.rows ?? 0) / rows : .nan
    out[6] = segments[0].sales(c, a)
    out[7] = segments[1].sales(c, a)
    out[8] = als?.score(c, a) ?? .nan
    out[9] = rows > 0 ? out[2] / rows : .nan
  }
}

/// An article's sales in the last `days` of training among the customers of one segment (their
/// home index group, or their age band), read for a customer's own segment: what people like them
/// buy now. NaN for a customer outside every segment.
struct SegmentSales: Sendable {
  let segmentOf: [Int]
  let articles: Int
  private let counts: [Float]

  init(segmentOf: [Int], segments: Int, transactions: Table, articles: Int, days: Int) throws {
    let day = try transactions.column("day").values(Int32.self), customer = try transactions.column("customer").values(UInt32.self)
    let article = try transactions.column("article").values(UInt32.self)
    let window = TrainingWindow(day, days: days)
    var counts = [Float](repeating: 0, count: segments * articles)
    for r in 0..<day.count where window.contains(day[r]) && Int(customer[r]) < segmentOf.count && Int(article[r]) < articles {
      let s = segmentOf[Int(customer[r])]
      if s < segments { counts[s * articles + Int(article[r])] += 1 }
    }
    (self.segmentOf, self.articles, self.counts) = (segmentOf, articles, counts)
  }

  func sales(_ customer: Int, _ article: UInt32) -> Float {
    let s = segmentOf[customer]
    return s * articles < counts.count && Int(article) < articles ? counts[s * articles + Int(article)] : .nan
  }

  /// By home index group and by age band, over the last week.
  static func bothSegments(_ context: StageContext, transactions: Table, customers: Int) throws -> [SegmentSales] {
    let articles = try context.manifest("articles").rows
    let customer = try transactions.column("customer").values(UInt32.self), article = try transactions.column("article").values(UInt32.self)
    let (home, groups) = try TrendingStage.homeGroups(context, customer: customer, article: article, customers: customers)
    let bands = try context.column("customers", "age").values(UInt8.self).map(TrendingStage.band)
    return [
      try SegmentSales(segmentOf: home, segments: groups, transactions: transactions, articles: articles, days: 7),
      try SegmentSales(segmentOf: bands, segments: TrendingStage.bands, transactions: transactions, articles: articles, days: 7),
    ]
  }
}

/// Each customer's purchases by a grouping of the articles (product code, type, index group): the
/// history of the group ids instead of the articles. A null code is a group of its own.
struct GroupedHistory: Sendable {
  let groupOf: [UInt32]
  let history: PurchaseHistory

  init(codes: TypedValues<Int32>, transactions: Table, customers: Int) throws {
    var dense: [Int32: UInt32] = [:]
    let groupOf = codes.map { code in
      if let id = dense[code] { return id }
      dense[code] = UInt32(dense.count)
      return UInt32(dense.count - 1)
    }
    self.groupOf = groupOf
    let article = try transactions.column("article").values(UInt32.self)
    let mapped = Column("group", (0..<article.count).map { groupOf[Int(article[$0])] })
    history = PurchaseHistory(
      customer: try transactions.column("customer").values(UInt32.self), article: try mapped.values(UInt32.self),
      day: try transactions.column("day").values(Int32.self), customers: customers)
  }

  /// Customer c's cell of the group of `article`, nil when they bought none of it.
  func cell(_ c: Int, of article: UInt32) -> PurchaseHistory.Cell? {
    let group = groupOf[Int(article)], cells = history.cells[history.range(of: c)]
    let at = cells.sortedLowerBound(group, by: \.article)
    return at < cells.endIndex && cells[at].article == group ? cells[at] : nil
  }
}
