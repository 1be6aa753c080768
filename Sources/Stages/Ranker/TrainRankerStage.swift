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
    public init() {}
  }

  public static func validate(_ p: Params) throws(ParamError) {
    try ParamError.check("rounds", p.rounds, in: 1...10_000)
    try ParamError.check("max_depth", p.max_depth, in: 1...32)
    try ParamError.check("threads", p.threads, in: 1...256)
    if !(p.learning_rate > 0 && p.learning_rate <= 1) { throw ParamError("learning_rate", "must be in (0, 1], not \(p.learning_rate)") }
    if !(p.subsample > 0 && p.subsample <= 1) { throw ParamError("subsample", "must be in (0, 1], not \(p.subsample)") }
    if !(p.column_sample > 0 && p.column_sample <= 1) { throw ParamError("column_sample", "must be in (0, 1], not \(p.column_sample)") }
  }

  public static func run(_ p: Params, _ context: StageContext) throws {
    var training = TrainingRows()
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
    let model = try training.features.withUnsafeBufferPointer { features in
      try GradientBoostedRanker.train(
        features: features, rows: training.labels.count, columns: training.names.count, labels: training.labels,
        groups: training.groups, params: params
      ) { context.progress(Double($0) / Double(p.rounds), "round \($0) of \(p.rounds)") }
    }
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
  var names: [String] = []
  var features: [Float] = []
  var labels: [Float] = []
  var groups: [UInt32] = []

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
    let rows = kept.flatMap { Array($0) }
    features += matrix.rows(rows)
    labels += rows.map { all[$0] }
    groups += kept.map { UInt32($0.count) }
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
