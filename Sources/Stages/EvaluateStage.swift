import Pipeline

/// evaluate (validation mode): MAP@12 on the held-out week as Kaggle scores it, with what each
/// source of predictions contributes (its share of the score and its hits), the candidate recall
/// (the share of test purchases that were among the customer's candidates, the ceiling of rank and
/// fill), coverage, and the same score for two baselines computed on the same split: popularity
/// (the 12 most bought articles of the last `baseline_days` of training, for everyone) and
/// repurchase + popularity (the customer's own purchases of the last `repurchase_days`, latest
/// first, then popularity), with the pipeline's and the second baseline's ratio to popularity.
///
/// Inputs: `predictions` (fallback's), `test` and `train` (split's), `candidates` (filter's).
/// Output: `metrics`: `metric` (string) and `value` (f64), one row per figure; the same figures go
/// into the run record. With an empty test week (submission mode) there is nothing to score: the
/// stage says so in one line and the table is empty.
public struct EvaluateStage: Stage {
  public static let kind = "evaluate"
  /// 2: an empty test week gives an empty table, not a table of zeros.
  /// 3: the repurchase + popularity baseline and the ratios to popularity.
  public static let version = 3
  public static let inputs = [InputSlot("predictions"), InputSlot("test"), InputSlot("train"), InputSlot("candidates")]
  public static let outputs = ["metrics"]

  public struct Params: StageParams {
    public var k = 12
    public var baseline_days = 7
    public var repurchase_days = 28
    public init() {}
  }

  public static func validate(_ p: Params) throws(ParamError) {
    try ParamError.check("k", p.k, in: 1...1000)
    if p.baseline_days < 1 { throw ParamError("baseline_days", "must be 1 or more, not \(p.baseline_days)") }
    try ParamError.check("repurchase_days", p.repurchase_days, in: 1...10_000)
  }

  /// "MAP@12 0.01562 (2.09× popularity) over 72359 customers: 2.09× popularity (0.00748), 1.99×
  /// repurchase + popularity (0.00784): beats both baselines" (`runs` shows what precedes the first
  /// colon), or in submission mode, that nothing was held out.
  public static func headline(_ figures: [String: Double]) -> String? {
    guard let (name, map) = figures.first(where: { $0.key.hasPrefix("map@") && !$0.key.contains(".") }) else {
      return figures.isEmpty ? "nothing held out (submission mode): no score to show" : nil
    }
    let k = name.dropFirst(4)
    let popularity = figures["baseline_popularity_map@\(k)"] ?? 0, repurchase = figures["baseline_repurchase_popularity_map@\(k)"] ?? 0
    let times = { (baseline: Double) in baseline > 0 ? String(format: "%.2f× ", map / baseline) : "" }
    let customers = Int(figures["evaluated_customers"] ?? 0)
    let verdict =
      map > max(popularity, repurchase)
      ? "beats both baselines"
      : map > popularity ? "beats popularity, not repurchase + popularity" : "does not beat popularity"
    let lead = popularity > 0 ? String(format: " (%.2f× popularity)", map / popularity) : ""
    return String(format: "MAP@%@ %.5f", String(k), map) + lead + " over \(customers) customers: "
      + times(popularity) + String(format: "popularity (%.5f), ", popularity)
      + times(repurchase) + String(format: "repurchase + popularity (%.5f): ", repurchase) + verdict
  }

  public static func run(_ p: Params, _ context: StageContext) throws {
    let predictions = try PredictionsTable.read(try context.table("predictions"))
    let customers = predictions.offsets.count - 1
    let test = try context.table("test", columns: ["day", "customer", "article"])
    guard test.rowCount > 0 else {
      context.log("nothing is held out (the test week is empty, as in submission mode): no metrics to compute")
      try context.write("metrics", Table([Column("metric", strings: []), Column("value", [Double]())]))
      return
    }
    let truth = try PurchaseHistory(test, customers: customers)
    let train = try context.table("train", columns: ["day", "customer", "article"])
    let articles =
      Int(
        max(
          try train.column("article").values(UInt32.self).max() ?? 0,
          try test.column("article").values(UInt32.self).max() ?? 0)) + 1
    let baseline = Array(try Popularity.ranking(train, articles: articles, days: p.baseline_days).prefix(p.k))
    let candidates = try ArticleLists.candidates.lists(context, "candidates")
    let repurchase = Evaluation.repurchaseThenPopular(
      try PurchaseHistory(train, customers: customers), popular: baseline, days: p.repurchase_days, k: p.k)
    let metrics = try Evaluation.measure(
      predictions, truth: truth, candidates: candidates, baseline: baseline, k: p.k, repurchaseBaseline: repurchase)
    for (name, value) in metrics { context.record(name, value) }
    context.log(Evaluation.report(metrics))
    try context.write("metrics", Table([Column("metric", strings: metrics.map(\.0)), Column("value", metrics.map(\.1))]))
  }
}

/// The arithmetic of evaluate, apart from the stage so tests can call it.
enum Evaluation {
  struct Tally {
    var map = 0.0, baseline = 0.0, repurchase = 0.0, customers = 0, purchases = 0, recalled = 0
    var sourceScore = [Double](repeating: 0, count: 5), sourceHits = [Int](repeating: 0, count: 5)
    var sourcePredictions = [Int](repeating: 0, count: 5)

    mutating func add(_ o: Tally) {
      map += o.map
      baseline += o.baseline
      repurchase += o.repurchase
      customers += o.customers
      purchases += o.purchases
      recalled += o.recalled
      for s in 0..<5 {
        sourceScore[s] += o.sourceScore[s]
        sourceHits[s] += o.sourceHits[s]
        sourcePredictions[s] += o.sourcePredictions[s]
      }
    }
  }

  static func measure(
    _ p: (offsets: TypedValues<UInt64>, articles: TypedValues<UInt32>, sources: TypedValues<UInt8>),
    truth: PurchaseHistory, candidates: Column, baseline: [UInt32], k: Int,
    repurchaseBaseline: (offsets: [UInt64], items: [UInt32])? = nil
  ) throws -> [(String, Double)] {
    let customers = p.offsets.count - 1
    let candidateOffsets = candidates.offsetBuffer, candidateLists = try candidates.values(UInt32.self)
    let chunks = max(1, min(256, customers / 4096))
    let tallies = Parallel.map(chunks: chunks) { chunk in
      var t = Tally(), bought: [UInt32] = []
      for c in Parallel.range(chunk, of: chunks, count: customers) {
        let rows = Int(p.offsets[c])..<Int(p.offsets[c + 1])
        for i in rows { t.sourcePredictions[Int(p.sources[i]) % 5] += 1 }
        let cells = truth.cells[truth.range(of: c)]
        guard !cells.isEmpty else { continue }
        bought.removeAll(keepingCapacity: true)
        for cell in cells { bought.append(cell.article) }
        t.customers += 1
        t.map += AveragePrecision.score(p.articles[rows], truth: bought[...], k: k) { position, gain in
          let source = Int(p.sources[rows.lowerBound + position]) % 5
          t.sourceScore[source] += gain
          t.sourceHits[source] += 1
        }
        t.baseline += AveragePrecision.score(baseline, truth: bought[...], k: k)
        if let r = repurchaseBaseline {
          t.repurchase += AveragePrecision.score(r.items[Int(r.offsets[c])..<Int(r.offsets[c + 1])], truth: bought[...], k: k)
        }
        let mine = candidateLists[Int(candidateOffsets[c])..<Int(candidateOffsets[c + 1])]
        t.purchases += bought.count
        for article in bought where mine.sortedContains(article) { t.recalled += 1 }
      }
      return t
    }
    var total = Tally()
    for t in tallies { total.add(t) }
    let n = Double(max(total.customers, 1))
    var metrics: [(String, Double)] = [
      ("map@\(k)", total.map / n),
      ("baseline_popularity_map@\(k)", total.baseline / n),
    ]
    if repurchaseBaseline != nil { metrics.append(("baseline_repurchase_popularity_map@\(k)", total.repurchase / n)) }
    if total.baseline > 0 {
      metrics.append(("ratio_to_popularity", total.map / total.baseline))
      if repurchaseBaseline != nil { metrics.append(("baseline_repurchase_popularity_ratio", total.repurchase / total.baseline)) }
    }
    metrics += [
      ("evaluated_customers", Double(total.customers)),
      ("test_purchases", Double(total.purchases)),
      ("candidate_recall", Double(total.recalled) / Double(max(total.purchases, 1))),
      (
        "customers_with_\(k)",
        Double((0..<customers).filter { p.offsets[$0 + 1] - p.offsets[$0] == UInt64(k) }.count) / Double(max(customers, 1))
      ),
      ("distinct_articles_predicted", Double(Set(p.articles).count)),
    ]
    for source in PredictionSource.allCases {
      let s = Int(source.rawValue)
      metrics.append(("map@\(k).\(source.name)", total.sourceScore[s] / n))
      metrics.append(("hits.\(source.name)", Double(total.sourceHits[s])))
      metrics.append(("predictions.\(source.name)", Double(total.sourcePredictions[s])))
    }
    return metrics
  }

  /// Per customer: their own purchases of the last `days` of training, latest first (ties: more
  /// rows, then the lower index), then the `popular` articles they lack, `k` in all.
  static func repurchaseThenPopular(_ history: PurchaseHistory, popular: [UInt32], days: Int, k: Int) -> (
    offsets: [UInt64], items: [UInt32]
  ) {
    let last = history.cells.map(\.lastDay).max() ?? 0
    return ListBuilder.build(rows: history.customerCount, scratch: { [PurchaseHistory.Cell]() }) { c, own, chunk in
      own.removeAll(keepingCapacity: true)
      for cell in history.cells[history.range(of: c)] where cell.lastDay > last - Int32(days) { own.append(cell) }
      own.sort { ($0.lastDay, $0.rows, UInt32.max - $0.article) > ($1.lastDay, $1.rows, UInt32.max - $1.article) }
      for cell in own.prefix(k) { chunk.items.append(cell.article) }
      for a in popular where chunk.currentRow.count < k && !chunk.currentRow.contains(a) { chunk.items.append(a) }
    }
  }

  /// The figures as a small table for the log.
  static func report(_ metrics: [(String, Double)]) -> String {
    let width = metrics.map(\.0.count).max() ?? 0
    return metrics.map { name, value in
      let isCount = ["hits.", "predictions.", "evaluated_", "test_", "distinct_"].contains { name.hasPrefix($0) }
      let text = isCount ? String(Int(value)) : String(format: "%.5f", value)
      return name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + text
    }.joined(separator: "\n")
  }
}
