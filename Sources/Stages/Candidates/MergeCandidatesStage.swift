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
  public static let generators = ["repurchase", "variants", "trending", "trending_group", "copurchase", "neighbours", "als"]
  public static let inputs = generators.map { InputSlot($0, optional: true) } + [InputSlot("test", optional: true)]
  public static let outputs = ["candidates"]

  public struct Params: StageParams { public init() {} }

  /// Each generator's candidate recall beside the union's, when the test week was connected.
  public static func charts(_ figures: [String: Double]) -> [FigureChart] {
    let present = (generators + ["union"]).filter { figures["recall." + $0] != nil }
    guard !present.isEmpty else { return [] }
    let perCustomer = figures["candidates_per_customer"].map { String(format: "%.1f", $0) } ?? "?"
    return [
      FigureChart(
        title: "Candidate recall by generator", series: ["recall"], groups: present.map { .init($0, [figures["recall." + $0]!]) },
        unit: .share,
        note:
          "The share of the test week's purchases among each generator's candidates; union: all of them (\(perCustomer) per customer), the ceiling of any ranking."
      )
    ]
  }

  public static func keyFigures(_ figures: [String: Double]) -> [(label: String, value: Double)] {
    figures["recall.union"].map { [("candidate recall", $0)] } ?? []
  }

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
    let merged = MergedLists(lists, customers: customers)
    defer { merged.deallocate() }
    context.record("candidates", Double(merged.count))
    context.record("candidates_per_customer", Double(merged.count) / Double(max(customers, 1)))
    if context.hasInput("test") { try recordRecall(context, names: lists.map(\.name), merged: merged) }
    // One column at a time: the output is written while only the merged buffers are held.
    let writer = try context.outputWriter("candidates")
    try writer.append(Column(ArticleLists.candidates.listColumn, offsets: merged.offsets, values: UnsafeBufferPointer(merged.articles)))
    for (g, list) in lists.enumerated() {
      try writer.append(Column("score." + list.name, offsets: merged.offsets, values: UnsafeBufferPointer(merged.scores[g])))
    }
    try writer.finish()
  }

  /// `recall.<generator>` and `recall.union`: test purchases (distinct customer-article pairs)
  /// among the candidates, over all test purchases.
  static func recordRecall(_ context: StageContext, names: [String], merged: MergedLists) throws {
    let truth = try PurchaseHistory(try context.table("test", columns: ["day", "customer", "article"]), customers: merged.customers)
    var hits = [Int](repeating: 0, count: names.count), union = 0
    for c in 0..<merged.customers {
      let row = Int(merged.offsets[c])..<Int(merged.offsets[c + 1])
      let articles = merged.articles[row]
      for cell in truth.cells[truth.range(of: c)] {
        let at = articles.sortedLowerBound(cell.article, by: \.self)
        guard at < articles.endIndex, articles[at] == cell.article else { continue }
        union += 1
        for g in names.indices where !merged.scores[g][at].isNaN { hits[g] += 1 }
      }
    }
    let pairs = Double(max(truth.cells.count, 1))
    for (g, name) in names.enumerated() { context.record("recall." + name, Double(hits[g]) / pairs) }
    context.record("recall.union", Double(union) / pairs)
    context.record("test_pairs", Double(truth.cells.count))
  }
}

/// The union of the generators' lists per customer, ascending, with each generator's score (NaN
/// where it did not propose the article), built in place: a first parallel pass counts each
/// customer's union, a second writes it at its final offset. So the memory is the output's and
/// nothing more (a list of structs then concatenated took four times as much at full scale).
struct MergedLists {
  let customers: Int
  let offsets: [UInt64]
  let articles: UnsafeMutableBufferPointer<UInt32>
  let scores: [UnsafeMutableBufferPointer<Float>]
  var count: Int { articles.count }

  init(_ lists: [CandidateColumns], customers: Int) {
    self.customers = customers
    let chunks = max(1, min(256, customers / 4096))
    let sizes = Parallel.map(chunks: chunks) { chunk in
      var union: [UInt32] = []
      return Parallel.range(chunk, of: chunks, count: customers).map { c in
        Self.union(lists, c, into: &union)
        return UInt64(union.count)
      }
    }.flatMap { $0 }
    var offsets = [UInt64](repeating: 0, count: customers + 1)
    for c in 0..<customers { offsets[c + 1] = offsets[c] + sizes[c] }
    let total = Int(offsets[customers])
    articles = .allocate(capacity: total)
    scores = lists.map { _ in
      let column = UnsafeMutableBufferPointer<Float>.allocate(capacity: total)
      column.initialize(repeating: .nan)
      return column
    }
    let shared = UnsafeTransfer((articles, scores)), starts = offsets
    Parallel.forEach(chunks: chunks) { chunk in
      let (articles, scores) = shared.wrapped
      var union: [UInt32] = []
      for c in Parallel.range(chunk, of: chunks, count: customers) {
        Self.union(lists, c, into: &union)
        let start = Int(starts[c])
        for (k, article) in union.enumerated() { articles[start + k] = article }
        let mine = UnsafeBufferPointer(rebasing: articles[start..<(start + union.count)])
        for (g, list) in lists.enumerated() {
          for i in list.range(c) { scores[g][start + mine.sortedLowerBound(list.items[i], by: \.self)] = list.score(at: i) }
        }
      }
    }
    self.offsets = offsets
  }

  /// Customer c's articles from every list, ascending, each once.
  static func union(_ lists: [CandidateColumns], _ c: Int, into union: inout [UInt32]) {
    union.removeAll(keepingCapacity: true)
    for list in lists { for i in list.range(c) { union.append(list.items[i]) } }
    union.sort()
    var kept = 0
    for i in union.indices where kept == 0 || union[kept - 1] != union[i] {
      union[kept] = union[i]
      kept += 1
    }
    union.removeLast(union.count - kept)
  }

  func deallocate() {
    articles.deallocate()
    for column in scores { column.deallocate() }
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
