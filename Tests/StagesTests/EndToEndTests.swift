import Foundation
import Pipeline
import Testing

@testable import Stages

/// The shipped demo pipeline (synth → … → submit, evaluate) end to end, in a temporary store.
@Suite(.serialized) struct EndToEndTests {
  static let demo = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../../pipelines/demo.json").standardizedFileURL.path

  static func run(_ path: String, in dir: TemporaryDirectory) async throws -> (RunRecord, Store) {
    var spec = try PipelineLoader(registry: HMStages.registry, overrides: ["output": .string(dir.path + "/output")]).load(path)
    spec.storePath = dir.path + "/store"
    spec.publishOutsideProject = true  // the output goes to the test's folder, outside the repository
    let store = try Store(root: spec.storePath)
    return (try await Runner(spec: spec, store: store, options: RunOptions()).run(), store)
  }

  static func statuses(_ record: RunRecord) -> [String: RunRecord.StageRecord.Status] {
    Dictionary(uniqueKeysWithValues: record.stages.map { ($0.name, $0.status) })
  }

  @Test func everyCustomerGetsTwelveAndReruns() async throws {
    let dir = TemporaryDirectory()
    let (first, store) = try await Self.run(Self.demo, in: dir)
    #expect(first.stages.count == 11 && first.stages.allSatisfy { $0.status == .ran }, "\(first.stages.compactMap(\.error))")
    let output = { (stage: String, name: String) in try store.reader(first.stages.first { $0.name == stage }!.outputs[name]!).table() }

    // Every customer: exactly 12 distinct articles; no history → popularity only.
    let predictions = try PredictionsTable.read(try output("fallback", "predictions"))
    let train = try output("split", "train")
    let customers = predictions.offsets.count - 1
    let history = try PurchaseHistory(train, customers: customers)
    for c in 0..<customers {
      let rows = Int(predictions.offsets[c])..<Int(predictions.offsets[c + 1])
      #expect(rows.count == 12 && Set(rows.map { predictions.articles[$0] }).count == 12, "customer \(c)")
      if history.range(of: c).isEmpty { #expect(rows.allSatisfy { predictions.sources[$0] == PredictionSource.popularity.rawValue }) }
    }
    #expect((0..<customers).contains { history.range(of: $0).isEmpty }, "the demo has customers without history")
    // The published submission is the submit stage's artifact, one row per customers.csv customer.
    let published = try FileSystem.readAll(dir.path + "/output/submission-holdout7.csv")
    #expect(published == Array(try output("submit", "submission").column("bytes").values(UInt8.self)))
    let inFile = try output("ingest", "customers").column("in_customers_file").values(UInt8.self)
    #expect(published.filter { $0 == 10 }.count == inFile.filter { $0 == 1 }.count + 1)
    let metrics = try output("evaluate", "metrics")
    let names = (0..<metrics.rowCount).map { try! metrics.column("metric").string(at: $0) }
    let values = try metrics.column("value").values(Double.self)
    #expect(names.first == "map@12" && values[0] > 0 && values[0] < 1)

    // A second run executes nothing.
    let (second, _) = try await Self.run(Self.demo, in: dir)
    #expect(second.stages.allSatisfy { $0.status == .cached })

    // A rank param change reruns rank and what follows it, nothing before.
    dir.write("changed.json", #"{"extends": "\#(Self.demo)", "stages": [{"name": "rank", "params": {"top": 8}}]}"#)
    let (third, _) = try await Self.run(dir.path + "/changed.json", in: dir)
    let status = Self.statuses(third)
    for upstream in ["data", "ingest", "split", "neighbours", "filter", "als"] { #expect(status[upstream] == .cached, "\(upstream)") }
    for downstream in ["rank", "fill", "fallback"] { #expect(status[downstream] == .ran, "\(downstream)") }
  }

  @Test func submissionModeHoldsNothingOut() async throws {
    let dir = TemporaryDirectory()
    dir.write("submission.json", #"{"extends": "\#(Self.demo)", "vars": {"holdout_days": 0, "scale": 0.0005}}"#)
    let (record, store) = try await Self.run(dir.path + "/submission.json", in: dir)
    #expect(record.stages.allSatisfy { $0.status == .ran }, "\(record.stages.compactMap(\.error))")
    let test = try store.reader(record.stages.first { $0.name == "split" }!.outputs["test"]!).table()
    #expect(test.rowCount == 0)
    #expect(record.stages.first { $0.name == "evaluate" }!.figures.isEmpty, "nothing held out: no metrics")
    #expect(FileSystem.exists(dir.path + "/output/submission-holdout0.csv"))
  }

  static let hm = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../../pipelines/hm.json").standardizedFileURL.path
  static let realSlice = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures/hm-real-slice").standardizedFileURL.path

  /// hm.json, unchanged, on 1,000 real transactions: nothing survives ALS's thresholds, and the run
  /// still ends with a valid submission in both modes (every customers.csv customer, in file order,
  /// twelve distinct known 10-digit article ids), with the empty model a warning, not a failure.
  @Test(arguments: [7, 0])
  func realSliceGivesAValidSubmission(holdoutDays: Int) async throws {
    let dir = TemporaryDirectory()
    dir.write("real.json", #"{"extends": "\#(Self.hm)", "vars": {"data": "\#(Self.realSlice)", "holdout_days": \#(holdoutDays)}}"#)
    let (record, _) = try await Self.run(dir.path + "/real.json", in: dir)
    #expect(record.stages.allSatisfy { $0.status == .ran }, "\(record.stages.compactMap(\.error))")
    let figures = { (stage: String) in record.stages.first { $0.name == stage }?.figures ?? [:] }
    #expect(figures("als")["model_cells"] == 0)
    if holdoutDays == 0 {
      #expect(figures("evaluate").isEmpty, "nothing held out: no metrics")
    } else {
      #expect((figures("evaluate")["evaluated_customers"] ?? 0) > 0)
    }
    let customers = try String(contentsOfFile: Self.realSlice + "/customers.csv", encoding: .utf8).split(separator: "\n").dropFirst()
      .map { Array($0.prefix { $0 != "," }.utf8) }
    let articles = try String(contentsOfFile: Self.realSlice + "/articles.csv", encoding: .utf8).split(separator: "\n").dropFirst()
      .map { UInt64($0.prefix { $0 != "," })! }
    let submission = try FileSystem.readAll(dir.path + "/output/submission-holdout\(holdoutDays).csv")
    #expect(throws: Never.self) { try SubmissionCheck(customers: customers, articleIDs: articles, size: 12).validate(submission) }
  }
}
