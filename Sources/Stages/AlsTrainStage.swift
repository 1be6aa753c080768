import Foundation
import Pipeline

/// als-train: an implicit-feedback ALS model of who buys what (`ImplicitALS`), trained on the
/// customers and articles with enough transaction rows.
///
/// Inputs: `transactions` (training rows), `customers`, `articles` (ingest's; they set the index
/// ranges). Outputs: `users` and `items`: `customer` / `article` (u32 index) and `factors`
/// (list<f32>, `factors` long), one row per customer or article in the model.
///
/// Params: thresholds `min_customer_rows` and `min_article_rows` (default 5: customers and
/// articles with fewer transaction rows are dropped, repeatedly, until none is left to drop);
/// `weighting`: "step" (the seed's: `recent_weight` per row on or after `cutoff_date`, else
/// `older_weight`), "decay" (2^(−age / `half_life_days`), age counted back from the last training
/// day) or "count" (1 per row); a cell's confidence is `alpha` × the sum of its rows' weights;
/// `factors`, `regularization`, `iterations`, `cg_steps`, `seed`; `record_loss` records the training
/// loss after every iteration (a tenth of an iteration's time each), otherwise only the last.
public struct AlsTrainStage: Stage {
  public static let kind = "als-train"
  /// 2: fused multiply-adds, A·p as one weighted sum of G's rows and the cells' rows, and tree
  /// reductions: the same model to rounding, 2.5× faster at 64 factors (factors differ in the last
  /// bits, so the artifacts are new).
  public static let version = 2
  public static let inputs = [InputSlot("transactions"), InputSlot("customers"), InputSlot("articles")]
  public static let outputs = ["users", "items"]

  /// How a transaction row weighs in a cell's confidence.
  public enum Weighting: String, ParamChoice {
    /// `recent_weight` on or after `cutoff_date`, else `older_weight` (the seed's).
    case step
    /// 2^(−age / `half_life_days`), age counted back from the last training day.
    case decay
    /// 1 per row.
    case count
  }

  public struct Params: StageParams {
    public var factors = 100
    public var regularization = 0.01
    public var alpha = 1.0
    public var iterations = 15
    public var cg_steps = 3
    public var seed = 0
    public var min_customer_rows = 5
    public var min_article_rows = 5
    public var weighting = Weighting.step
    public var cutoff_date = "2020-03-20"
    public var recent_weight = 5.0
    public var older_weight = 1.0
    public var half_life_days = 30.0
    public var record_loss = false
    public init() {}
  }

  public static func validate(_ p: Params) throws(ParamError) {
    try ParamError.check("factors", p.factors, in: 1...1024)
    if !(p.regularization >= 0) { throw ParamError("regularization", "must be 0 or more, not \(p.regularization)") }
    if !(p.alpha > 0) { throw ParamError("alpha", "must be more than 0, not \(p.alpha)") }
    try ParamError.check("iterations", p.iterations, in: 0...1000)
    try ParamError.check("cg_steps", p.cg_steps, in: 1...100)
    if p.min_customer_rows < 0 { throw ParamError("min_customer_rows", "must be 0 or more, not \(p.min_customer_rows)") }
    if p.min_article_rows < 0 { throw ParamError("min_article_rows", "must be 0 or more, not \(p.min_article_rows)") }
    if KaggleDate.day(p.cutoff_date) == nil { throw ParamError("cutoff_date", "must be a date as YYYY-MM-DD, not \"\(p.cutoff_date)\"") }
    if !(p.half_life_days > 0) { throw ParamError("half_life_days", "must be more than 0, not \(p.half_life_days)") }
  }

  public static func run(_ p: Params, _ context: StageContext) throws {
    let customers = try context.manifest("customers").rows, articles = try context.manifest("articles").rows
    let transactions = try context.table("transactions", columns: ["day", "customer", "article"])
    let lastDay = try transactions.column("day").values(Int32.self).max() ?? 0
    let history = try PurchaseHistory(transactions, customers: customers, weight: weighting(p, lastDay: lastDay))
    let model = ALSModelData(
      history: history, articles: articles,
      minCustomerRows: p.min_customer_rows, minArticleRows: p.min_article_rows, alpha: Float(p.alpha))
    context.record("model_customers", Double(model.customers.count))
    context.record("model_articles", Double(model.articles.count))
    context.record("model_cells", Double(model.byUser.columns.count))
    context.log("\(model.customers.count) customers × \(model.articles.count) articles, \(model.byUser.columns.count) cells")
    if model.byUser.columns.isEmpty {
      // Small data: an empty model is a result, not an error. rank then ranks nobody, and fill and
      // fallback give every customer their twelve.
      context.warn(
        "the model is empty: no customer has \(p.min_customer_rows) transaction rows (min_customer_rows) "
          + "among articles with \(p.min_article_rows) (min_article_rows) in \(history.cells.count) customer-article cells; "
          + "lower the thresholds to train on this data")
      try context.write("users", FactorTable.make(idName: "customer", ids: [], FactorMatrix(rows: 0, factors: p.factors)))
      try context.write("items", FactorTable.make(idName: "article", ids: [], FactorMatrix(rows: 0, factors: p.factors)))
      return
    }

    let x = FactorMatrix.random(rows: model.customers.count, factors: p.factors, seed: UInt64(p.seed), stream: 1)
    let y = FactorMatrix.random(rows: model.articles.count, factors: p.factors, seed: UInt64(p.seed), stream: 2)
    let reg = Float(p.regularization)
    for iteration in 0..<p.iterations {
      try context.checkCancellation()
      let start = Date()
      ImplicitALS.solve(x, fixed: y, confidences: model.byUser, regularization: reg, cgSteps: p.cg_steps)
      context.record(String(format: "seconds.users%02d", iteration + 1), Date().timeIntervalSince(start))
      ImplicitALS.solve(y, fixed: x, confidences: model.byItem, regularization: reg, cgSteps: p.cg_steps)
      context.record(String(format: "seconds.iteration%02d", iteration + 1), Date().timeIntervalSince(start))
      if p.record_loss || iteration == p.iterations - 1 {
        let loss = ImplicitALS.loss(x, y, confidences: model.byUser, regularization: reg)
        context.record(String(format: "loss.iteration%02d", iteration + 1), loss)
      }
      context.progress(Double(iteration + 1) / Double(p.iterations), "iteration \(iteration + 1) of \(p.iterations)")
    }
    try context.write("users", FactorTable.make(idName: "customer", ids: model.customers, x))
    try context.write("items", FactorTable.make(idName: "article", ids: model.articles, y))
  }

  static func weighting(_ p: Params, lastDay: Int32) -> @Sendable (Int32) -> Float {
    switch p.weighting {
    case .count: return { _ in 1 }
    case .decay:
      let rate = -log(2) / p.half_life_days
      return { day in Float(exp(rate * Double(lastDay - day))) }
    case .step:
      let cutoff = KaggleDate.day(p.cutoff_date)!, recent = Float(p.recent_weight), older = Float(p.older_weight)
      return { day in day >= cutoff ? recent : older }
    }
  }
}

/// The model's rows and columns after thresholding, and its confidence matrix both ways.
struct ALSModelData {
  /// Customer and article indexes in the model, ascending (model row → index).
  let customers: [UInt32]
  let articles: [UInt32]
  let byUser: ConfidenceMatrix
  let byItem: ConfidenceMatrix

  init(history: PurchaseHistory, articles articleCount: Int, minCustomerRows: Int, minArticleRows: Int, alpha: Float) {
    let (keepCustomer, keepArticle) = Self.threshold(
      history, articles: articleCount,
      minCustomerRows: minCustomerRows, minArticleRows: minArticleRows)
    customers = (0..<history.customerCount).filter { keepCustomer[$0] }.map(UInt32.init)
    articles = (0..<articleCount).filter { keepArticle[$0] }.map(UInt32.init)
    var column = [UInt32](repeating: .max, count: articleCount)
    for (i, a) in articles.enumerated() { column[Int(a)] = UInt32(i) }
    var offsets = [0], columns: [UInt32] = [], confidence: [Float] = []
    for c in customers {
      for cell in history.cells[history.range(of: Int(c))] where keepArticle[Int(cell.article)] {
        columns.append(column[Int(cell.article)])
        confidence.append(alpha * cell.weight)
      }
      offsets.append(columns.count)
    }
    byUser = ConfidenceMatrix(offsets: offsets, columns: columns, confidence: confidence)
    byItem = byUser.transposed(columnCount: articles.count)
  }

  /// Drops customers with fewer than `minCustomerRows` transaction rows among kept articles, then
  /// articles with fewer than `minArticleRows` among kept customers, until nothing changes.
  static func threshold(_ history: PurchaseHistory, articles: Int, minCustomerRows: Int, minArticleRows: Int)
    -> (customers: [Bool], articles: [Bool])
  {
    var keepCustomer = [Bool](repeating: true, count: history.customerCount)
    var keepArticle = [Bool](repeating: true, count: articles)
    var changed = true
    while changed {
      changed = false
      var articleRows = [Int](repeating: 0, count: articles)
      for c in 0..<history.customerCount where keepCustomer[c] {
        var rows = 0
        for cell in history.cells[history.range(of: c)] where keepArticle[Int(cell.article)] { rows += Int(cell.rows) }
        if rows < minCustomerRows {
          keepCustomer[c] = false
          changed = true
          continue
        }
        for cell in history.cells[history.range(of: c)] { articleRows[Int(cell.article)] += Int(cell.rows) }
      }
      for a in 0..<articles where keepArticle[a] && articleRows[a] < minArticleRows {
        keepArticle[a] = false
        changed = true
      }
    }
    return (keepCustomer, keepArticle)
  }
}
