/// A file output could not be copied to the path the pipeline names.
public struct PublishError: Error, Sendable, CustomStringConvertible {
  public var stage: String
  public var output: String
  public var path: String
  public var detail: String
  public var description: String { "stage '\(stage)': cannot publish '\(output)' to \(path): \(detail)" }
}

/// What was last published to a path: the artifact, and the stamp of the file written, so a warm
/// run knows the file is still that artifact's copy without reading either.
struct PublishRecord: Codable {
  var path: String
  var id: ArtifactID
  var stamp: FileStamp
  /// The `--set` values the path does not name, of the run that wrote it ("" or nil: none).
  var variant: String?
}

extension Rebuilder {
  /// Copies the stage's published file outputs to their paths (atomically), after it ran or was
  /// found cached, unless the file there is still the copy last published of the same artifact
  /// (same stamp). A failure to publish fails the stage.
  func publish(_ stage: StageSpec, _ outcome: StageOutcome) -> StageOutcome {
    guard outcome.succeeded, !stage.publish.isEmpty else { return outcome }
    var outcome = outcome
    for (output, path) in stage.publish.sorted(by: { $0.key < $1.key }) {
      do {
        guard let id = outcome.outputs[output] else { continue }
        guard spec.publishOutsideProject || spec.isInsideProject(path) else {
          throw PublishError(
            stage: stage.name, output: output, path: path,
            detail: "it is outside the project (\(spec.projectRoot)); a pipeline file that means to write there says "
              + "\"publish_outside_project\": true (or run with --publish-outside-project)")
        }
        let last = store.publishRecord(for: path)
        if let last, last.path == path, last.id == id,
          let stamp = try? FileSystem.stamp(path), stamp == last.stamp
        {
          continue
        }
        let variant = stage.publishVariant[output] ?? ""
        if let last, last.path == path, last.id != id,
          (last.variant ?? "") != variant, !spec.overwritePublished, let stamp = try? FileSystem.stamp(path), stamp == last.stamp
        {
          let theirs = (last.variant ?? "").isEmpty ? "the pipeline file's own values" : last.variant!
          let mine = variant.isEmpty ? "the pipeline file's own values" : variant
          throw PublishError(
            stage: stage.name, output: output, path: path,
            detail: "it holds the output of a run with \(theirs), and this run has \(mine): name the variable in the publish path "
              + "(as ${holdout_days} is), set output to another folder, or rerun with --overwrite-published")
        }
        let reader = try store.reader(id)
        guard reader.manifest.kind == .file else {
          throw PublishError(stage: stage.name, output: output, path: path, detail: "it is a table, not a file (use hmpipe export)")
        }
        try FileSystem.makeDirectories(FileSystem.dirname(of: path))
        try reader.writeFile(to: path)
        try store.putPublishRecord(PublishRecord(path: path, id: id, stamp: try FileSystem.stamp(path), variant: variant))
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
