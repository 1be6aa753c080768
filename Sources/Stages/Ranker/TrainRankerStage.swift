import Pipeline

/// train-ranker: a learning-to-rank model (XGBoost, `GradientBoostedRanker`) on the features of a
/// labelled week: one group per customer, its candidates ranked against what it bought that week.
/// Only customers with at least one bought and one not-bought candidate teach the ranker anything;
/// the others are left out. Trains on `threads` threads whatever the machine (the model depends on
/// the thread count). Records each feature's total gain (`importance.<feature>`).
///
/// Inputs: `features` (features', with `label`), and optionally `features_2` … `features_4`: other
/// labelled weeks (each built only from the weeks before it), their customers learnt from as more
/// groups. Output: `model`, a file artifact (XGBoost JSON,
/// `model.json`) whose metadata names the features in order.
public struct TrainRankerStage: Stage {
  public static let kind = "train-ranker"
  public static let version = 1
  /// Optional earlier labelled weeks, learnt from together with `features`.
  public static let moreWeeks = ["features_2", "features_3", "features_4"]
  public static let inputs = [InputSlot("features")] + moreWeeks.map { InputSlot($0, optional: true) }
  public static let outputs = ["model"]

  public enum Objective: String, ParamChoice {
    case pairwise = "rank:pairwise"
    case ndcg = "rank:ndcg"
    case map = "rank:map"
  }

  public struct Params: StageParams {
    public var objective = Objective.pairwise
    public var rounds = 100
    public var learning_rate = 0.1
    public var max_depth = 6
    public var min_child_weight = 1.0
    public var subsample = 1.0
    public var column_sample = 1.0
    public var seed = 0
    public var threads = 2
    /// At most this many not-bought candidates per customer and week (0: all), a seeded sample: the
    /// bought ones are rare, and the rest cost memory and time more than they teach.
    public var negatives = 0
    public init() {}
  }

  public static func validate(_ p: Params) throws(ParamError) {
    try ParamError.check("rounds", p.rounds, in: 1...10_000)
    try ParamError.check("max_depth", p.max_depth, in: 1...32)
    try ParamError.check("threads", p.threads, in: 1...256)
    try ParamError.check("negatives", p.negatives, in: 0...1_000_000)
    if !(p.learning_rate > 0 && p.learning_rate <= 1) { throw ParamError("learning_rate", "must be in (0, 1], not \(p.learning_rate)") }
    if !(p.subsample > 0 && p.subsample <= 1) { throw ParamError("subsample", "must be in (0, 1], not \(p.subsample)") }
    if !(p.column_sample > 0 && p.column_sample <= 1) { throw ParamError("column_sample", "must be in (0, 1], not \(p.column_sample)") }
  }

  /// The features the model gained most from.
  public static func charts(_ figures: [String: Double]) -> [FigureChart] {
    let top = figures.filter { $0.key.hasPrefix("importance.") }.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(15)
    guard !top.isEmpty else { return [] }
    return [
      FigureChart(
        title: "Feature importance (total gain), top \(top.count)", series: ["gain"],
        groups: top.map { .init(String($0.key.dropFirst("importance.".count)), [$0.value]) }, unit: .decimal(1),
        note: "How much each feature's splits improved the ranking objective over all trees.")
    ]
  }

  public static func run(_ p: Params, _ context: StageContext) throws {
    var training = TrainingRows(negatives: p.negatives, seed: UInt64(p.seed))
    for slot in ["features"] + moreWeeks where context.hasInput(slot) {
      try training.add(try context.table(slot), slot: slot, stage: context.stage)
    }
    guard !training.groups.isEmpty else {
      throw StageInputError(
        stage: context.stage, slot: "features", detail: "has no customer with both a bought and a not-bought candidate to learn from")
    }
    context.record("training_customers", Double(training.groups.count))
    context.record("training_rows", Double(training.labels.count))
    var params = GradientBoostedRanker.Params()
    params.objective = p.objective.rawValue
    (params.rounds, params.learningRate, params.maxDepth) = (p.rounds, p.learning_rate, p.max_depth)
    (params.minChildWeight, params.subsample, params.columnSample) = (p.min_child_weight, p.subsample, p.column_sample)
    (params.seed, params.threads) = (p.seed, p.threads)
    let clock = ContinuousClock.now
    let model = try training.features.withUnsafeBufferPointer { features in
      try GradientBoostedRanker.train(
        features: features, rows: training.labels.count, columns: training.names.count, labels: training.labels,
        groups: training.groups, params: params
      ) { context.progress(Double($0) / Double(p.rounds), "round \($0) of \(p.rounds)") }
    }
    context.record("seconds.training", (ContinuousClock.now - clock) / .seconds(1))
    for (name, gain) in zip(training.names, try model.importance(columns: training.names.count)) {
      context.record("importance." + name, gain)
    }
    var file = Table.file(named: "model.json", bytes: model.model)
    file.metadata["features"] = training.names.joined(separator: ",")
    try context.write("model", file)
  }
}

/// The rows the ranker learns from, gathered from one or more labelled weeks: only the customers
/// with at least one bought and one not-bought candidate, row-major, one group per customer and week.
struct TrainingRows {
  /// The most not-bought rows kept per group (0: all) and the seed of their sample.
  let negatives: Int
  let seed: UInt64
  var names: [String] = []
  var features: [Float] = []
  var labels: [Float] = []
  var groups: [UInt32] = []

  init(negatives: Int = 0, seed: UInt64 = 0) {
    (self.negatives, self.seed) = (negatives, seed)
  }

  mutating func add(_ table: Table, slot: String, stage: String) throws {
    let matrix = try FeatureMatrix(table, slot: slot, stage: stage)
    if names.isEmpty {
      names = matrix.names
    } else if matrix.names != names {
      throw StageInputError(stage: stage, slot: slot, detail: "has features \(matrix.names) where 'features' has \(names)")
    }
    guard let label = table.columns.first(where: { $0.name == "label" }) else {
      throw StageInputError(stage: stage, slot: slot, detail: "has no label column: connect labels to its features stage")
    }
    let all = try label.values(Float.self)
    let kept = matrix.groups.filter { group in all[group].contains { $0 > 0 } && all[group].contains { $0 == 0 } }
    var rows: [Int] = []
    for group in kept {
      let before = rows.count
      rows += sampled(group, labels: all, matrix: matrix)
      groups.append(UInt32(rows.count - before))
    }
    features += matrix.rows(rows)
    labels += rows.map { all[$0] }
  }

  /// The group's bought rows and at most `negatives` of the others: those whose (customer, article)
  /// hash lowest under the seed, so the sample is the same whatever else changes; in row order.
  func sampled(_ group: Range<Int>, labels: TypedValues<Float>, matrix: FeatureMatrix) -> [Int] {
    let others = group.filter { labels[$0] == 0 }
    guard negatives > 0, others.count > negatives else { return Array(group) }
    let hash = { (row: Int) in CounterRandom.mix(seed ^ (UInt64(matrix.customers[row]) << 32 | UInt64(matrix.articles[row]))) }
    let chosen = Set(others.sorted { (hash($0), $0) < (hash($1), $1) }.prefix(negatives))
    return group.filter { labels[$0] > 0 || chosen.contains($0) }
  }
}

/// A features table as the ranker needs it: the feature columns (named in the table's metadata)
/// row-major, and the groups of consecutive rows of one customer.
struct FeatureMatrix {
  let names: [String]
  let customers: [UInt32]
  let articles: [UInt32]
  private let columns: [TypedValues<Float>]

  init(_ table: Table, slot: String, stage: String) throws {
    names = (table.metadata["features"] ?? "").split(separator: ",").map(String.init)
    guard !names.isEmpty else { throw StageInputError(stage: stage, slot: slot, detail: "names no features (metadata 'features')") }
    columns = try names.map { try table.column($0).values(Float.self) }
    customers = Array(try table.column("customer").values(UInt32.self))
    articles = Array(try table.column("article").values(UInt32.self))
  }

  /// Row ranges of one customer each, in order.
  var groups: [Range<Int>] {
    var out: [Range<Int>] = [], start = 0
    for i in 1...customers.count where i == customers.count || customers[i] != customers[start] {
      if i > start { out.append(start..<i) }
      start = i
    }
    return out
  }

  /// The given rows, row-major.
  func rows(_ rows: [Int]) -> [Float] {
    var out = [Float](repeating: 0, count: rows.count * names.count)
    for (r, row) in rows.enumerated() { for f in names.indices { out[r * names.count + f] = columns[f][row] } }
    return out
  }
}
