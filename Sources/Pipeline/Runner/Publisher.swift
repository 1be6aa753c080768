/// A file output could not be copied to the path the pipeline names.
public struct PublishError: Error, Sendable, CustomStringConvertible {
  public var stage: String
  public var output: String
  public var path: String
  public var detail: String
  public var description: String { "stage '\(stage)': cannot publish '\(output)' to \(path): \(detail)" }
}

extension Rebuilder {
  /// Copies the stage's published file outputs to their paths (atomically, and only when the file
  /// there differs), after it ran or was found cached. A failure to publish fails the stage.
  func publish(_ stage: StageSpec, _ outcome: StageOutcome) -> StageOutcome {
    guard outcome.succeeded, !stage.publish.isEmpty else { return outcome }
    var outcome = outcome
    for (output, path) in stage.publish.sorted(by: { $0.key < $1.key }) {
      do {
        guard let id = outcome.outputs[output] else { continue }
        let table = try store.reader(id).table()
        guard table.kind == .file else {
          throw PublishError(stage: stage.name, output: output, path: path, detail: "it is a table, not a file (use hmpipe export)")
        }
        let bytes = Array(table.columns[0].values.bytes)
        if (try? FileSystem.readAll(path)) == bytes { continue }
        try FileSystem.makeDirectories(FileSystem.dirname(of: path))
        try FileSystem.writeAtomically(bytes, to: path)
        emit(.stageMessage(stage: stage.name, message: "published \(output) to \(path)"))
      } catch let error as PublishError {
        outcome.record.status = .failed
        outcome.record.error = error.description
      } catch {
        outcome.record.status = .failed
        outcome.record.error = PublishError(stage: stage.name, output: output, path: path, detail: "\(error)").description
      }
    }
    return outcome
  }
}
