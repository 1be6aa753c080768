import ArgumentParser
import Pipeline
import Stages

/// `hmpipe gc`: frees the space of artifacts nothing needs.
struct GC: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "gc",
    abstract: "Delete artifacts that no listed pipeline's current outputs, nor a recent run, needs.")

  @Argument(help: "The pipelines whose current outputs to keep (they must share one store).")
  var pipelines: [String]

  @Option(
    name: .customLong("set"),
    help: ArgumentHelp(
      "Keep the outputs of this variant: --set name=value, as given to run (applies to every pipeline listed).", valueName: "name=value"))
  var variables: [String] = []

  @Option(help: "The store folder (default: the first pipeline's).")
  var store: String?

  @Option(help: "Also keep what the last N runs produced.")
  var keepRuns = 5

  @Flag(help: "Only say what would be deleted.")
  var dryRun = false

  func run() async throws {
    let overrides = try PipelineOptions.overrides(variables)
    let specs = try pipelines.map { try PipelineOptions.spec($0, overrides: overrides) }
    let root = store ?? specs[0].storePath
    let report = try Maintenance.collect(
      store: try Store(root: root), pipelines: specs, recentRuns: keepRuns, dryRun: dryRun,
      waiting: { _ in print("waiting for the store lock…") })
    let verb = dryRun ? "would delete" : "deleted"
    print(
      "\(verb) \(report.removed.count) artifacts (\(Format.bytes(report.removedBytes))) and \(report.removedCacheEntries) cache entries; kept \(report.kept) artifacts"
    )
  }
}
