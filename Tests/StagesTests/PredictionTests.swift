import Foundation
import Pipeline
import Testing

@testable import Stages

@Suite struct AveragePrecisionTests {
  /// The competition's reference `apk`, transcribed literally (lists, `in`, slices).
  static func referenceAPK(_ actual: [UInt32], _ predicted: [UInt32], k: Int = 12) -> Double {
    let predicted = Array(predicted.prefix(k))
    var score = 0.0, hits = 0.0
    for (i, p) in predicted.enumerated() where actual.contains(p) && !predicted[..<i].contains(p) {
      hits += 1
      score += hits / Double(i + 1)
    }
    if actual.isEmpty { return 0 }
    return score / Double(min(actual.count, k))
  }

  static func apk(_ actual: [UInt32], _ predicted: [UInt32]) -> Double {
    AveragePrecision.score(predicted, truth: actual.sorted()[...])
  }

  @Test func handComputedCases() {
    // Hits at positions 1 and 3 of three truths: (1/1 + 2/3) / 3.
    #expect(abs(Self.apk([1, 2, 3], [1, 4, 2, 5]) - (1 + 2.0 / 3) / 3) < 1e-12)
    // A repeated prediction is not a second hit: (1/1 + 2/3) / 2.
    #expect(abs(Self.apk([1, 2], [1, 1, 2]) - (1 + 2.0 / 3) / 2) < 1e-12)
    // Fewer than 12 truths, all found first: 1.
    #expect(Self.apk([7, 9], [9, 7, 1, 2]) == 1)
    // More than 12 truths: the denominator is 12.
    #expect(Self.apk(Array(0..<15), Array(0..<12)) == 1)
    // A hit after position 12 does not count.
    #expect(Self.apk([99], Array(0..<12) + [99]) == 0)
    // Hit only at position 12: (1/12) / 1.
    #expect(abs(Self.apk([11], Array(0..<12)) - 1.0 / 12) < 1e-12)
  }

  @Test func matchesTheReferenceOnRandomCases() {
    var rng = CounterRandom(seed: 8, stream: 0, index: 0)
    for _ in 0..<2000 {
      let actual = Array(Set((0..<(1 + rng.below(20))).map { _ in UInt32(rng.below(30)) }))
      let predicted = (0..<rng.below(16)).map { _ in UInt32(rng.below(30)) }
      #expect(abs(Self.apk(actual, predicted) - Self.referenceAPK(actual, predicted)) < 1e-12, "\(actual) \(predicted)")
    }
  }

  @Test func mapSkipsCustomersWithoutTestPurchasesAndSplitsBySource() throws {
    // Customer 0 bought {1, 2} in the test week, customer 1 nothing, customer 2 bought {5}.
    let truth = PurchaseHistory(
      customer: try! Column("c", [0, 0, 2] as [UInt32]).values(UInt32.self),
      article: try! Column("a", [1, 2, 5] as [UInt32]).values(UInt32.self),
      day: try! Column("d", [0, 0, 0] as [Int32]).values(Int32.self), customers: 3)
    let table = PredictionsTable.make(
      offsets: [0, 3, 4, 6],
      [
        Prediction(article: 1, source: .rank), Prediction(article: 9, source: .rank), Prediction(article: 2, source: .fill),
        Prediction(article: 1, source: .popularity),
        Prediction(article: 3, source: .copurchase), Prediction(article: 5, source: .popularity),
      ])
    let candidates = Column("candidates", offsets: [0, 2, 2, 2], values: [1, 3] as [UInt32])
    let metrics = Dictionary(
      uniqueKeysWithValues: try Evaluation.measure(
        try! PredictionsTable.read(table), truth: truth,
        candidates: candidates, baseline: [5, 1], k: 12))
    let customer0 = (1 + 2.0 / 3) / 2, customer2 = 0.5
    #expect(abs(metrics["map@12"]! - (customer0 + customer2) / 2) < 1e-12, "customer 1 has no test purchase: not counted")
    #expect(abs(metrics["map@12.rank"]! - 0.5 / 2) < 1e-12)
    #expect(abs(metrics["map@12.fill"]! - (2.0 / 3 / 2) / 2) < 1e-12)
    #expect(abs(metrics["map@12.popularity"]! - 0.25) < 1e-12)
    #expect(metrics["hits.rank"] == 1 && metrics["hits.fill"] == 1 && metrics["hits.popularity"] == 1)
    #expect(metrics["evaluated_customers"] == 2)
    #expect(abs(metrics["candidate_recall"]! - 1.0 / 3) < 1e-12, "one of three test purchases was a candidate")
    // Baseline [5, 1] for everyone: customer 0 hits 1 at position 2 (1/2 / 2), customer 2 hits 5 at 1.
    #expect(abs(metrics["baseline_popularity_map@12"]! - (0.25 + 1) / 2) < 1e-12)
    #expect(metrics["baseline_repurchase_popularity_map@12"] == nil, "only when asked for")

    // Repurchase + popularity: customer 0 bought 2 on day 9 and 7 on day 5 (and 4 on day 1, before
    // the 5-day window); lists: [2, 7, 5, 1], [5, 1], [5, 1]. Customer 0: hit 2 at 1, 1 at 4 →
    // (1 + 2/4) / 2; customer 2: 5 at 1 → 1.
    let lists = Evaluation.repurchaseThenPopular(
      customer: TypedValues(copying: [0, 0, 0]), article: TypedValues(copying: [4, 7, 2]), day: TypedValues(copying: [1, 5, 9]),
      customers: 3, popular: [5, 1], days: 5, k: 12)
    #expect(lists.offsets == [0, 4, 6, 8] && lists.items == [2, 7, 5, 1, 5, 1, 5, 1])
    let withBaseline = Dictionary(
      uniqueKeysWithValues: try Evaluation.measure(
        try! PredictionsTable.read(table), truth: truth, candidates: candidates, baseline: [5, 1], k: 12, repurchaseBaseline: lists))
    #expect(abs(withBaseline["baseline_repurchase_popularity_map@12"]! - ((1 + 0.5) / 2 + 1) / 2) < 1e-12)
    #expect(abs(withBaseline["ratio_to_popularity"]! - withBaseline["map@12"]! / withBaseline["baseline_popularity_map@12"]!) < 1e-12)
  }
}

/// evaluate's repurchase baseline groups only the window's rows; it must list what the whole
/// history's cells give (a pair's rows counted over all of training, not the window alone).
@Suite struct RepurchaseBaselineTests {
  @Test func windowedListsMatchTheWholeHistorysCells() {
    var rng = CounterRandom(seed: 21, stream: 0, index: 0)
    let rows = 20_000, customers = 300
    // Days ascend, as split writes them; few articles, so pairs repeat inside and outside the window.
    let day = (0..<rows).map { Int32($0 * 60 / rows) }
    let customer = (0..<rows).map { _ in UInt32(rng.below(customers)) }
    let article = (0..<rows).map { _ in UInt32(rng.below(12)) }
    let (c, a, d) = (TypedValues(copying: customer), TypedValues(copying: article), TypedValues(copying: day))
    let history = PurchaseHistory(customer: c, article: a, day: d, customers: customers)
    for days in [1, 7, 28, 100] {
      let lists = Evaluation.repurchaseThenPopular(
        customer: c, article: a, day: d, customers: customers, popular: [3, 30, 7], days: days, k: 5)
      var expected: [UInt32] = [], offsets: [UInt64] = [0]
      for cust in 0..<customers {
        let own = history.cells[history.range(of: cust)].filter { $0.lastDay > 59 - Int32(days) }
          .sorted { ($0.lastDay, $0.rows, UInt32.max - $0.article) > ($1.lastDay, $1.rows, UInt32.max - $1.article) }
        var list = own.prefix(5).map(\.article)
        for p in [3, 30, 7] as [UInt32] where list.count < 5 && !list.contains(p) { list.append(p) }
        expected += list
        offsets.append(UInt64(expected.count))
      }
      #expect(lists.items == expected && lists.offsets == offsets, "window of \(days) days")
    }
    let bands = CustomerSegments.byHistoryLength(customer: c, customers: customers).band
    let upper = [0, 4, 19, 49]
    #expect(
      bands
        == (0..<customers).map { cust in
          let n = history.cells[history.range(of: cust)].reduce(0) { $0 + Int($1.rows) }
          return UInt8(upper.firstIndex { n <= $0 } ?? 4)
        })
  }
}

/// evaluate's scores per segment: each customer counts in their history-length band and age band.
@Suite struct EvaluateSegmentTests {
  @Test func scoresAndBaselinesSplitByHistoryLengthAndAge() throws {
    // Three customers bought in the test week: 0 bought {1}, 1 bought {2}, 2 bought {3}.
    let truth = PurchaseHistory(
      customer: try Column("c", [0, 1, 2] as [UInt32]).values(UInt32.self),
      article: try Column("a", [1, 2, 3] as [UInt32]).values(UInt32.self),
      day: try Column("d", [0, 0, 0] as [Int32]).values(Int32.self), customers: 3)
    // Training rows: customer 0 none, customer 1 two rows, customer 2 six rows.
    let history = CustomerSegments.byHistoryLength(customer: TypedValues(copying: [1, 1, 2, 2, 2, 2, 2, 2]), customers: 3)
    #expect(history.band == [0, 1, 2], "0 rows, 1-4, 5-19")
    let ages = CustomerSegments.byAge(try Column("age", [25, 255, 27] as [UInt8]).values(UInt8.self))
    #expect(ages.band == [1, 6, 1], "20s, unknown, 20s")
    // Predictions: customer 0 hits at 1 (AP 1), customer 1 at 2 (AP 1/2), customer 2 misses.
    let table = PredictionsTable.make(
      offsets: [0, 1, 3, 4],
      [
        Prediction(article: 1, source: .rank), Prediction(article: 5, source: .rank), Prediction(article: 2, source: .rank),
        Prediction(article: 5, source: .rank),
      ])
    let metrics = Dictionary(
      uniqueKeysWithValues: try Evaluation.measure(
        try PredictionsTable.read(table), truth: truth, candidates: Column("candidates", offsets: [0, 0, 0, 0], values: [UInt32]()),
        baseline: [3], k: 12, segments: [history, ages]))
    #expect(metrics["history.0.customers"] == 1 && metrics["history.0.map@12"] == 1)
    #expect(metrics["history.1-4.map@12"] == 0.5 && metrics["history.5-19.map@12"] == 0)
    #expect(metrics["history.5-19.popularity_map@12"] == 1 && metrics["history.1-4.popularity_map@12"] == 0)
    #expect(metrics["history.50+.customers"] == 0 && metrics["history.50+.map@12"] == 0)
    #expect(metrics["age.20-29.customers"] == 2 && metrics["age.20-29.map@12"] == 0.5, "customers 0 and 2: (1 + 0) / 2")
    #expect(metrics["age.unknown.map@12"] == 0.5 && metrics["age.20-29.popularity_map@12"] == 0.5)
    let charts = EvaluateStage.charts(metrics.merging(["map@12": 0.5, "baseline_popularity_map@12": 1.0 / 3]) { a, _ in a })
    let byAge = try #require(charts.first { $0.title == "MAP@12 by age band" })
    #expect(byAge.groups.first { $0.label == "20-29 (2)" }?.values == [0.5, 0.5])
    #expect(charts.first?.groups.map(\.label) == ["this pipeline", "popularity", "repurchase + popularity"])
  }
}

/// What `hmpipe diff` says about two submissions.
@Suite struct PredictionOverlapTests {
  @Test func countsArticlesInCommonAndIdenticalLists() throws {
    let a = PredictionsTable.make(
      offsets: [0, 2, 4, 4],
      [1, 2, 3, 4].map { Prediction(article: $0, source: .rank) })
    let b = PredictionsTable.make(
      offsets: [0, 2, 5, 5],
      [1, 2, 4, 9, 8].map { Prediction(article: $0, source: .rank) })
    let overlap = try #require(try PredictionOverlap.compare(a, b, source: "x"))
    // Customer 0: {1, 2} both; customer 1: 4 of [3, 4] vs [4, 9, 8], longer list 3; customer 2: none.
    #expect(overlap.shareInCommon == 3.0 / 5 && overlap.customers == 3)
    #expect(overlap.identicalLists == 2.0 / 3, "customer 0 and the two empty lists of customer 2")
    let other = PredictionsTable.make(offsets: [0, 1], [Prediction(article: 1, source: .rank)])
    #expect(try PredictionOverlap.compare(a, other, source: "x") == nil, "other customers: no comparison")
  }
}

/// evaluate's headline, printed after every run (cached too): the score, each baseline with the
/// ratio to it, and a verdict; in submission mode, that nothing was held out.
@Suite struct EvaluateHeadlineTests {
  @Test func headlineGivesTheRatiosAndTheVerdict() {
    let figures = [
      "map@12": 0.01562, "baseline_popularity_map@12": 0.00748, "baseline_repurchase_popularity_map@12": 0.00784,
      "evaluated_customers": 72359, "map@12.rank": 0.015,
    ]
    #expect(
      EvaluateStage.headline(figures)
        == "MAP@12 0.01562 (2.09× popularity) over 72359 customers: 2.09× popularity (0.00748), 1.99× repurchase + popularity (0.00784): beats both baselines"
    )
    var middle = figures
    middle["map@12"] = 0.0076
    #expect(EvaluateStage.headline(middle)?.hasSuffix("beats popularity, not repurchase + popularity") == true)
    middle["map@12"] = 0.0027
    #expect(
      EvaluateStage.headline(middle)?.hasSuffix(
        "0.36× popularity (0.00748), 0.34× repurchase + popularity (0.00784): does not beat popularity") == true)
    #expect(EvaluateStage.headline([:]) == "nothing held out (submission mode): no score to show")
  }
}

@Suite struct FillTests {
  @Test func fillNeverDuplicatesAndIsSeeded() throws {
    var rng = CounterRandom(seed: 3, stream: 0, index: 0)
    var candidateOffsets: [UInt64] = [0], candidates: [UInt32] = [], rankedOffsets: [UInt64] = [0], ranked: [UInt32] = []
    for _ in 0..<500 {
      let mine = Array(Set((0..<rng.below(40)).map { _ in UInt32(rng.below(60)) })).sorted()
      candidates += mine
      candidateOffsets.append(UInt64(candidates.count))
      ranked += mine.shuffled(using: &rng).prefix(rng.below(14))
      rankedOffsets.append(UInt64(ranked.count))
    }
    let c = Column("candidates", offsets: candidateOffsets, values: candidates)
    let r = Column("articles", offsets: rankedOffsets, values: ranked)
    let a = try FillStage.fill(candidates: c, ranked: r, size: 12, seed: 1)
    let b = try FillStage.fill(candidates: c, ranked: r, size: 12, seed: 1)
    let other = try FillStage.fill(candidates: c, ranked: r, size: 12, seed: 2)
    #expect(a.offsets == b.offsets && a.items == b.items, "same seed, same sample")
    #expect(a.items != other.items, "another seed, another sample")
    for row in 0..<500 {
      let items = a.items[Int(a.offsets[row])..<Int(a.offsets[row + 1])]
      let mine = candidates[Int(candidateOffsets[row])..<Int(candidateOffsets[row + 1])]
      let best = ranked[Int(rankedOffsets[row])..<Int(rankedOffsets[row + 1])].prefix(12)
      #expect(Set(items.map(\.article)).count == items.count, "no duplicates")
      #expect(items.count == min(12, Set(mine).union(best).count))
      #expect(items.prefix(best.count).map(\.article) == Array(best), "ranked first, in order")
      #expect(items.dropFirst(best.count).allSatisfy { $0.source == .fill && mine.contains($0.article) })
    }
  }
}

/// The selection co-purchase uses for an article's most recent buyers: the k smallest, sorted,
/// exactly as a full sort's first k, repeated values and all.
@Suite struct SmallestFirstTests {
  @Test func matchesAFullSortsPrefix() {
    var rng = CounterRandom(seed: 4, stream: 0, index: 0)
    for _ in 0..<500 {
      let n = rng.below(300), k = rng.below(n + 2), spread = 1 + rng.below(50)
      var values = (0..<n).map { _ in UInt64(rng.below(spread)) }
      let sorted = values.sorted()
      values.smallestFirst(k)
      #expect(Array(values.prefix(k)) == Array(sorted.prefix(k)), "n \(n) k \(k)")
      #expect(values.sorted() == sorted, "a permutation")
      var short = (0..<rng.below(40)).map { _ in UInt64(rng.below(spread)) }
      let expected = short.sorted()
      short.sortShortRuns()
      #expect(short == expected)
    }
  }
}

@Suite struct CoPurchaseTests {
  @Test func boughtWhatYouBoughtRanksByCount() {
    // Customers: 0 {1, 2}, 1 {1, 3}, 2 {1, 3}, 3 {2}, 4 nothing.
    let customer: [UInt32] = [0, 0, 1, 1, 2, 2, 3], article: [UInt32] = [1, 2, 1, 3, 1, 3, 2]
    let history = PurchaseHistory(
      customer: try! Column("c", customer).values(UInt32.self), article: try! Column("a", article).values(UInt32.self),
      day: try! Column("d", [Int32](repeating: 0, count: 7)).values(Int32.self), customers: 5)
    let recent = CoPurchase.recentArticles(history, limit: 10)
    let table = CoPurchase.table(history, recent: recent, articles: 4, buyers: 10, perArticle: 5)
    #expect(table.row(1).map(\.key) == [3, 2] && table.row(1).map(\.count) == [2, 1], "article 1: bought with 3 twice, 2 once")
    #expect(table.row(2).map(\.key) == [1])
    var scratch = CoPurchase.Scratch(articles: 4)
    CoPurchase.suggest(for: recent.row(3), table: table, limit: 12, scratch: &scratch) { a in
      !history.cells[history.range(of: 3)].contains(article: a)
    }
    #expect(scratch.best.map(\.key) == [1], "customer 3 bought 2; its buyers also bought 1")
    CoPurchase.suggest(for: recent.row(0), table: table, limit: 12, scratch: &scratch) { a in
      !history.cells[history.range(of: 0)].contains(article: a)
    }
    #expect(scratch.best.map(\.key) == [3], "own purchases excluded")
    #expect(recent.row(4).isEmpty)
  }
}

@Suite struct SubmissionCheckTests {
  static let a = String(repeating: "0a", count: 32), b = String(repeating: "f1", count: 32)
  static let ids: [UInt64] = (0..<14).map { 108_775_015 + UInt64($0) }
  static func line(_ customer: String, _ articles: [UInt64]) -> String {
    customer + "," + articles.map { ArticleNumber.text($0) }.joined(separator: " ")
  }
  static let good = [line(a, Array(ids[0..<3])), line(b, Array(ids[3..<6]))]

  static func check(_ lines: [String], header: String = "customer_id,prediction", newline: Bool = true) -> String? {
    let text = ([header] + lines).joined(separator: "\n") + (newline ? "\n" : "")
    let checker = SubmissionCheck(customers: [Array(a.utf8), Array(b.utf8)], articleIDs: ids, size: 3)
    do { try checker.validate(Array(text.utf8)) } catch { return error.description }
    return nil
  }

  @Test func aGoodSubmissionPasses() { #expect(Self.check(Self.good) == nil) }

  @Test(arguments: [
    ("header", "line 1: the header must be"),
    ("missing row", "1 rows for 2 customers"),
    ("order", "is not the expected"),
    ("twice", "is not the expected"),
    ("short", "has 2 predictions, not 3"),
    ("nine digits", "'108775015' is not a 10-digit article id"),
    ("unknown", "article 0999999999 is not in articles.csv"),
    ("duplicate", "article 0108775015 is predicted twice"),
    ("fields", "has 3 fields, not 2"),
    ("newline", "does not end with a newline"),
  ])
  func eachKindOfMalformedOutputIsRejected(kind: String, message: String) {
    let a = Self.a, b = Self.b, ids = Self.ids
    let error: String? =
      switch kind {
      case "header": Self.check(Self.good, header: "customer,prediction")
      case "missing row": Self.check([Self.good[0]])
      case "order": Self.check([Self.good[1], Self.good[0]])
      case "twice": Self.check([Self.good[0], Self.good[0]])
      case "short": Self.check([Self.good[0], Self.line(b, Array(ids[3..<5]))])
      case "nine digits": Self.check([Self.good[0], b + ",108775015 0108775016 0108775017"])
      case "unknown": Self.check([Self.line(a, [ids[0], ids[1], 999_999_999]), Self.good[1]])
      case "duplicate": Self.check([Self.line(a, [ids[0], ids[1], ids[0]]), Self.good[1]])
      case "fields": Self.check([Self.good[0] + ",x", Self.good[1]])
      default: Self.check(Self.good, newline: false)
      }
    #expect(error?.contains(message) == true, "\(kind): \(error ?? "accepted")")
    #expect(error?.hasPrefix("submission.csv line ") == true)
  }
}
