import ArgumentParser
import Foundation
import Pipeline

/// `hmpipe report`: a run of a pipeline as one self-contained HTML page.
struct Report: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Write an HTML report of a run: verdict, charts, DAG, timeline, memory, sizes, trend over runs.",
    discussion: "The page needs no network and no script: open it in any browser, on a phone too.")

  @OptionGroup var options: PipelineOptions

  @Option(name: .customLong("run"), help: "Which run, as numbered by `hmpipe runs` (1 = newest).")
  var number = 1

  @Option(help: "Where to write the page (default: NAME-report.html in the current folder, NAME the pipeline's name).")
  var out: String?

  func run() async throws {
    let (spec, store) = try options.load()
    let records = store.runRecords(ofPipeline: spec.path)
    let record = try options.run(number, flag: "--run", of: records, store: spec.storePath)
    let html = RunReport(spec: spec, record: record, history: Array(records[(number - 1)...])).html
    let path = out ?? "\(spec.name)-report.html"
    try FileSystem.writeAtomically(Array(html.utf8), to: path)
    print("wrote \(path)")
  }
}
