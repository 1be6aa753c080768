import Foundation
import Pipeline
import Testing

@testable import hmpipe

/// The live progress line fits the terminal (a wrapped line breaks the redraw and stacks bars) and
/// says how long is left.
@Suite struct ProgressLineTests {
  @Test(arguments: [40, 60, 80, 120, 200])
  func theLineFitsTheTerminal(columns: Int) {
    let line = ProgressView.bar(
      "fit2-als-candidates", 0.25, elapsed: 30, detail: "customers 400,000 of 1,371,980, building the matrix", columns: columns)
    #expect(line.count < columns, "\(line.count) characters on \(columns) columns: \(line)")
    #expect(line.hasPrefix("fit2-als-candidates  "))
    #expect(line.contains(" 25%") && line.contains("eta 1m30s"), "\(line)")
    if columns >= 80 { #expect(line.contains("█") && line.contains("customers")) }
    if columns >= 200 { #expect(line.hasSuffix("building the matrix")) } else if line.contains("customers") { #expect(line.hasSuffix("…")) }
  }

  @Test func noEstimateBeforeThereIsAPaceNorAfterTheEnd() {
    #expect(!ProgressView.bar("als", 0.01, elapsed: 3, detail: "", columns: 80).contains("eta"))
    #expect(!ProgressView.bar("als", 1, elapsed: 3, detail: "", columns: 80).contains("eta"))
    #expect(ProgressView.bar("als", 0.5, elapsed: 3, detail: "", columns: 80).contains("eta 3.00s"))
  }
}

/// The lines after a run: what ran (longest first), what was cached, each result with its verdict.
@Suite struct ClosingSummaryTests {
  static func stage(_ name: String, _ status: RunRecord.StageRecord.Status, _ seconds: Double) -> RunRecord.StageRecord {
    RunRecord.StageRecord(name: name, status: status, reason: "", seconds: seconds)
  }

  @Test func namesTheLongestStagesThenTheResults() {
    let record = RunRecord(
      pipeline: "/p.json", startedAt: Date(), seconds: 62.5, command: "", environment: [:],
      stages: [
        Self.stage("data", .cached, 0), Self.stage("rank", .ran, 10.2), Self.stage("als", .ran, 40.12), Self.stage("fill", .ran, 1.1),
        Self.stage("evaluate", .ran, 0.5),
      ])
    let lines = ProgressView.closing(record, headlines: [("evaluate", "MAP@12 0.03: beats both baselines")], pipeline: "p.json")
    #expect(lines[0] == "done in 1m02s: 4 ran (als 40.12s, rank 10.20s, fill 1.10s, …), 1 cached")
    #expect(lines[1] == "result   evaluate: MAP@12 0.03: beats both baselines")
    #expect(lines[2].contains("hmpipe report p.json"))
    let cached = RunRecord(
      pipeline: "/p.json", startedAt: Date(), seconds: 0.01, command: "", environment: [:], stages: [Self.stage("data", .cached, 0)])
    #expect(ProgressView.closing(cached, headlines: [], pipeline: "p.json") == ["done in 0.01s: 0 ran, 1 cached"])
  }
}
