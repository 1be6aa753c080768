import Foundation
import Pipeline
import Testing

@testable import Stages

/// The XGBoost wrapper on a planted ranking problem: relevance follows two of five features, the
/// rest is noise. The ranker must recover the order on unseen groups, name the two features as the
/// important ones, give the same bytes when trained twice, and score alike after a round trip.
@Suite struct GradientBoostedRankerTests {
  struct Data {
    var features: [Float] = []
    var labels: [Float] = []
    var groups: [UInt32] = []
  }

  static let columns = 5

  static func planted(groups: Int, size: Int, seed: UInt64) -> Data {
    var rng = CounterRandom(seed: seed, stream: 0, index: 0)
    var data = Data()
    for _ in 0..<groups {
      for _ in 0..<size {
        let row = (0..<columns).map { _ in Float(rng.normal()) }
        data.features += row
        data.labels.append(row[0] + 0.5 * row[1] > 1.2 ? 1 : 0)
      }
      data.groups.append(UInt32(size))
    }
    return data
  }

  static func train(_ data: Data, threads: Int = 2) throws -> GradientBoostedRanker {
    var params = GradientBoostedRanker.Params()
    params.rounds = 40
    params.threads = threads
    return try data.features.withUnsafeBufferPointer {
      try GradientBoostedRanker.train(
        features: $0, rows: data.labels.count, columns: columns, labels: data.labels, groups: data.groups, params: params)
    }
  }

  @Test func recoversAPlantedRanking() throws {
    let model = try Self.train(Self.planted(groups: 300, size: 20, seed: 1))
    let test = Self.planted(groups: 100, size: 20, seed: 2)
    let scores = try test.features.withUnsafeBufferPointer {
      try model.scores(features: $0, rows: test.labels.count, columns: Self.columns)
    }
    // Precision of the top 3 of each group, against the best possible and against the base rate.
    var hits = 0, possible = 0
    for g in 0..<100 {
      let rows = (g * 20)..<(g * 20 + 20)
      let top = rows.sorted { scores[$0] > scores[$1] }.prefix(3)
      hits += top.filter { test.labels[$0] == 1 }.count
      possible += min(3, rows.filter { test.labels[$0] == 1 }.count)
    }
    #expect(Double(hits) / Double(possible) > 0.9, "\(hits) of \(possible)")
    let gains = try model.importance(columns: Self.columns)
    #expect(gains[0] > gains[1] && gains[1] > gains[2...].max()!, "\(gains)")
  }

  @Test func sameBytesTwiceAndScoresSurviveARoundTrip() throws {
    let data = Self.planted(groups: 50, size: 10, seed: 3)
    let a = try Self.train(data), b = try Self.train(data)
    #expect(a.model == b.model)
    let again = GradientBoostedRanker(model: Array(a.model))
    let score = { (m: GradientBoostedRanker) in
      try data.features.withUnsafeBufferPointer { try m.scores(features: $0, rows: data.labels.count, columns: Self.columns, threads: 1) }
    }
    #expect(try score(a) == score(again))
    #expect(
      try score(a)
        == data.features.withUnsafeBufferPointer { try a.scores(features: $0, rows: data.labels.count, columns: Self.columns, threads: 2) })
  }

  @Test func badInputIsAnErrorNotACrash() throws {
    let broken = GradientBoostedRanker(model: Array("not a model".utf8))
    #expect(throws: GradientBoostedRanker.Failure.self) {
      try [Float](repeating: 0, count: 5).withUnsafeBufferPointer { try broken.scores(features: $0, rows: 1, columns: 5) }
    }
  }
}

extension GradientBoostedRankerTests {
  /// The model depends on nothing but data and params: `threads` is a param, fixed per stage.
  @Test func threadCountIsAParamAndTheModelFollowsIt() throws {
    let data = Self.planted(groups: 400, size: 25, seed: 4)
    let one = try Self.train(data, threads: 1), two = try Self.train(data, threads: 2)
    print("xgboost models at 1 and 2 threads identical: \(one.model == two.model)")
    #expect(try Self.train(data, threads: 1).model == one.model)
  }
}

/// train-ranker's rows: only groups with a bought and a not-bought row, every bought row kept, at
/// most `negatives` of the others, the same sample for the same seed, rows in their order.
@Suite struct TrainingRowsTests {
  /// Customers 0…19 with 30 candidates each; customer c bought candidates 0 and c (the bought row of
  /// customer 0 is its only one); customer 19 bought nothing.
  static func table() -> Table {
    var customer: [UInt32] = [], article: [UInt32] = [], x: [Float] = [], label: [Float] = []
    for c in 0..<20 {
      for a in 0..<30 {
        customer.append(UInt32(c))
        article.append(UInt32(100 + a))
        x.append(Float(c * 100 + a))
        label.append(c < 19 && (a == 0 || a == c) ? 1 : 0)
      }
    }
    return Table(
      [Column("customer", customer), Column("article", article), Column("x", x), Column("label", label)], metadata: ["features": "x"])
  }

  static func rows(negatives: Int, seed: UInt64) throws -> TrainingRows {
    var rows = TrainingRows(negatives: negatives, seed: seed)
    try rows.add(table(), slot: "features", stage: "train-ranker")
    return rows
  }

  @Test func keepsEveryBoughtRowAndSamplesTheOthers() throws {
    let all = try Self.rows(negatives: 0, seed: 0)
    #expect(all.groups == [UInt32](repeating: 30, count: 19), "customer 19 bought nothing and teaches nothing")
    let sampled = try Self.rows(negatives: 5, seed: 0)
    #expect(sampled.groups == [6] + [UInt32](repeating: 7, count: 18))
    #expect(sampled.labels.filter { $0 > 0 }.count == all.labels.filter { $0 > 0 }.count)
    // Within each group the rows keep their order (x rises), and each group holds its own customer's rows.
    var at = 0
    for (c, size) in sampled.groups.enumerated() {
      let x = sampled.features[at..<(at + Int(size))]
      #expect(zip(x, x.dropFirst()).allSatisfy { $0 < $1 } && x.allSatisfy { Int($0) / 100 == c })
      at += Int(size)
    }
    #expect(try Self.rows(negatives: 5, seed: 0).features == sampled.features, "the same seed, the same sample")
    #expect(try Self.rows(negatives: 5, seed: 1).features != sampled.features, "another seed, another sample")
    #expect(try Self.rows(negatives: 40, seed: 0).features == all.features, "fewer negatives than the cap: all kept")
  }
}
