import Pipeline

/// merge-candidates: every generator's candidates for a customer in one list (ascending article
/// index), each with the score every generator gave it (NaN where it did not propose it): the rows
/// the features stage and the ranker work on. With the `test` week connected, it records each
/// generator's candidate recall and the union's (the share of test purchases among a customer's
/// candidates: the ceiling of any ranking of them).
///
/// Inputs (each optional, at least one): `repurchase`, `variants`, `trending`, `trending_group` (a
/// second trending list, by another segment), `copurchase`, `neighbours` (filter's image-neighbour
/// candidates), `als` (als-candidates'); `test` (split's). Output: `candidates`:
/// `candidates` (list<u32>) and `score.<generator>` (list<f32>) per generator connected.
public struct MergeCandidatesStage: Stage {
  public static let kind = "merge-candidates"
  public static let version = 1
  public static let generators = ["repurchase", "variants", "trending", "trending_group", "copurchase", "neighbours", "als"]  // at most 8
  public static let inputs = generators.map { InputSlot($0, optional: true) } + [InputSlot("test", optional: true)]
  public static let outputs = ["candidates"]

  public struct Params: StageParams { public init() {} }

  public static func run(_ p: Params, _ context: StageContext) throws {
    let present = generators.filter(context.hasInput)
    guard !present.isEmpty else {
      throw StageInputError(
        stage: context.stage, slot: "repurchase", detail: "and every other generator are unconnected: connect at least one")
    }
    let lists = try present.map { try CandidateColumns(context, $0) }
    let customers = lists[0].rows
    if let short = lists.first(where: { $0.rows != customers }) {
      throw StageInputError(stage: context.stage, slot: short.name, detail: "has \(short.rows) customers, \(present[0]) has \(customers)")
    }
    let merged: (offsets: [UInt64], items: [Merged]) = ListBuilder.build(
      rows: customers, scratch: { [(article: UInt32, generator: Int, score: Float)]() }
    ) { c, entries, chunk in
      entries.removeAll(keepingCapacity: true)
      for (g, list) in lists.enumerated() {
        for i in list.range(c) { entries.append((list.items[i], g, list.score(at: i))) }
      }
      entries.sort { ($0.article, $0.generator) < ($1.article, $1.generator) }
      for entry in entries {
        if chunk.currentRow.last?.article != entry.article { chunk.items.append(Merged(article: entry.article)) }
        chunk.items[chunk.items.count - 1].scores[entry.generator] = entry.score
      }
    }
    var columns = [Column(ArticleLists.candidates.listColumn, offsets: merged.offsets, values: merged.items.map(\.article))]
    for (g, list) in lists.enumerated() {
      columns.append(Column("score." + list.name, offsets: merged.offsets, values: merged.items.map { $0.scores[g] }))
    }
    context.record("candidates", Double(merged.items.count))
    context.record("candidates_per_customer", Double(merged.items.count) / Double(max(customers, 1)))
    if context.hasInput("test") { try recordRecall(context, names: lists.map(\.name), merged: merged, customers: customers) }
    try context.write("candidates", Table(columns))
  }

  /// A candidate with every generator's score (NaN: not proposed by it). Eight generators at most.
  struct Merged: Sendable {
    var article: UInt32
    var scores = SIMD8<Float>(repeating: .nan)
  }

  /// `recall.<generator>` and `recall.union`: test purchases (distinct customer-article pairs)
  /// among the candidates, over all test purchases.
  static func recordRecall(_ context: StageContext, names: [String], merged: (offsets: [UInt64], items: [Merged]), customers: Int) throws {
    let truth = try PurchaseHistory(try context.table("test", columns: ["day", "customer", "article"]), customers: customers)
    var hits = [Int](repeating: 0, count: names.count), union = 0
    for c in 0..<customers {
      let row = merged.items[Int(merged.offsets[c])..<Int(merged.offsets[c + 1])]
      for cell in truth.cells[truth.range(of: c)] {
        let at = row.sortedLowerBound(cell.article, by: \.article)
        guard at < row.endIndex, row[at].article == cell.article else { continue }
        union += 1
        for g in names.indices where !row[at].scores[g].isNaN { hits[g] += 1 }
      }
    }
    let pairs = Double(max(truth.cells.count, 1))
    for (g, name) in names.enumerated() { context.record("recall." + name, Double(hits[g]) / pairs) }
    context.record("recall.union", Double(union) / pairs)
    context.record("test_pairs", Double(truth.cells.count))
  }
}

/// One generator's lists, with their scores when it gives any (filter's give none: 1 each).
struct CandidateColumns: Sendable {
  let name: String
  let offsets: TypedValues<UInt64>
  let items: TypedValues<UInt32>
  let scores: TypedValues<Float>?
  var rows: Int { offsets.count - 1 }

  init(_ context: StageContext, _ slot: String) throws {
    let table = try context.table(slot)
    let list = try table.column(ArticleLists.candidates.listColumn)
    (name, offsets, items) = (slot, list.offsetBuffer, try list.values(UInt32.self))
    scores = table.columns.contains { $0.name == "scores" } ? try table.column("scores").values(Float.self) : nil
  }

  func range(_ c: Int) -> Range<Int> { Int(offsets[c])..<Int(offsets[c + 1]) }

  /// The score of list entry `i` (1 for a generator without scores).
  func score(at i: Int) -> Float { scores?[i] ?? 1 }
}
