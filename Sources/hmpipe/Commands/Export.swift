import ArgumentParser
import Pipeline
import Stages

/// `hmpipe export`: an artifact out of the store as CSV or `.npy`.
struct Export: AsyncParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Write a stage output as CSV or NumPy .npy (a file artifact as its bytes).")

  @OptionGroup var options: PipelineOptions

  @Argument(help: "STAGE.OUTPUT (or STAGE when it has one output).", completion: StageNameCompletion.outputs)
  var output: String

  @Option(help: "csv or npy.")
  var format: Exporter.Format = .csv

  @Option(help: "Where to write.")
  var out: String

  @Flag(
    help:
      "CSV of the stored values: customer and article indexes, day numbers and dictionary codes (default: ids, dates and names, and a customer_id column for per-customer tables)."
  )
  var raw = false

  func run() async throws {
    let (spec, store) = try options.load()
    let id = try ArtifactLocator(spec: spec, store: store).locate(output)
    var table = try store.reader(id).table()
    if format == .csv && !raw {
      var readable = ReadableTable(for: id, in: store)
      table = readable.decode(table)
    }
    for path in try Exporter.export(table, as: format, to: out) { print("wrote \(path)") }
  }
}

/// Finds the artifact a `STAGE[.OUTPUT]` names in a pipeline's current state.
struct ArtifactLocator {
  var spec: PipelineSpec
  var store: Store

  func locate(_ reference: String) throws -> ArtifactID {
    let parts = reference.split(separator: ".", maxSplits: 1).map(String.init)
    guard let stage = spec.stage(parts[0]) else {
      throw ValidationError("the pipeline has no stage '\(parts[0])'; its stages are: \(spec.stages.map(\.name).joined(separator: ", "))")
    }
    let output = parts.count > 1 ? parts[1] : (stage.definition.outputs.count == 1 ? stage.definition.outputs[0] : "")
    guard stage.definition.outputs.contains(output) else {
      throw ValidationError(
        "stage '\(stage.name)' has outputs \(stage.definition.outputs.joined(separator: ", ")); name one as \(stage.name).OUTPUT")
    }
    guard let outputs = try Runner(spec: spec, store: store, options: RunOptions()).currentOutputs(of: stage.name),
      let id = outputs[output]
    else {
      throw ValidationError("stage '\(stage.name)' is not up to date; run `hmpipe run \(spec.path) --until \(stage.name)` first")
    }
    return id
  }
}
