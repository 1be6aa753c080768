import CXGBoost
import Foundation
import Pipeline

/// Learning to rank with gradient-boosted trees, through XGBoost's C API (Debian's libxgboost,
/// 1.7): trained on a dense feature matrix whose rows come in groups (one group per customer, its
/// candidates), scored row by row. The model is XGBoost's own JSON, so it can be a file artifact and
/// be read by the Python package too.
///
/// Determinism: the histogram method sums gradients in per-thread buffers, so a different thread
/// count may choose different splits. Training therefore runs on a fixed number of threads
/// (`Params.threads`, part of the stage's params and key), not on however many cores the machine
/// has: the same data and params give the same model bytes on any machine.
public struct GradientBoostedRanker: Sendable {
  /// The trained model, as XGBoost's JSON.
  public let model: [UInt8]

  public struct Params: Sendable, Equatable {
    public var objective = "rank:pairwise"
    public var rounds = 100
    public var learningRate = 0.1
    public var maxDepth = 6
    public var minChildWeight = 1.0
    public var subsample = 1.0
    public var columnSample = 1.0
    public var seed = 0
    public var threads = 2
    public init() {}

    var settings: [(String, String)] {
      [
        ("objective", objective), ("eta", "\(learningRate)"), ("max_depth", "\(maxDepth)"),
        ("min_child_weight", "\(minChildWeight)"), ("subsample", "\(subsample)"), ("colsample_bytree", "\(columnSample)"),
        ("seed", "\(seed)"), ("nthread", "\(threads)"), ("tree_method", "hist"), ("eval_metric", "ndcg@12"),
      ]
    }
  }

  /// A failed XGBoost call, in its own words.
  public struct Failure: Error, Sendable, CustomStringConvertible {
    public var description: String
  }

  public init(model: [UInt8]) { self.model = model }

  /// Trains on `features` (`rows` × `columns`, row-major; NaN = missing) with `labels` (relevance,
  /// 0 or more) and `groups` (sizes of consecutive row groups, summing to `rows`).
  public static func train(
    features: UnsafeBufferPointer<Float>, rows: Int, columns: Int, labels: [Float], groups: [UInt32], params: Params,
    progress: (Int) -> Void = { _ in }
  ) throws(Failure) -> GradientBoostedRanker {
    precondition(features.count >= rows * columns && labels.count == rows && groups.reduce(0, { $0 + Int($1) }) == rows)
    let matrix = try Matrix(features, rows: rows, columns: columns, threads: params.threads)
    try check(labels.withUnsafeBufferPointer { XGDMatrixSetFloatInfo(matrix.handle, "label", $0.baseAddress, UInt64(rows)) })
    try check(groups.withUnsafeBufferPointer { XGDMatrixSetUIntInfo(matrix.handle, "group", $0.baseAddress, UInt64(groups.count)) })
    let booster = try Booster(training: matrix)
    for (key, value) in params.settings { try check(XGBoosterSetParam(booster.handle, key, value)) }
    for round in 0..<params.rounds {
      try check(XGBoosterUpdateOneIter(booster.handle, Int32(round), matrix.handle))
      progress(round + 1)
    }
    return GradientBoostedRanker(model: try booster.serialized())
  }

  /// The model's score of every row of `features` (higher ranks first).
  public func scores(features: UnsafeBufferPointer<Float>, rows: Int, columns: Int, threads: Int = 2) throws(Failure) -> [Float] {
    precondition(features.count >= rows * columns)
    guard rows > 0 else { return [] }
    let booster = try Booster(model: model, threads: threads)
    let matrix = try Matrix(features, rows: rows, columns: columns, threads: threads)
    var shape: UnsafePointer<UInt64>?
    var dimensions: UInt64 = 0
    var result: UnsafePointer<Float>?
    let config = #"{"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false}"#
    try Self.check(XGBoosterPredictFromDMatrix(booster.handle, matrix.handle, config, &shape, &dimensions, &result))
    guard let result else { throw Failure(description: "XGBoost returned no predictions") }
    return Array(UnsafeBufferPointer(start: result, count: rows))
  }

  /// Each feature's total gain over the model's splits (0 for a feature never split on).
  public func importance(columns: Int) throws(Failure) -> [Double] {
    let booster = try Booster(model: model, threads: 1)
    var count: UInt64 = 0, dimensions: UInt64 = 0
    var names: UnsafeMutablePointer<UnsafePointer<CChar>?>?
    var shape: UnsafePointer<UInt64>?
    var scores: UnsafePointer<Float>?
    try Self.check(
      XGBoosterFeatureScore(booster.handle, #"{"importance_type": "total_gain"}"#, &count, &names, &dimensions, &shape, &scores))
    var gains = [Double](repeating: 0, count: columns)
    for i in 0..<Int(count) {
      // Unnamed features are "f0", "f1", …
      guard let name = names?[i], let scores, let index = Int(String(cString: name).dropFirst()), index < columns else { continue }
      gains[index] = Double(scores[i])
    }
    return gains
  }

  static func check(_ code: Int32) throws(Failure) {
    if code != 0 { throw Failure(description: "XGBoost: " + String(cString: XGBGetLastError())) }
  }

  /// An XGBoost DMatrix over a dense matrix, freed with the value.
  final class Matrix {
    let handle: DMatrixHandle

    init(_ features: UnsafeBufferPointer<Float>, rows: Int, columns: Int, threads: Int) throws(Failure) {
      var handle: DMatrixHandle?
      try GradientBoostedRanker.check(
        XGDMatrixCreateFromMat_omp(features.baseAddress, UInt64(rows), UInt64(columns), .nan, &handle, Int32(threads)))
      guard let handle else { throw Failure(description: "XGBoost made no matrix") }
      self.handle = handle
    }

    deinit { XGDMatrixFree(handle) }
  }

  /// An XGBoost booster, freed with the value.
  final class Booster {
    let handle: BoosterHandle

    init(training matrix: Matrix) throws(Failure) {
      var handle: BoosterHandle?
      var matrices: [DMatrixHandle?] = [matrix.handle]
      try GradientBoostedRanker.check(XGBoosterCreate(&matrices, 1, &handle))
      guard let handle else { throw Failure(description: "XGBoost made no booster") }
      self.handle = handle
    }

    init(model: [UInt8], threads: Int) throws(Failure) {
      var handle: BoosterHandle?
      try GradientBoostedRanker.check(XGBoosterCreate(nil, 0, &handle))
      guard let handle else { throw Failure(description: "XGBoost made no booster") }
      self.handle = handle
      try GradientBoostedRanker.check(model.withUnsafeBytes { XGBoosterLoadModelFromBuffer(handle, $0.baseAddress, UInt64($0.count)) })
      try GradientBoostedRanker.check(XGBoosterSetParam(handle, "nthread", "\(threads)"))
    }

    func serialized() throws(Failure) -> [UInt8] {
      var length: UInt64 = 0
      var bytes: UnsafePointer<CChar>?
      try GradientBoostedRanker.check(XGBoosterSaveModelToBuffer(handle, #"{"format": "json"}"#, &length, &bytes))
      guard let bytes else { return [] }
      return bytes.withMemoryRebound(to: UInt8.self, capacity: Int(length)) { Array(UnsafeBufferPointer(start: $0, count: Int(length))) }
    }

    deinit { XGBoosterFree(handle) }
  }
}
