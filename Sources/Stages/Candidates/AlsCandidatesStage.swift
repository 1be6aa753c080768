import Pipeline

/// als-candidates: for each customer, the articles an ALS model (als-train's) scores highest among
/// those on the shelves now (sold in the last `article_days` days of training), scored by the dot
/// product of the two factor rows; the best `top`. Customers outside the model, or who bought
/// nothing in the last `customer_days` days (0: no limit), get none.
///
/// The scores are computed here in Float in one fixed order (16 lanes, then a fixed tree), not by
/// BLAS, whose kernels round differently on each processor: the lists are the same everywhere.
///
/// Inputs: `users`, `items` (als-train's), `transactions` (training rows), `customers` (ingest's:
/// the row count). Output: `candidates` as repurchase's.
public struct AlsCandidatesStage: Stage {
  public static let kind = "als-candidates"
  public static let version = 1
  public static let inputs = [InputSlot("users"), InputSlot("items"), InputSlot("transactions"), InputSlot("customers")]
  public static let outputs = ["candidates"]

  public struct Params: StageParams {
    public var top = 24
    public var article_days = 7
    public var customer_days = 28
    public init() {}
  }

  public static func validate(_ p: Params) throws(ParamError) {
    try ParamError.check("top", p.top, in: 1...1000)
    try ParamError.check("article_days", p.article_days, in: 1...10_000)
    try ParamError.check("customer_days", p.customer_days, in: 0...10_000)
  }

  public static func run(_ p: Params, _ context: StageContext) throws {
    let customers = try context.manifest("customers").rows
    let transactions = try context.table("transactions", columns: ["day", "customer", "article"])
    let day = try transactions.column("day").values(Int32.self)
    let customer = try transactions.column("customer").values(UInt32.self), article = try transactions.column("article").values(UInt32.self)
    let model = try AlsScorer(context)
    let (users, userRow, items, itemRow) = (model.users, model.userRow, model.items, model.itemRow)
    let shelf = TrainingWindow(day, days: p.article_days), active = TrainingWindow(day, days: max(p.customer_days, 1))
    var onShelf = Bitset(capacity: itemRow.count), isActive = Bitset(capacity: customers)
    for r in 0..<day.count {
      if shelf.contains(day[r]), Int(article[r]) < itemRow.count, itemRow[Int(article[r])] >= 0 { onShelf.insert(Int(article[r])) }
      if p.customer_days == 0 || active.contains(day[r]), Int(customer[r]) < customers { isActive.insert(Int(customer[r])) }
    }
    let pool = (0..<itemRow.count).filter { onShelf.contains($0) }
    let served = isActive
    let scorer = FactorScorer(pool: pool.map { Int(itemRow[$0]) }, of: items)
    context.record("articles_on_shelf", Double(pool.count))
    let built: (offsets: [UInt64], items: [ScoredArticle]) = ListBuilder.build(
      rows: customers, scratch: { [Float](repeating: 0, count: scorer.width) }
    ) { c, query, chunk in
      guard served.contains(c), c < userRow.count, userRow[c] >= 0 else { return }
      scorer.best(p.top, for: Int(userRow[c]), of: users, query: &query, label: { UInt32(pool[$0]) }, into: &chunk.items)
    }
    CandidateFigures.record(built.offsets, into: context)
    try context.write("candidates", ArticleLists.candidates.make(built))
  }
}

/// Dot products of a query factor row with every row of a pool, in a fixed order of Float
/// operations, and the best few: the pool is copied once into rows padded to 16 lanes.
struct FactorScorer: Sendable {
  let width: Int
  let rows: Int
  private let flat: [Float]

  init(pool: [Int], of matrix: FactorMatrix) {
    width = (matrix.factors + 15) / 16 * 16
    rows = pool.count
    var flat = [Float](repeating: 0, count: pool.count * width)
    for (i, r) in pool.enumerated() {
      for f in 0..<matrix.factors { flat[i * width + f] = matrix[r, f] }
    }
    self.flat = flat
  }

  /// The `top` best pool rows for row `row` of `matrix`, appended to `items` best first (ties to the
  /// lower pool row) as `ScoredArticle(label(poolRow), score)`. `query` is scratch of `width` Floats.
  func best(
    _ top: Int, for row: Int, of matrix: FactorMatrix, query: inout [Float], label: (Int) -> UInt32, into items: inout [ScoredArticle]
  ) {
    for f in 0..<width { query[f] = f < matrix.factors ? matrix[row, f] : 0 }
    let start = items.count
    query.withUnsafeBufferPointer { q in
      flat.withUnsafeBufferPointer { pool in
        for candidate in 0..<rows {
          let score = Self.dot(q.baseAddress!, pool.baseAddress! + candidate * width, width: width)
          items.insertKeepingBest(ScoredArticle(label(candidate), score), from: start, keeping: top)
        }
      }
    }
  }

  /// Σ aᵢbᵢ over `width` (a multiple of 16) Floats: 16 running lanes, then halves added pairwise.
  @inline(__always)
  static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, width: Int) -> Float {
    var lanes = SIMD16<Float>()
    let a = UnsafeRawPointer(a), b = UnsafeRawPointer(b)
    for offset in stride(from: 0, to: width * 4, by: 64) {
      lanes +=
        a.loadUnaligned(fromByteOffset: offset, as: SIMD16<Float>.self) * b.loadUnaligned(fromByteOffset: offset, as: SIMD16<Float>.self)
    }
    let eight = lanes.lowHalf + lanes.highHalf, four = eight.lowHalf + eight.highHalf, two = four.lowHalf + four.highHalf
    return two[0] + two[1]
  }
}
