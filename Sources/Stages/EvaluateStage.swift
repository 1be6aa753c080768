import Pipeline

/// evaluate (validation mode): MAP@12 on the held-out week as Kaggle scores it, with what each
/// source of predictions contributes (its share of the score and its hits), the candidate recall
/// (the share of test purchases that were among the customer's candidates, the ceiling of rank and
/// fill), coverage, and the same score for two baselines computed on the same split: popularity
/// (the 12 most bought articles of the last `baseline_days` of training, for everyone) and
/// repurchase + popularity (the customer's own purchases of the last `repurchase_days`, latest
/// first, then popularity), with the pipeline's and the second baseline's ratio to popularity.
///
/// The score and the popularity baseline are also given per customer segment: by history length
/// (training rows: `history.1-4.map@12`, …) and, with `customers` connected, by age band
/// (`age.30-39.map@12`, …), each with its `customers` count, to show whom the model serves badly.
///
/// Inputs: `predictions` (fallback's), `test` and `train` (split's), `candidates` (filter's),
/// `customers` (ingest's, optional: the age bands).
/// Output: `metrics`: `metric` (string) and `value` (f64), one row per figure; the same figures go
/// into the run record. With an empty test week (submission mode) there is nothing to score: the
/// stage says so in one line and the table is empty.
public struct EvaluateStage: Stage {
  public static let kind = "evaluate"
  /// 2: an empty test week gives an empty table, not a table of zeros.
  /// 3: the repurchase + popularity baseline and the ratios to popularity.
  /// 4: the score and popularity's by history length and age band.
  public static let version = 4
  public static let inputs = [
    InputSlot("predictions"), InputSlot("test"), InputSlot("train"), InputSlot("candidates"), InputSlot("customers", optional: true),
  ]
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
    guard let (name, map) = score(figures) else {
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

  /// The score beside the baselines (with the verdict), by prediction source, and the score and
  /// popularity's by history length and age band.
  public static func charts(_ figures: [String: Double]) -> [FigureChart] {
    guard let (name, map) = score(figures) else { return [] }
    let k = name.dropFirst(4)
    var charts = [
      FigureChart(
        title: "\(name.uppercased()): this pipeline against the baselines", series: [name.uppercased()],
        groups: [
          .init("this pipeline", [map]), .init("popularity", [figures["baseline_popularity_map@\(k)"] ?? .nan]),
          .init("repurchase + popularity", [figures["baseline_repurchase_popularity_map@\(k)"] ?? .nan]),
        ], unit: .decimal(5), note: headline(figures).map { String(($0.split(separator: ":").last ?? "").drop { $0 == " " }) } ?? ""),
      FigureChart(
        title: "\(name.uppercased()) by prediction source", series: ["share of the score"],
        groups: PredictionSource.allCases.map { .init($0.name, [figures["\(name).\($0.name)"] ?? .nan]) }, unit: .decimal(5),
        note: "Hits: " + PredictionSource.allCases.map { "\($0.name) \(Int(figures["hits.\($0.name)"] ?? 0))" }.joined(separator: ", ")),
    ]
    for (segment, title) in [("history", "history length (training rows)"), ("age", "age band")] {
      let labels = figures.keys.filter { $0.hasPrefix(segment + ".") && $0.hasSuffix(".customers") }
        .map { String($0.dropFirst(segment.count + 1).dropLast(".customers".count)) }
      guard !labels.isEmpty else { continue }
      let order = segment == "history" ? CustomerSegments.historyLabels : CustomerSegments.ageLabels
      let groups: [FigureChart.Group] = order.filter(labels.contains).map { label in
        let f = { (suffix: String) in figures["\(segment).\(label).\(suffix)"] ?? .nan }
        return .init("\(label) (\(Int(f("customers"))))", [f(name), f("popularity_\(name)")])
      }
      charts.append(
        FigureChart(
          title: "\(name.uppercased()) by \(title)", series: ["this pipeline", "popularity"], groups: groups, unit: .decimal(5),
          note: "In brackets: the customers of each band with a purchase in the test week."))
    }
    return charts
  }

  public static func keyFigures(_ figures: [String: Double]) -> [(label: String, value: Double)] {
    guard let (name, map) = score(figures) else { return [] }
    let k = name.dropFirst(4)
    return [(name.uppercased(), map)]
      + [("popularity", "baseline_popularity_map@\(k)"), ("repurchase + popularity", "baseline_repurchase_popularity_map@\(k)")]
      .compactMap { label, key in figures[key].map { (label, $0) } }
  }

  /// The overall score's figure name (`map@12`) and value.
  static func score(_ figures: [String: Double]) -> (String, Double)? {
    figures.first { $0.key.hasPrefix("map@") && !$0.key.contains(".") }.map { ($0.key, $0.value) }
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
    let (trainCustomer, trainArticle, trainDay) = (
      try train.column("customer").values(UInt32.self), try train.column("article").values(UInt32.self),
      try train.column("day").values(Int32.self)
    )
    let repurchase = Evaluation.repurchaseThenPopular(
      customer: trainCustomer, article: trainArticle, day: trainDay, customers: customers, popular: baseline,
      days: p.repurchase_days, k: p.k)
    var segments = [CustomerSegments.byHistoryLength(customer: trainCustomer, customers: customers)]
    if context.hasInput("customers") {
      let ages = try context.table("customers", columns: ["age"])
      guard ages.rowCount == customers else {
        throw StageInputError(
          stage: context.stage, slot: "customers", detail: "has \(ages.rowCount) customers, the predictions \(customers)")
      }
      segments.append(CustomerSegments.byAge(try ages.column("age").values(UInt8.self)))
    }
    let metrics = try Evaluation.measure(
      predictions, truth: truth, candidates: candidates, baseline: baseline, k: p.k, repurchaseBaseline: repurchase,
      segments: segments)
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
    /// Per segment band (all segmentations' bands end to end): score, baseline, customers.
    var bandScore: [Double], bandBaseline: [Double], bandCustomers: [Int]

    init(bands: Int) {
      bandScore = Array(repeating: 0, count: bands)
      bandBaseline = bandScore
      bandCustomers = Array(repeating: 0, count: bands)
    }

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
      for b in bandScore.indices {
        bandScore[b] += o.bandScore[b]
        bandBaseline[b] += o.bandBaseline[b]
        bandCustomers[b] += o.bandCustomers[b]
      }
    }
  }

  static func measure(
    _ p: (offsets: TypedValues<UInt64>, articles: TypedValues<UInt32>, sources: TypedValues<UInt8>),
    truth: PurchaseHistory, candidates: Column, baseline: [UInt32], k: Int,
    repurchaseBaseline: (offsets: [UInt64], items: [UInt32])? = nil, segments: [CustomerSegments] = []
  ) throws -> [(String, Double)] {
    let customers = p.offsets.count - 1
    let candidateOffsets = candidates.offsetBuffer, candidateLists = try candidates.values(UInt32.self)
    let chunks = max(1, min(256, customers / 4096))
    let firstBand = segments.reduce(into: [0]) { $0.append($0.last! + $1.labels.count) }
    let tallies = Parallel.map(chunks: chunks) { chunk in
      var t = Tally(bands: firstBand.last!), bought: [UInt32] = []
      for c in Parallel.range(chunk, of: chunks, count: customers) {
        let rows = Int(p.offsets[c])..<Int(p.offsets[c + 1])
        for i in rows { t.sourcePredictions[Int(p.sources[i]) % 5] += 1 }
        let cells = truth.cells[truth.range(of: c)]
        guard !cells.isEmpty else { continue }
        bought.removeAll(keepingCapacity: true)
        for cell in cells { bought.append(cell.article) }
        t.customers += 1
        let score = AveragePrecision.score(p.articles[rows], truth: bought[...], k: k) { position, gain in
          let source = Int(p.sources[rows.lowerBound + position]) % 5
          t.sourceScore[source] += gain
          t.sourceHits[source] += 1
        }
        t.map += score
        let baselineScore = AveragePrecision.score(baseline, truth: bought[...], k: k)
        t.baseline += baselineScore
        for (s, segmentation) in segments.enumerated() {
          let b = firstBand[s] + Int(segmentation.band[c])
          t.bandScore[b] += score
          t.bandBaseline[b] += baselineScore
          t.bandCustomers[b] += 1
        }
        if let r = repurchaseBaseline {
          t.repurchase += AveragePrecision.score(r.items[Int(r.offsets[c])..<Int(r.offsets[c + 1])], truth: bought[...], k: k)
        }
        let mine = candidateLists[Int(candidateOffsets[c])..<Int(candidateOffsets[c + 1])]
        t.purchases += bought.count
        for article in bought where mine.sortedContains(article) { t.recalled += 1 }
      }
      return t
    }
    var total = Tally(bands: firstBand.last!)
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
        Double((0..<customers).count { p.offsets[$0 + 1] - p.offsets[$0] == UInt64(k) }) / Double(max(customers, 1))
      ),
      ("distinct_articles_predicted", Double(Bitset(of: p.articles).count)),
    ]
    for source in PredictionSource.allCases {
      let s = Int(source.rawValue)
      metrics.append(("map@\(k).\(source.name)", total.sourceScore[s] / n))
      metrics.append(("hits.\(source.name)", Double(total.sourceHits[s])))
      metrics.append(("predictions.\(source.name)", Double(total.sourcePredictions[s])))
    }
    for (s, segmentation) in segments.enumerated() {
      for (i, label) in segmentation.labels.enumerated() {
        let b = firstBand[s] + i, prefix = "\(segmentation.name).\(label)."
        let m = Double(max(total.bandCustomers[b], 1))
        metrics.append((prefix + "customers", Double(total.bandCustomers[b])))
        metrics.append((prefix + "map@\(k)", total.bandScore[b] / m))
        metrics.append((prefix + "popularity_map@\(k)", total.bandBaseline[b] / m))
      }
    }
    return metrics
  }

  /// Per customer: their own purchases of the last `days` of training, latest first (ties: more
  /// rows in the whole history, then the lower index), then the `popular` articles they lack, `k`
  /// in all. Only the window's rows are grouped by customer (a few percent of the history); one
  /// pass over the whole history then counts the rows of the pairs the window holds.
  static func repurchaseThenPopular(
    customer: TypedValues<UInt32>, article: TypedValues<UInt32>, day: TypedValues<Int32>, customers: Int,
    popular: [UInt32], days: Int, k: Int
  ) -> (offsets: [UInt64], items: [UInt32]) {
    let window = day.withUnsafeBufferPointer { day in
      let after = (day.max() ?? 0) - Int32(days)
      return day.indices.filter { day[$0] > after }
    }
    let recent = PurchaseHistory(
      customer: TypedValues(copying: window.map { customer[$0] }), article: TypedValues(copying: window.map { article[$0] }),
      day: TypedValues(copying: window.map { day[$0] }), customers: customers)
    let rows = rowsOfPairs(in: recent, customer: customer, article: article)
    return ListBuilder.build(rows: customers, scratch: { [(cell: PurchaseHistory.Cell, rows: UInt32)]() }) { c, own, chunk in
      own.removeAll(keepingCapacity: true)
      for i in recent.range(of: c) { own.append((recent.cells[i], rows[i])) }
      own.sort {
        ($0.cell.lastDay, $0.rows, UInt32.max - $0.cell.article) > ($1.cell.lastDay, $1.rows, UInt32.max - $1.cell.article)
      }
      for (cell, _) in own.prefix(k) { chunk.items.append(cell.article) }
      for a in popular where chunk.currentRow.count < k && !chunk.currentRow.contains(a) { chunk.items.append(a) }
    }
  }

  /// For each cell of `pairs`, how many rows of (`customer`, `article`) are its customer and
  /// article: one parallel pass; a row whose customer has cells (a bitset that stays in cache says
  /// which) has them searched by article.
  static func rowsOfPairs(in pairs: PurchaseHistory, customer: TypedValues<UInt32>, article: TypedValues<UInt32>) -> [UInt32] {
    var present = Bitset(capacity: pairs.customerCount)
    for c in 0..<pairs.customerCount where !pairs.range(of: c).isEmpty { present.insert(c) }
    let known = present
    return customer.withUnsafeBufferPointer { customer in
      article.withUnsafeBufferPointer { article in
        let columns = UnsafeTransfer((customer, article))
        return PieceCounts.count(rows: customer.count, bins: pairs.cells.count) { rows, counts in
          let (customer, article) = columns.wrapped
          for r in rows {
            let c = Int(customer[r])
            guard c < pairs.customerCount, known.contains(c) else { continue }
            let range = pairs.range(of: c)
            let at = pairs.cells[range].sortedLowerBound(article[r], by: \.article)
            if at < range.upperBound && pairs.cells[at].article == article[r] { counts[at] += 1 }
          }
        }
      }
    }
  }

  /// The headline figures as a small table for the log (the rest, per source and segment, are in
  /// the run record, `inspect` and `hmpipe report`).
  static func report(_ metrics: [(String, Double)]) -> String {
    let shown = metrics.filter { !$0.0.contains(".") }
    let width = shown.map(\.0.count).max() ?? 0
    return shown.map { name, value in
      let isCount = ["evaluated_", "test_", "distinct_"].contains { name.hasPrefix($0) }
      let text = isCount ? String(Int(value)) : String(format: "%.5f", value)
      return name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + text
    }.joined(separator: "\n")
  }
}
