import Foundation
import Pipeline
import Testing

@testable import Stages

/// At a moderate scale the synthetic data's marginals fall within stated tolerances of the real
/// data's (docs/synth.md; targets from the full data in SynthReference and data-facts.md).
@Suite(.serialized) struct SynthTests {
  static let scale = 0.01
  static let data: (TemporaryDirectory, HMSynth.Summary) = {
    let dir = TemporaryDirectory()
    let summary = try! HMSynth.generate(into: dir.path, scale: scale, seed: 7, embeddingDims: 32)
    return (dir, summary)
  }()
  static var path: String { data.0.path }
  static let transactions: [[Substring]] = try! csvRows(path + "/transactions_train.csv")
  static let articles: [[Substring]] = try! csvRows(path + "/articles.csv")

  @Test func sizesAndDateRange() throws {
    let tx = Self.transactions
    #expect(tx.count == 317_883)
    #expect(Self.data.1.customers == 13_720)
    #expect(Self.articles.count == 10_554)
    #expect(tx.first?[0] == "2018-09-20")
    #expect(tx.last?[0] == "2020-09-22")
    #expect(zip(tx, tx.dropFirst()).allSatisfy { $0[0] <= $1[0] }, "rows are in date order")
    #expect(try csvRows(Self.path + "/sample_submission.csv").count == 13_720)
    #expect(try csvRows(Self.path + "/customers.csv").count == 13_720)
  }

  @Test func dailyVolumeFollowsTheRealCurve() {
    var perDay: [String: Double] = [:]
    for row in Self.transactions { perDay[String(row[0]), default: 0] += 1 }
    let synthetic = (0..<SynthTransactions.days).map { perDay[KaggleDate.text(day: $0)] ?? 0 }
    let real = SynthReference.dailyTransactions.map(Double.init)
    #expect(correlation(synthetic, real) > 0.9)
  }

  @Test func channelsPricesAndDuplicates() {
    let tx = Self.transactions
    #expect(abs(share(tx) { $0[4] == "2" } - 0.704) < 0.02)
    let prices = tx.map { Double($0[3])! }
    let mean = prices.reduce(0, +) / Double(prices.count)
    #expect(abs(mean - 0.02783) / 0.02783 < 0.15)
    #expect(prices.min()! > 0 && prices.max()! < 0.6)
    var seen: Set<[Substring]> = []
    let duplicates = tx.filter { !seen.insert([$0[0], $0[1], $0[2], $0[4]]).inserted }.count
    #expect((0.07...0.13).contains(Double(duplicates) / Double(tx.count)), "real: 10.08%")
  }

  @Test func categorySharesByTransactions() {
    let group = Dictionary(uniqueKeysWithValues: Self.articles.map { ($0[0], (String($0[19]), String($0[5]))) })
    let tx = Self.transactions.map { group[$0[2]]! }
    for (name, (_, real)) in SynthReference.indexGroups {
      #expect(abs(share(tx) { $0.0 == name } - real) < 0.04, "index group \(name)")
    }
    for name in ["Garment Upper body", "Garment Lower body", "Garment Full body", "Underwear", "Swimwear"] {
      #expect(abs(share(tx) { $0.1 == name } - SynthReference.productGroups[name]!.1) < 0.05, "product group \(name)")
    }
    let byArticles = Self.articles.map { String($0[19]) }
    for (name, (real, _)) in SynthReference.indexGroups {
      #expect(abs(share(byArticles) { $0 == name } - real) < 0.04, "articles in index group \(name)")
    }
  }

  @Test func perArticleAndPerCustomerActivity() {
    var perArticle: [Substring: Int] = [:]
    var perCustomer: [Substring: Int] = [:]
    var distinct: [Substring: Set<Substring>] = [:]
    for row in Self.transactions {
      perArticle[row[2], default: 0] += 1
      perCustomer[row[1], default: 0] += 1
      distinct[row[1], default: []].insert(row[2])
    }
    let sales = perArticle.values.sorted()
    let mean = Double(sales.reduce(0, +)) / Double(sales.count)
    let quantile = { (q: Double) in Double(sales[Int(q * Double(sales.count - 1))]) / mean }
    // Real: p25 / mean = 0.046, p50 / mean = 0.21, p75 / mean = 0.94.
    #expect((0.02...0.12).contains(quantile(0.25)))
    #expect((0.1...0.35).contains(quantile(0.5)))
    #expect((0.5...1.1).contains(quantile(0.75)))
    let rowsPerCustomer = Double(Self.transactions.count) / Double(perCustomer.count)
    #expect(abs(rowsPerCustomer - 23.3) < 1.5)
    let none = 1 - Double(perCustomer.count) / Double(Self.data.1.customers)
    #expect((0.003...0.012).contains(none), "real: 0.71% of customers never bought")
    let single = share(Array(distinct.values)) { $0.count == 1 }
    #expect((0.08...0.18).contains(single), "real: 11.4% bought one distinct article")
  }

  /// Repeat purchases come soon after the first, as in the real data (where repurchase + popularity
  /// scores as well as popularity): a customer buys an article again 1–7 days after buying it far
  /// more often than 29–35 days after (6.7 times at scale 0.1). Items are picked in time order, so
  /// a repeat never precedes its original.
  @Test func repeatPurchasesComeSoonAfterTheFirst() {
    var last: [[Substring]: Int] = [:]
    var soon = 0, later = 0
    for row in Self.transactions {
      let day = Int(KaggleDate.day(String(row[0]))!)
      let key = [row[1], row[2]]
      if let previous = last[key], previous < day {
        if day - previous <= 7 { soon += 1 }
        if (29...35).contains(day - previous) { later += 1 }
      }
      last[key] = day
    }
    #expect(soon > 500 && Double(soon) > 3 * Double(later), "\(soon) repeats within 7 days, \(later) after 29-35")
  }

  @Test func customersHaveTheRealMissingValues() throws {
    let customers = try csvRows(Self.path + "/customers.csv")
    #expect(abs(share(customers) { $0[1].isEmpty } - 0.652) < 0.03)
    #expect(abs(share(customers) { $0[2].isEmpty } - 0.662) < 0.03)
    #expect((0.005...0.02).contains(share(customers) { $0[5].isEmpty }))
    #expect(abs(share(customers) { $0[3] == "ACTIVE" } - 0.927) < 0.02)
    #expect(abs(share(customers) { $0[6] == Substring(SynthCustomers.placeholderPostalCode) } - 0.085) < 0.02)
    #expect(customers.allSatisfy { $0[0].count == 64 && $0[0].allSatisfy(\.isHexDigit) })
    #expect(zip(customers, customers.dropFirst()).allSatisfy { $0[0] < $1[0] }, "customers are sorted by id")
  }

  @Test func articleIDsCarryTheirProductCode() {
    for row in Self.articles {
      #expect(row[0].count == 10 && row[0].hasPrefix("0") && row[0].hasPrefix(row[1]))
    }
    let products = Set(Self.articles.map(\.[1])).count
    #expect(abs(Double(Self.articles.count) / Double(products) - 2.235) < 0.3)
    #expect(Self.articles.contains { $0[24].contains("\"") } && Self.articles.contains { $0[24].isEmpty })
  }

  @Test func embeddingsArriveAsAMatrixWithIDs() throws {
    let matrix = try FileSystem.readAll(Self.path + "/image_embeddings.npy")
    let ids = try FileSystem.readAll(Self.path + "/image_embeddings_ids.npy")
    let header = String(decoding: matrix[10..<100], as: UTF8.self)
    #expect(header.contains("'descr': '<f4'") && header.contains("'shape': (10554, 32)"))
    #expect(ids.count == 128 + 10554 * 8)
    #expect(matrix.count == 128 + 10554 * 32 * 4)
  }
}

/// The synthetic files parse as the Kaggle files do: the demo pipeline's synth → ingest → split.
@Suite struct SynthRoundTripTests {
  @Test func synthOutputIngestsCompletely() async throws {
    let dir = TemporaryDirectory()
    dir.write(
      "p.json",
      """
      {"store": "store", "stages": [
        {"name": "data", "kind": "synth", "params": {"scale": 0.001, "seed": 11, "embedding_dims": 4}},
        {"name": "ingest", "kind": "ingest", "params": {"missing_customers": "fail", "missing_articles": "fail"},
         "inputs": {"articles": "data.articles", "customers": "data.customers", "transactions": "data.transactions"}},
        {"name": "split", "kind": "split", "inputs": {"transactions": "ingest.transactions"}}
      ]}
      """)
    let spec = try PipelineLoader(registry: HMStages.registry).load(dir.path + "/p.json")
    let store = try Store(root: spec.storePath)
    let record = try await Runner(spec: spec, store: store, options: RunOptions()).run()
    #expect(record.stages.map(\.status) == [.ran, .ran, .ran], "\(record.stages.compactMap(\.error))")
    let synth = record.stages[0].figures, ingest = record.stages[1].figures
    #expect(ingest["rows.transactions"] == synth["transactions"])
    #expect(ingest["rows.customers"] == synth["customers"])
    #expect(ingest["rows.articles"] == synth["articles"])
    #expect(ingest["bad_rows_skipped.transactions"] == 0)
    let split = record.stages[2].figures
    #expect(split["train_rows"]! + split["test_rows"]! == synth["transactions"]!)
    #expect(split["test_first_day"] == 727, "the last 7 of 734 days are the test week")
  }
}
