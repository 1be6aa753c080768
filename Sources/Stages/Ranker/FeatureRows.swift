import Pipeline

/// What the ranker's rows are computed from, read once from a stage's inputs: the merged
/// candidates with every generator's score, and the facts of customers, articles and pairs from the
/// training rows. The features of any customer's candidates can then be filled in, row-major, from
/// any thread: the features stage writes them as a table, the score stage scores them a batch of
/// customers at a time without ever holding every row.
///
/// Inputs it reads: `candidates` (merge-candidates'), `transactions` (training rows), `customers`,
/// `articles` (ingest's), and optionally `users` and `items` (als-train's).
struct FeatureRows: Sendable {
  static let customerFeatures = ["c.age", "c.rows", "c.rows_4w", "c.days_since_last", "c.online_share"]
  static let articleFeatures = [
    "a.sales_1w", "a.sales_2w", "a.sales_4w", "a.trend", "a.days_since_first_sale", "a.price",
    "a.product_type_no", "a.index_group_no", "a.garment_group_no", "a.colour_group_code", "a.product_articles",
  ]
  static let pairFeatures = [
    "p.bought", "p.days_since_bought", "p.product_bought", "p.days_since_product", "p.type_share", "p.group_share",
    "p.group_sales_1w", "p.band_sales_1w", "p.als_score", "p.product_share",
  ]

  /// The feature names in row order: `score.<generator>` per generator connected, then the above.
  let names: [String]
  let customerCount: Int
  let offsets: TypedValues<UInt64>
  let items: TypedValues<UInt32>
  private let scores: [TypedValues<Float>]
  private let trending: Int?
  private let customers: CustomerFacts
  private let articles: ArticleFacts
  private let segments: [SegmentSales]
  private let als: AlsScorer?

  init(_ context: StageContext) throws {
    let merged = try context.table("candidates")
    let list = try merged.column(ArticleLists.candidates.listColumn)
    let scoreColumns = merged.columns.filter { $0.name.hasPrefix("score.") }
    let transactions = try context.table("transactions", columns: ["day", "customer", "article", "price", "channel"])
    customers = try CustomerFacts(context, transactions: transactions)
    customerCount = customers.count
    guard list.rowCount == customerCount else {
      throw StageInputError(stage: context.stage, slot: "candidates", detail: "has \(list.rowCount) rows for \(customerCount) customers")
    }
    articles = try ArticleFacts(context, transactions: transactions, last: customers.last)
    segments = try SegmentSales.bothSegments(context, transactions: transactions, customers: customerCount)
    als = try AlsScorer.ifConnected(context)
    (offsets, items) = (list.offsetBuffer, try list.values(UInt32.self))
    scores = try scoreColumns.map { try $0.values(Float.self) }
    trending = scoreColumns.firstIndex { $0.name == "score.trending" }
    names = scoreColumns.map(\.name) + Self.customerFeatures + Self.articleFeatures + Self.pairFeatures
  }

  /// Customer c's candidates, as indexes into `items`.
  func candidates(of c: Int) -> Range<Int> { Int(offsets[c])..<Int(offsets[c + 1]) }

  /// Whether a generator other than `trending` proposed one of customer c's candidates.
  func hasOtherThanTrending(_ c: Int) -> Bool {
    candidates(of: c).contains { i in scores.indices.contains { $0 != trending && !scores[$0][i].isNaN } }
  }

  /// The features of candidate `i` of customer `c` into `out[0 ..< names.count]`.
  func fill(customer c: Int, candidate i: Int, into out: UnsafeMutablePointer<Float>) {
    let a = items[i]
    var f = 0
    for score in scores {
      out[f] = score[i]
      f += 1
    }
    for feature in Self.customerFeatures.indices {
      out[f] = customers.value(feature, c)
      f += 1
    }
    for feature in Self.articleFeatures.indices {
      out[f] = articles.value(feature, Int(a))
      f += 1
    }
    PairFacts.fill(customer: c, article: a, facts: customers, segments: segments, als: als, into: out + f)
  }

  /// Every candidate row of `customers` (in that order; `rows` of them in all), row-major, filled
  /// in parallel: each worker writes the rows of its own customers.
  func matrix(customers: [Int], rows: Int) -> [Float] {
    let width = names.count
    var starts = [Int](repeating: 0, count: customers.count + 1)
    for (k, c) in customers.enumerated() { starts[k + 1] = starts[k] + candidates(of: c).count }
    precondition(starts.last == rows)
    let start = starts
    var out = [Float](repeating: .nan, count: rows * width)
    out.withUnsafeMutableBufferPointer { buffer in
      let shared = UnsafeTransfer(buffer.baseAddress!)
      Parallel.forEachRow(customers.count, rowsPerChunk: 1024) { k in
        let c = customers[k]
        for (j, i) in candidates(of: c).enumerated() { fill(customer: c, candidate: i, into: shared.wrapped + (start[k] + j) * width) }
      }
    }
    return out
  }
}
