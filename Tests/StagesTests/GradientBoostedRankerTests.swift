import Foundation
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
