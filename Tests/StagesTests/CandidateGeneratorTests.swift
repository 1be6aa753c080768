import Foundation
import Pipeline
import Testing

@testable import Stages

/// The candidate generators on synthetic data, each held against a naive recomputation from the
/// same tables: plain loops and dictionaries over the transaction rows.
@Suite(.serialized) struct CandidateGeneratorTests {
  /// synth → ingest → split → the four generators; the tables a test needs.
  final class Run: @unchecked Sendable {
    let dir = TemporaryDirectory()
    var record: RunRecord!
    var store: Store!

    func table(_ stage: String, _ output: String) throws -> Table {
      try store.reader(record.stages.first { $0.name == stage }!.outputs[output]!).table()
    }

    /// Customer c's list and scores from a generator's output.
    func lists(_ stage: String) throws -> [[ScoredArticle]] {
      let t = try table(stage, "candidates")
      let column = try t.column("candidates"), items = try column.values(UInt32.self), scores = try t.column("scores").values(Float.self)
      return (0..<t.rowCount).map { c in column.range(of: c).map { ScoredArticle(items[$0], scores[$0]) } }
    }
  }

  /// The one run the tests share, made by the first that asks (the suite is serialized).
  actor Shared {
    private var run: Run?

    func get() async throws -> Run {
      if let run { return run }
      let run = Run()
      run.dir.write(
        "p.json",
        """
        {"store": "store", "stages": [
          {"name": "data", "kind": "synth", "params": {"scale": 0.003, "seed": 11, "embedding_dims": 8}},
          {"name": "ingest", "kind": "ingest", "inputs": {"articles": "data.articles", "customers": "data.customers", "transactions": "data.transactions"}},
          {"name": "split", "kind": "split", "inputs": {"transactions": "ingest.transactions"}},
          {"name": "repurchase", "kind": "repurchase", "params": {"days": 28, "top": 6}, "inputs": {"transactions": "split.train", "customers": "ingest.customers"}},
          {"name": "variants", "kind": "product-variants", "params": {"days": 28, "top": 6}, "inputs": {"transactions": "split.train", "customers": "ingest.customers", "articles": "ingest.articles"}},
          {"name": "trending", "kind": "trending", "params": {"days": 7, "top": 12}, "inputs": {"transactions": "split.train", "customers": "ingest.customers"}},
          {"name": "copurchase", "kind": "copurchase", "params": {"days": 28, "top": 12}, "inputs": {"transactions": "split.train", "customers": "ingest.customers", "articles": "ingest.articles"}},
          {"name": "trending-group", "kind": "trending", "params": {"days": 7, "top": 12, "segment": "index_group"}, "inputs": {"transactions": "split.train", "customers": "ingest.customers", "articles": "ingest.articles"}},
          {"name": "als", "kind": "als-train", "params": {"factors": 20, "iterations": 3, "min_customer_rows": 2, "min_article_rows": 2}, "inputs": {"transactions": "split.train", "customers": "ingest.customers", "articles": "ingest.articles"}},
          {"name": "als-candidates", "kind": "als-candidates", "params": {"top": 8, "article_days": 14, "customer_days": 28}, "inputs": {"users": "als.users", "items": "als.items", "transactions": "split.train", "customers": "ingest.customers"}}
        ]}
        """)
      let spec = try PipelineLoader(registry: HMStages.registry).load(run.dir.path + "/p.json")
      run.store = try Store(root: spec.storePath)
      run.record = try await Runner(spec: spec, store: run.store, options: RunOptions()).run()
      self.run = run
      return run
    }
  }

  static let shared = Shared()

  struct Rows {
    var day: [Int32], customer: [UInt32], article: [UInt32]
    var last: Int32

    init(day: [Int32], customer: [UInt32], article: [UInt32]) {
      (self.day, self.customer, self.article, last) = (day, customer, article, day.max() ?? 0)
    }
  }

  static func train(_ run: Run) throws -> Rows {
    let t = try run.table("split", "train")
    return Rows(
      day: Array(try t.column("day").values(Int32.self)), customer: Array(try t.column("customer").values(UInt32.self)),
      article: Array(try t.column("article").values(UInt32.self)))
  }

  @Test func everyGeneratorRanAndFoundCandidates() async throws {
    for stage in try await Self.shared.get().record.stages {
      #expect(stage.status == .ran, "\(stage.name): \(stage.error ?? "")")
      if ["repurchase", "variants", "trending", "copurchase", "trending-group", "als-candidates"].contains(stage.name) {
        #expect((stage.figures["candidates"] ?? 0) > 0, "\(stage.name)")
      }
    }
  }

  @Test func repurchaseIsTheDecayedCountOfRecentPurchases() async throws {
    let run = try await Self.shared.get()
    let rows = try Self.train(run), lists = try run.lists("repurchase")
    var expected = [[UInt32: Double]](repeating: [:], count: lists.count)
    for i in rows.day.indices where rows.day[i] > rows.last - 28 {
      expected[Int(rows.customer[i])][rows.article[i], default: 0] += exp2(-Double(rows.last - rows.day[i]) / 7)
    }
    for (c, list) in lists.enumerated() {
      let reference = expected[c].map { ScoredArticle($0.key, Float($0.value)) }.sorted()
      #expect(list.count == min(6, reference.count), "customer \(c)")
      for (got, want) in zip(list, reference) where abs(got.score - want.score) > 1e-4 || got.article != want.article {
        // Only a near-tie may swap places.
        #expect(
          abs(got.score - want.score) < 1e-4 && abs(reference.first { $0.article == got.article }!.score - got.score) < 1e-4,
          "customer \(c)")
      }
    }
  }

  @Test func productVariantsAreUnboughtSiblingsOfRecentPurchases() async throws {
    let run = try await Self.shared.get()
    let rows = try Self.train(run), lists = try run.lists("variants")
    let codes = Array(try run.table("ingest", "articles").column("product_code").values(Int32.self))
    var sales = [UInt32: Int](), bought = [Set<UInt32>](repeating: [], count: lists.count),
      recentCodes = [Set<Int32>](repeating: [], count: lists.count)
    for i in rows.day.indices {
      let c = Int(rows.customer[i])
      bought[c].insert(rows.article[i])
      if rows.day[i] > rows.last - 28 { recentCodes[c].insert(codes[Int(rows.article[i])]) }
      if rows.day[i] > rows.last - 7 { sales[rows.article[i], default: 0] += 1 }
    }
    var nonEmpty = 0
    for (c, list) in lists.enumerated() {
      let reference = codes.indices.filter { recentCodes[c].contains(codes[$0]) && !bought[c].contains(UInt32($0)) }
        .map { ScoredArticle(UInt32($0), Float((sales[UInt32($0)] ?? 0) + 1)) }.sorted()
      #expect(list.map(\.article) == reference.prefix(6).map(\.article), "customer \(c)")
      #expect(list.map(\.score) == reference.prefix(6).map(\.score))
      if !list.isEmpty { nonEmpty += 1 }
    }
    #expect(nonEmpty > 0)
  }

  @Test func trendingIsTheBandsBestSellersOfTheLastWeek() async throws {
    let run = try await Self.shared.get()
    let rows = try Self.train(run), lists = try run.lists("trending")
    let ages = Array(try run.table("ingest", "customers").column("age").values(UInt8.self))
    var byBand = [[UInt32: Int]](repeating: [:], count: 7)
    for i in rows.day.indices where rows.day[i] > rows.last - 7 {
      byBand[6][rows.article[i], default: 0] += 1
      let b = TrendingStage.band(ages[Int(rows.customer[i])])
      if b < 6 { byBand[b][rows.article[i], default: 0] += 1 }
    }
    let everyone = byBand[6].map { ScoredArticle($0.key, Float($0.value)) }.sorted().prefix(12)
    for (c, list) in lists.enumerated() {
      let b = TrendingStage.band(ages[c])
      var reference = Array(byBand[b].map { ScoredArticle($0.key, Float($0.value)) }.sorted().prefix(12))
      for e in everyone where reference.count < 12 && !reference.contains(where: { $0.article == e.article }) {
        reference.append(ScoredArticle(e.article, b == 6 ? e.score : 0))
      }
      #expect(list.map(\.article) == reference.map(\.article), "customer \(c) (band \(b))")
    }
  }

  @Test func coPurchasesAreCoBoughtNeverOwnAndRanked() async throws {
    let run = try await Self.shared.get()
    let rows = try Self.train(run), lists = try run.lists("copurchase")
    var bought = [Set<UInt32>](repeating: [], count: lists.count), recent = [Set<UInt32>](repeating: [], count: lists.count)
    var buyersInWindow = [UInt32: Set<Int>]()
    for i in rows.day.indices {
      let c = Int(rows.customer[i])
      bought[c].insert(rows.article[i])
      if rows.day[i] > rows.last - 28 {
        recent[c].insert(rows.article[i])
        buyersInWindow[rows.article[i], default: []].insert(c)
      }
    }
    var withCandidates = 0
    for (c, list) in lists.enumerated() {
      #expect(list.count <= 12 && zip(list, list.dropFirst()).allSatisfy { $0 < $1 }, "customer \(c): ranked, distinct")
      if recent[c].isEmpty { #expect(list.isEmpty, "customer \(c) bought nothing lately") }
      for candidate in list {
        #expect(!bought[c].contains(candidate.article), "customer \(c) never bought it")
        // Some buyer of the candidate in the window also bought one of c's recent articles there.
        let coBuyers = buyersInWindow[candidate.article] ?? []
        #expect(recent[c].contains { (buyersInWindow[$0] ?? []).intersection(coBuyers).contains { $0 != c } }, "customer \(c)")
      }
      if !list.isEmpty { withCandidates += 1 }
    }
    #expect(withCandidates > 0)
  }

  @Test func trendingByIndexGroupIsTheHomeGroupsBestSellers() async throws {
    let run = try await Self.shared.get()
    let rows = try Self.train(run), lists = try run.lists("trending-group")
    let groupOf = Array(try run.table("ingest", "articles").column("index_group_no").values(Int32.self))
    var rowsIn = [[Int32: Int]](repeating: [:], count: lists.count)
    for i in rows.day.indices { rowsIn[Int(rows.customer[i])][groupOf[Int(rows.article[i])], default: 0] += 1 }
    // Home: the most rows, ties to the lower code; nil without purchases.
    let home = rowsIn.map { counts in counts.max { ($0.value, -$0.key) < ($1.value, -$1.key) }?.key }
    var sales = [Int32?: [UInt32: Int]]()
    for i in rows.day.indices where rows.day[i] > rows.last - 7 {
      sales[nil, default: [:]][rows.article[i], default: 0] += 1
      if let h = home[Int(rows.customer[i])] { sales[h, default: [:]][rows.article[i], default: 0] += 1 }
    }
    let best = { (h: Int32?) in (sales[h] ?? [:]).map { ScoredArticle($0.key, Float($0.value)) }.sorted().prefix(12) }
    let everyone = best(nil)
    var segments = Set<Int32>()
    for (c, list) in lists.enumerated() {
      var reference = Array(best(home[c]))
      for e in everyone where reference.count < 12 && !reference.contains(where: { $0.article == e.article }) {
        reference.append(ScoredArticle(e.article, 0))
      }
      #expect(list.map(\.article) == reference.map(\.article), "customer \(c) (home group \(home[c].map(String.init) ?? "none"))")
      if let h = home[c] { segments.insert(h) }
    }
    #expect(segments.count > 1)
  }

  @Test func alsCandidatesAreTheBestDotProductsAmongRecentArticles() async throws {
    let run = try await Self.shared.get()
    let rows = try Self.train(run), lists = try run.lists("als-candidates")
    let factors = { (output: String, id: String) throws -> [UInt32: [Float]] in
      let t = try run.table("als", output)
      let ids = try t.column(id).values(UInt32.self), column = try t.column("factors"), values = try column.values(Float.self)
      return Dictionary(uniqueKeysWithValues: (0..<t.rowCount).map { r in (ids[r], column.range(of: r).map { values[$0] }) })
    }
    let users = try factors("users", "customer"), items = try factors("items", "article")
    var shelf = Set<UInt32>(), active = Set<UInt32>()
    for i in rows.day.indices {
      if rows.day[i] > rows.last - 14, items[rows.article[i]] != nil { shelf.insert(rows.article[i]) }
      if rows.day[i] > rows.last - 28 { active.insert(rows.customer[i]) }
    }
    var served = 0
    for (c, list) in lists.enumerated() {
      guard let u = users[UInt32(c)], active.contains(UInt32(c)) else {
        #expect(list.isEmpty, "customer \(c) is not served")
        continue
      }
      served += 1
      let reference = shelf.map { a in ScoredArticle(a, Float(zip(u, items[a]!).reduce(0.0) { $0 + Double($1.0) * Double($1.1) })) }
        .sorted()
      #expect(list.count == min(8, reference.count), "customer \(c)")
      for (got, want) in zip(list, reference) {
        // Float rounding may swap near-ties only.
        #expect(abs(got.score - want.score) < 1e-5, "customer \(c)")
        let exact = reference.first { $0.article == got.article }!.score
        #expect(abs(exact - got.score) < 1e-5, "customer \(c): article \(got.article)")
      }
    }
    #expect(served > 0)
  }
}
