import ArgumentParser
import Foundation
import Pipeline

/// `hmpipe runs`: the run history of a pipeline's store, newest first.
struct Runs: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "List past runs: when, what ran, wall time, peak memory, the key result and the --set variant.")

  @OptionGroup var options: PipelineOptions

  @Option(help: "How many runs to list (newest first).")
  var limit = 20

  @Flag(help: "Print {\"runs\":[…]} on stdout: each run's record.")
  var json = false

  func run() async throws {
    let (spec, store) = try options.load()
    let records = store.runRecords(ofPipeline: spec.path).prefix(limit)
    let definitions = Dictionary(uniqueKeysWithValues: spec.stages.map { ($0.name, $0.definition) })
    if json {
      let encoder = RecordFile.encoder(pretty: false)
      let runs = try records.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
      print("{\"runs\":[" + runs.joined(separator: ",") + "]}")
      return
    }
    guard !records.isEmpty else {
      print("no runs of \(options.pipeline) recorded in \(spec.storePath)")
      return
    }
    let when = DateFormatter()
    when.dateFormat = "yyyy-MM-dd HH:mm:ss"
    var rows = [["WHEN", "RAN", "CACHED", "FAILED", "WALL", "PEAK", "RESULT", "VARIANT"]]
    for r in records {
      let count = { (statuses: Set<RunRecord.StageRecord.Status>) in String(r.stages.filter { statuses.contains($0.status) }.count) }
      let result = r.stages.compactMap { s in definitions[s.name]?.headline(s.figures).map { Self.brief($0) } }.first ?? "-"
      let variant = (r.variables ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
      rows.append([
        when.string(from: r.startedAt), count([.ran]), count([.cached]), count([.failed, .skipped]),
        Format.seconds(r.seconds), Format.bytes(r.stages.map(\.peakMemoryBytes).max() ?? 0), result, variant.isEmpty ? "-" : variant,
      ])
    }
    print(Format.table(rows))
  }

  /// A headline up to its first colon: the result without the verdict's words.
  static func brief(_ headline: String) -> String {
    String(headline.split(separator: ":", maxSplits: 1).first ?? Substring(headline))
  }
}
