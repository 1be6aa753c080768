import Foundation
import Pipeline
import Testing

@testable import Stages

/// The learning-to-rank pipeline (pipelines/demo-ranker.json) end to end, and its middle stages
/// against naive recomputations: the merged candidates, the features (and that a label week never
/// leaks into them).
@Suite(.serialized) struct RankerPipelineTests {
  static let demo = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../../pipelines/demo-ranker.json").standardizedFileURL.path

  static func outputs(_ record: RunRecord, _ store: Store) -> (String, String) throws -> Table {
    { stage, output in try store.reader(record.stages.first { $0.name == stage }!.outputs[output]!).table() }
  }

  @Test func validationModeEndToEnd() async throws {
    let dir = TemporaryDirectory()
    // Two more features stages, every customer kept: the same history with another week as labels
    // must give the same features.
    dir.write(
      "ranker.json",
      #"""
      {"extends": "\#(Self.demo)", "stages": [
        {"name": "all-labels", "kind": "features", "params": {"skip_trending_only": false, "labelled_only": false}, "inputs": {"candidates": "fit-candidates.candidates",
          "transactions": "label-split.train", "customers": "ingest.customers", "articles": "ingest.articles", "labels": "label-split.test",
          "users": "fit-als.users", "items": "fit-als.items"}},
        {"name": "other-labels", "kind": "features", "params": {"skip_trending_only": false, "labelled_only": false}, "inputs": {"candidates": "fit-candidates.candidates",
          "transactions": "label-split.train", "customers": "ingest.customers", "articles": "ingest.articles", "labels": "split.test",
          "users": "fit-als.users", "items": "fit-als.items"}},
        {"name": "final-features", "kind": "features", "params": {"skip_trending_only": false}, "inputs": {"candidates": "candidates.candidates",
          "transactions": "split.train", "customers": "ingest.customers", "articles": "ingest.articles",
          "users": "als.users", "items": "als.items"}}]}
      """#)
    let (record, store) = try await EndToEndTests.run(dir.path + "/ranker.json", in: dir)
    #expect(record.stages.allSatisfy { $0.status == .ran }, "\(record.stages.compactMap(\.error))")
    let output = Self.outputs(record, store)

    // Every customer ends with 12 distinct articles; the ranker's share is most of them.
    let predictions = try PredictionsTable.read(try output("fallback", "predictions"))
    for c in 0..<(predictions.offsets.count - 1) {
      let rows = Int(predictions.offsets[c])..<Int(predictions.offsets[c + 1])
      #expect(rows.count == 12 && Set(rows.map { predictions.articles[$0] }).count == 12)
    }
    let evaluate = record.stages.first { $0.name == "evaluate" }!.figures
    #expect((evaluate["map@12"] ?? 0) > 0 && (evaluate["evaluated_customers"] ?? 0) > 0)
    let train = record.stages.first { $0.name == "train-ranker" }!.figures
    #expect((train["training_customers"] ?? 0) > 0 && train.keys.contains { $0.hasPrefix("importance.") })

    try Self.mergedCandidatesAreTheUnionWithScores(output)
    try Self.featuresMatchANaiveRecomputation(output)
    try Self.scoreRanksAsTheModelScoresTheFeaturesTable(output)
    // No leakage: only the label column differs.
    let fit = try output("all-labels", "features"), other = try output("other-labels", "features")
    #expect(fit.columns.map(\.name) == other.columns.map(\.name))
    for (a, b) in zip(fit.columns, other.columns) where a.name != "label" {
      let same = Array(a.values.bytes) == Array(b.values.bytes)
      #expect(same, "\(a.name) depends on the label week")
    }
    #expect(try fit.column("label").values(Float.self).contains(1))
    try Self.onlyLabelledCustomersAreKept(output)
  }

  /// fit-features (`labelled_only`) holds exactly all-labels' rows of the customers who bought in
  /// the label week.
  static func onlyLabelledCustomersAreKept(_ output: (String, String) throws -> Table) throws {
    let buyers = Set(try output("label-split", "test").column("customer").values(UInt32.self))
    let all = try output("all-labels", "features"), kept = try output("fit-features", "features")
    let allCustomers = try all.column("customer").values(UInt32.self), allArticles = try all.column("article").values(UInt32.self)
    let expected = (0..<all.rowCount).filter { buyers.contains(allCustomers[$0]) }
    #expect(kept.rowCount == expected.count && kept.rowCount < all.rowCount)
    let customers = try kept.column("customer").values(UInt32.self), articles = try kept.column("article").values(UInt32.self)
    #expect(expected.enumerated().allSatisfy { customers[$0] == allCustomers[$1] && articles[$0] == allArticles[$1] })
  }

  /// Each customer's merged list is the sorted union of the generators' lists, each score the one
  /// its generator gave (NaN where it proposed nothing).
  static func mergedCandidatesAreTheUnionWithScores(_ output: (String, String) throws -> Table) throws {
    let merged = try output("candidates", "candidates")
    let list = try merged.column("candidates"), items = try list.values(UInt32.self)
    for generator in ["repurchase", "variants", "trending", "copurchase"] {
      let source = try output(generator, "candidates")
      let column = try source.column("candidates"), sourceItems = try column.values(UInt32.self)
      let sourceScores = try source.column("scores").values(Float.self)
      let scores = try merged.column("score." + generator).values(Float.self)
      for c in 0..<list.rowCount {
        var expected: [UInt32: Float] = [:]
        for i in column.range(of: c) { expected[sourceItems[i]] = sourceScores[i] }
        for i in list.range(of: c) {
          let want = expected[items[i]]
          #expect(want.map { $0 == scores[i] } ?? scores[i].isNaN, "\(generator), customer \(c)")
        }
        #expect(Set(column.range(of: c).map { sourceItems[$0] }).isSubset(of: list.range(of: c).map { items[$0] }))
      }
    }
    let all = (0..<list.rowCount).allSatisfy { c in
      zip(list.range(of: c), list.range(of: c).dropFirst()).allSatisfy { items[$0] < items[$1] }
    }
    #expect(all, "ascending, no repeats")
  }

  /// score computes the features itself, a batch at a time: its lists are the model's best 12 of
  /// the features stage's rows for the same inputs.
  static func scoreRanksAsTheModelScoresTheFeaturesTable(_ output: (String, String) throws -> Table) throws {
    let table = try output("final-features", "features")
    let matrix = try FeatureMatrix(table, slot: "features", stage: "test")
    let model = try output("train-ranker", "model")
    #expect(model.metadata["features"] == matrix.names.joined(separator: ","))
    let rows = matrix.rows(Array(0..<table.rowCount))
    let scores = try rows.withUnsafeBufferPointer {
      try GradientBoostedRanker(model: Array(model.columns[0].values.bytes)).scores(
        features: $0, rows: table.rowCount, columns: matrix.names.count)
    }
    var expected = [UInt32: [ScoredArticle]]()
    for r in 0..<table.rowCount { expected[matrix.customers[r], default: []].append(ScoredArticle(matrix.articles[r], scores[r])) }
    let ranked = try output("score", "ranked")
    let column = try ranked.column("articles"), items = try column.values(UInt32.self)
    #expect(ranked.rowCount == (try output("ingest", "customers").rowCount))
    for c in 0..<ranked.rowCount {
      let want = (expected[UInt32(c)] ?? []).sorted().prefix(12).map(\.article)
      #expect(column.range(of: c).map { items[$0] } == want, "customer \(c)")
    }
  }

  /// A sample of feature rows recomputed from the transaction rows by plain loops.
  static func featuresMatchANaiveRecomputation(_ output: (String, String) throws -> Table) throws {
    let features = try output("final-features", "features"), train = try output("split", "train")
    let articles = try output("ingest", "articles")
    let day = try train.column("day").values(Int32.self), customer = try train.column("customer").values(UInt32.self)
    let article = try train.column("article").values(UInt32.self)
    let codes = try articles.column("product_code").values(Int32.self), groups = try articles.column("index_group_no").values(Int32.self)
    let ages = try output("ingest", "customers").column("age").values(UInt8.self)
    let last = day.max()!
    // Each customer's home index group: the most rows, ties to the lower code.
    var rowsIn = [UInt32: [Int32: Int]]()
    for r in 0..<day.count { rowsIn[customer[r], default: [:]][groups[Int(article[r])], default: 0] += 1 }
    let home = rowsIn.mapValues { counts in counts.max { ($0.value, -$0.key) < ($1.value, -$1.key) }!.key }
    let rowCustomer = try features.column("customer").values(UInt32.self), rowArticle = try features.column("article").values(UInt32.self)
    let value = { (name: String, row: Int) in try features.column(name).values(Float.self)[row] }
    for row in stride(from: 0, to: features.rowCount, by: max(1, features.rowCount / 300)) {
      let c = rowCustomer[row], a = rowArticle[row]
      var rows = 0, recent = 0, sales1w = 0, sales4w = 0, bought = 0, product = 0, groupSales = 0, bandSales = 0
      var lastBought: Int32?, lastProduct: Int32?
      for r in 0..<day.count {
        if customer[r] == c {
          rows += 1
          if day[r] > last - 28 { recent += 1 }
          if article[r] == a {
            bought += 1
            lastBought = max(lastBought ?? day[r], day[r])
          }
          if codes[Int(article[r])] == codes[Int(a)] {
            product += 1
            lastProduct = max(lastProduct ?? day[r], day[r])
          }
        }
        if article[r] == a {
          if day[r] > last - 7 { sales1w += 1 }
          if day[r] > last - 28 { sales4w += 1 }
          if day[r] > last - 7 && home[customer[r]] == home[c] { groupSales += 1 }
          if day[r] > last - 7 && TrendingStage.band(ages[Int(customer[r])]) == TrendingStage.band(ages[Int(c)]) { bandSales += 1 }
        }
      }
      let group = try value("p.group_sales_1w", row), band = try value("p.band_sales_1w", row)
      #expect(home[c] == nil ? group.isNaN : group == Float(groupSales), "row \(row)")
      #expect(ages[Int(c)] == 255 ? band.isNaN : band == Float(bandSales), "row \(row)")
      #expect(try value("c.rows", row) == Float(rows) && value("c.rows_4w", row) == Float(recent), "row \(row)")
      #expect(try value("a.sales_1w", row) == Float(sales1w) && value("a.sales_4w", row) == Float(sales4w), "row \(row)")
      #expect(try value("p.bought", row) == Float(bought) && value("p.product_bought", row) == Float(product), "row \(row)")
      let since = try value("p.days_since_bought", row), sinceProduct = try value("p.days_since_product", row)
      #expect(lastBought.map { since == Float(last - $0) } ?? since.isNaN, "row \(row)")
      #expect(lastProduct.map { sinceProduct == Float(last - $0) } ?? sinceProduct.isNaN, "row \(row)")
    }
  }

  @Test func submissionModeGivesAValidSubmission() async throws {
    let dir = TemporaryDirectory()
    dir.write("submission.json", #"{"extends": "\#(Self.demo)", "vars": {"holdout_days": 0, "scale": 0.001}}"#)
    let (record, _) = try await EndToEndTests.run(dir.path + "/submission.json", in: dir)
    #expect(record.stages.allSatisfy { $0.status == .ran }, "\(record.stages.compactMap(\.error))")
    #expect(record.stages.first { $0.name == "evaluate" }!.figures.isEmpty)
    #expect(FileSystem.exists(dir.path + "/output/submission-ranker-holdout0.csv"))
  }
}
