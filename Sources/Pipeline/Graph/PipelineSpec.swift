/// Where a stage input comes from: another stage's output, or a file outside the store.
public enum InputReference: Sendable, Hashable, CustomStringConvertible {
  case output(stage: String, output: String)
  case file(String)

  public var description: String {
    switch self {
    case .output(let stage, let output): "\(stage).\(output)"
    case .file(let path): "file:\(path)"
    }
  }
}

/// One stage of a loaded pipeline: its kind, its resolved params (defaults filled in, canonical)
/// and where each input comes from.
public struct StageSpec: Sendable {
  public var name: String
  public var definition: StageDefinition
  public var params: JSONValue
  public var inputs: [String: InputReference]
  /// File outputs copied out of the store after the stage runs or is found cached: output →
  /// absolute path. Not part of the stage's key.
  public var publish: [String: String] = [:]
  /// For each published output, the `--set` values its path does not name ("factors=64"; empty
  /// for none): the variant whose output the file will hold.
  public var publishVariant: [String: String] = [:]
  public var kind: String { definition.kind }

  /// Names of the stages this one reads from.
  public var upstream: [String] {
    inputs.values.compactMap { if case .output(let s, _) = $0 { s } else { nil } }
  }
}

/// A validated pipeline: stages in a topological order (file order where free), ready to schedule.
public struct PipelineSpec: Sendable {
  /// The pipeline file's absolute path.
  public var path: String
  public var name: String
  /// The store's absolute path.
  public var storePath: String
  /// The team cache (`s3://BUCKET/PREFIX`) the file names, if any.
  public var remote: String?
  public var variables: [String: JSONValue]
  public var stages: [StageSpec]
  /// Said when an input file is missing: where the files go and how to get them.
  public var inputsHelp: String?
  /// The project's folder: the pipeline file's, or its parent when that is `pipelines/`.
  public var projectRoot = "/"
  /// Whether `publish` may write outside `projectRoot` (the file's `publish_outside_project`): a
  /// pipeline file from elsewhere must not be able to write anywhere it likes.
  public var publishOutsideProject = false
  /// Whether `publish` may replace a file that holds another variant's output (`run
  /// --overwrite-published`); otherwise that stage fails and says how to name the variant.
  public var overwritePublished = false
  /// The `--set` values the file was loaded with.
  public var overrides: [String: JSONValue] = [:]

  /// Whether `path` (absolute, normalised) lies inside the project.
  public func isInsideProject(_ path: String) -> Bool {
    projectRoot == "/" || path.hasPrefix(projectRoot.hasSuffix("/") ? projectRoot : projectRoot + "/")
  }

  /// Identifies this pipeline's heads in a store: its file's absolute path.
  public var identity: Digest { Digest.of(path) }

  public func stage(_ name: String) -> StageSpec? { stages.first { $0.name == name } }

  /// The output an `.output(producer, output)` reference names: `output`, or the producer's first
  /// output when the reference names the stage alone (`"source"`).
  public func outputName(of producer: String, _ output: String) -> String {
    output.isEmpty ? stage(producer)?.definition.outputs.first ?? "" : output
  }

  /// Stages that read `name`'s outputs directly.
  public func downstream(of name: String) -> [String] {
    stages.filter { $0.upstream.contains(name) }.map(\.name)
  }

  /// `name` and every stage it depends on, transitively.
  public func closure(upTo name: String) -> Set<String> {
    var seen: Set<String> = []
    var stack = [name]
    while let next = stack.popLast() {
      guard seen.insert(next).inserted, let spec = stage(next) else { continue }
      stack.append(contentsOf: spec.upstream)
    }
    return seen
  }

  /// `name` and every stage that depends on it, transitively.
  public func closure(from name: String) -> Set<String> {
    var seen: Set<String> = []
    var stack = [name]
    while let next = stack.popLast() {
      guard seen.insert(next).inserted else { continue }
      stack.append(contentsOf: downstream(of: next))
    }
    return seen
  }
}
