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
