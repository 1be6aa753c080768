import ArgumentParser
import Foundation
import Pipeline
import Stages

/// `hmpipe diff`: two runs of a pipeline side by side: what the variant changed, which stages' outputs
/// changed, time and memory per stage, and every figure that moved.
struct Diff: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Compare two runs of a pipeline: --set values, file and commit, outputs, time, memory and figures, with deltas.")

  @OptionGroup var options: PipelineOptions

  @Option(help: "The older run, as numbered by `hmpipe runs` (1 = newest).")
  var a = 2

  @Option(help: "The newer run, as numbered by `hmpipe runs`.")
  var b = 1

  @Flag(help: "Print the comparison as one JSON object on stdout.")
  var json = false

  func run() async throws {
    let (spec, store) = try options.load()
    let records = store.runRecords(ofPipeline: spec.path)
    let older = try options.run(a, flag: "--a", of: records, store: spec.storePath)
    let newer = try options.run(b, flag: "--b", of: records, store: spec.storePath)
    var comparison = RunComparison(older, newer)
    let outputs = { (r: RunRecord) in Dictionary(r.stages.map { ($0.name, $0.outputs) }) { x, _ in x } }
    comparison.predictions = try PredictionOverlap.ofSubmissions(spec, store: store, a: outputs(older), b: outputs(newer))
    print(json ? comparison.json.canonical : comparison.text)
  }
}

/// What differs between two run records.
struct RunComparison {
  struct StageRow {
    var name: String, statusA: String, statusB: String, outputs: String
    /// Why the stage ran in B (its key changed: "params changed: factors (32 → 16)"), "" when cached.
    var why: String
    var secondsA: Double?, secondsB: Double?, peakA: Int?, peakB: Int?
  }
  struct FigureRow {
    var stage: String, figure: String, a: Double?, b: Double?
  }

  var variables: [(name: String, a: String?, b: String?)] = []
  var facts: [(name: String, a: String, b: String)] = []
  var stages: [StageRow] = []
  var figures: [FigureRow] = []
  /// How far the two runs' submissions agree, when both have one.
  var predictions: PredictionOverlap?

  init(_ ra: RunRecord, _ rb: RunRecord) {
    let va = ra.variables ?? [:], vb = rb.variables ?? [:]
    variables = Set(va.keys).union(vb.keys).sorted().filter { va[$0] != vb[$0] }.map { ($0, va[$0], vb[$0]) }
    for (name, x, y) in [
      ("pipeline file", ra.pipelineHash.map { String($0.prefix(12)) }, rb.pipelineHash.map { String($0.prefix(12)) }),
      ("git commit", ra.gitCommit.map { String($0.prefix(12)) }, rb.gitCommit.map { String($0.prefix(12)) }),
      ("hmpipe", ra.environment["hmpipe_version"], rb.environment["hmpipe_version"]),
      ("cpu", ra.environment["cpu"], rb.environment["cpu"]), ("openblas", ra.environment["openblas_core"], rb.environment["openblas_core"]),
    ] where x != y {
      facts.append((name, x ?? "-", y ?? "-"))
    }
    let sa = Dictionary(ra.stages.map { ($0.name, $0) }) { a, _ in a }, sb = Dictionary(rb.stages.map { ($0.name, $0) }) { a, _ in a }
    let names = rb.stages.map(\.name) + ra.stages.map(\.name).filter { sb[$0] == nil }
    for name in names {
      let x = sa[name], y = sb[name]
      let outputs =
        x == nil || y == nil ? "-" : x!.outputs == y!.outputs ? "same" : x!.outputs.isEmpty || y!.outputs.isEmpty ? "-" : "changed"
      stages.append(
        StageRow(
          name: name, statusA: x?.status.rawValue ?? "-", statusB: y?.status.rawValue ?? "-", outputs: outputs,
          why: y.map { $0.status == .cached ? "" : $0.error ?? $0.reason } ?? "",
          secondsA: x?.seconds, secondsB: y?.seconds, peakA: x.flatMap { $0.status == .ran ? $0.peakMemoryBytes : nil },
          peakB: y.flatMap { $0.status == .ran ? $0.peakMemoryBytes : nil }))
      let fa = x?.figures ?? [:], fb = y?.figures ?? [:]
      for figure in Set(fa.keys).union(fb.keys).sorted() where !Self.same(fa[figure], fb[figure]) {
        figures.append(FigureRow(stage: name, figure: figure, a: fa[figure], b: fb[figure]))
      }
    }
  }

  static func same(_ x: Double?, _ y: Double?) -> Bool { x == y || (x?.isNaN == true && y?.isNaN == true) }

  var text: String {
    var out: [String] = []
    if variables.isEmpty && facts.isEmpty {
      out.append("same --set values, pipeline file and machine")
    } else {
      out.append(
        Format.table(
          [["WHAT", "A", "B"]] + variables.map { ["--set " + $0.name, $0.a ?? "(file's)", $0.b ?? "(file's)"] }
            + facts.map { [$0.name, $0.a, $0.b] }))
    }
    out.append("")
    out.append(
      Format.table(
        [["STAGE", "A", "B", "OUTPUTS", "SECONDS A", "SECONDS B", "Δ", "PEAK A", "PEAK B", "Δ", "WHY B RAN"]]
          + stages.map { s in
            [
              s.name, s.statusA, s.statusB, s.outputs, s.secondsA.map(Format.seconds) ?? "-", s.secondsB.map(Format.seconds) ?? "-",
              Self.delta(s.secondsA, s.secondsB), s.peakA.map(Format.bytes) ?? "-", s.peakB.map(Format.bytes) ?? "-",
              Self.delta(s.peakA.map(Double.init), s.peakB.map(Double.init)), s.why,
            ]
          }))
    out.append("")
    if figures.isEmpty {
      out.append("no figure changed")
    } else {
      out.append(
        Format.table(
          [["STAGE", "FIGURE", "A", "B", "Δ"]]
            + figures.map { [$0.stage, $0.figure, Format.number($0.a), Format.number($0.b), Self.delta($0.a, $0.b)] }))
    }
    if let p = predictions {
      out.append("")
      out.append(
        String(
          format: "submissions (%@): %.1f%% of predictions in common; %.1f%% of %@ customers have the same list in the same order",
          p.source, p.shareInCommon * 100, p.identicalLists * 100, Format.count(p.customers)))
    }
    return out.joined(separator: "\n")
  }

  /// "+12.5%" (or the absolute change when A is zero), "-" when either side is missing.
  static func delta(_ a: Double?, _ b: Double?) -> String {
    guard let a, let b, a.isFinite, b.isFinite else { return "-" }
    if a == 0 { return b == 0 ? "0" : String(format: "%+.4g", b) }
    return String(format: "%+.1f%%", (b - a) / abs(a) * 100)
  }

  var json: JSONValue {
    let number = { (d: Double?) -> JSONValue in d.map { $0.isFinite ? .double($0) : .null } ?? .null }
    let string = { (s: String?) -> JSONValue in s.map { .string($0) } ?? .null }
    return .object([
      "variables": .array(variables.map { .object(["name": .string($0.name), "a": string($0.a), "b": string($0.b)]) }),
      "facts": .array(facts.map { .object(["name": .string($0.name), "a": .string($0.a), "b": .string($0.b)]) }),
      "stages": .array(
        stages.map {
          .object([
            "name": .string($0.name), "status_a": .string($0.statusA), "status_b": .string($0.statusB), "outputs": .string($0.outputs),
            "why": .string($0.why),
            "seconds_a": number($0.secondsA), "seconds_b": number($0.secondsB),
            "peak_a": number($0.peakA.map(Double.init)), "peak_b": number($0.peakB.map(Double.init)),
          ])
        }),
      "figures": .array(
        figures.map { .object(["stage": .string($0.stage), "figure": .string($0.figure), "a": number($0.a), "b": number($0.b)]) }),
      "predictions": predictions.map {
        .object([
          "source": .string($0.source), "share_in_common": .double($0.shareInCommon), "identical_lists": .double($0.identicalLists),
          "customers": .int(Int64($0.customers)),
        ])
      } ?? .null,
    ])
  }
}
