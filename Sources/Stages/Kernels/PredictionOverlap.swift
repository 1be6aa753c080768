import Pipeline

/// How far two runs' predictions agree, customer by customer: what `hmpipe diff` says about two
/// submissions.
public struct PredictionOverlap: Sendable, Equatable {
  /// The predictions table compared (`fallback.predictions`: what submit writes out).
  public var source: String
  /// Predicted articles in common, over the longer of each customer's two lists, summed over
  /// customers.
  public var shareInCommon: Double
  /// The share of customers whose two lists are the same articles in the same order.
  public var identicalLists: Double
  public var customers: Int

  /// Compares the tables a submit stage reads in two runs (`outputs` by stage name, as run records
  /// hold them); nil when the pipeline has no submit stage or either run lacks its predictions.
  public static func ofSubmissions(
    _ spec: PipelineSpec, store: Store, a: [String: [String: ArtifactID]], b: [String: [String: ArtifactID]]
  ) throws -> PredictionOverlap? {
    for stage in spec.stages where stage.kind == SubmitStage.kind {
      guard case .output(let producer, let output) = stage.inputs["predictions"],
        let idA = a[producer]?[output], let idB = b[producer]?[output], store.contains(idA), store.contains(idB)
      else { continue }
      let tableA = try store.reader(idA).table(), tableB = try store.reader(idB).table()
      return try compare(tableA, tableB, source: "\(producer).\(output)")
    }
    return nil
  }

  /// Two predictions tables of the same customers side by side; nil when their customers differ.
  static func compare(_ a: Table, _ b: Table, source: String) throws -> PredictionOverlap? {
    let x = try PredictionsTable.read(a), y = try PredictionsTable.read(b)
    let customers = x.offsets.count - 1
    guard y.offsets.count - 1 == customers else { return nil }
    let chunks = max(1, min(64, customers / 8192))
    let parts = Parallel.map(chunks: chunks) { chunk in
      var common = 0, longer = 0, identical = 0
      for c in Parallel.range(chunk, of: chunks, count: customers) {
        let listA = x.articles[Int(x.offsets[c])..<Int(x.offsets[c + 1])]
        let listB = y.articles[Int(y.offsets[c])..<Int(y.offsets[c + 1])]
        longer += max(listA.count, listB.count)
        for article in listB where listA.contains(article) { common += 1 }
        if listA.elementsEqual(listB) { identical += 1 }
      }
      return (common, longer, identical)
    }
    let common = parts.reduce(0) { $0 + $1.0 }, longer = parts.reduce(0) { $0 + $1.1 }, identical = parts.reduce(0) { $0 + $1.2 }
    return PredictionOverlap(
      source: source, shareInCommon: longer == 0 ? 1 : Double(common) / Double(longer),
      identicalLists: customers == 0 ? 1 : Double(identical) / Double(customers), customers: customers)
  }
}
