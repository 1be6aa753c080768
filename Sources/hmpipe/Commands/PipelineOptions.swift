import ArgumentParser
import Foundation
import Pipeline
import S3Remote
import Stages

/// The options every command that reads a pipeline file shares.
struct PipelineOptions: ParsableArguments {
  @Argument(help: "The pipeline file (JSON), e.g. pipelines/demo.json.", completion: .file(extensions: ["json"]))
  var pipeline: String

  @Option(
    name: .customLong("set"),
    help: ArgumentHelp("Override a pipeline variable: --set name=value (value as JSON, else a string).", valueName: "name=value"))
  var variables: [String] = []

  @Option(help: "The store folder (default: the pipeline file's \"store\", else artifacts/ beside the pipeline's project).")
  var store: String?

  /// Loads and validates the pipeline, and opens its store, with the remote cache `remote` asks
  /// for (its warnings go to `warn`).
  func load(remote: RemoteOptions? = nil, warn: @escaping @Sendable (String) -> Void = Self.printWarning) throws -> (PipelineSpec, Store) {
    var spec = try Self.spec(pipeline, overrides: try overrides())
    if let store { spec.storePath = FileSystem.absolute(store) }
    return (spec, try Store(root: spec.storePath, remote: try remote?.open(for: spec, warn: warn)))
  }

  static func printWarning(_ message: String) {
    FileHandle.standardError.write(Data("hmpipe: warning: \(message)\n".utf8))
  }
  func overrides() throws -> [String: JSONValue] { try Self.overrides(variables) }

  /// Run `number` of this pipeline as `hmpipe runs` numbers them (1 = newest) among `records`; a
  /// number outside them is a usage error naming `flag`.
  func run(_ number: Int, flag: String, of records: [RunRecord], store: String) throws -> RunRecord {
    guard !records.isEmpty else {
      throw ValidationError("no runs of \(pipeline) recorded in \(store): run it first (hmpipe run \(pipeline))")
    }
    guard (1...records.count).contains(number) else {
      throw ValidationError("\(flag) \(number): \(pipeline) has \(records.count) recorded run\(records.count == 1 ? "" : "s") (1 = newest)")
    }
    return records[number - 1]
  }

  /// Loads a pipeline file with `--set` values; an undeclared variable is a usage error (exit 64).
  static func spec(_ path: String, overrides: [String: JSONValue]) throws -> PipelineSpec {
    do { return try PipelineLoader(registry: HMStages.registry, overrides: overrides).load(path) } catch  where error.isUsageError {
      throw ValidationError(error.description)
    }
  }

  /// `--set name=value` items as variable values (a value is JSON when it parses, else a string).
  static func overrides(_ items: [String]) throws -> [String: JSONValue] {
    var values: [String: JSONValue] = [:]
    for item in items {
      guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
        throw ValidationError("--set takes name=value, not '\(item)'")
      }
      let text = String(item[item.index(after: equals)...])
      values[String(item[..<equals])] = (try? JSONValue.parse(Data(text.utf8))) ?? .string(text)
    }
    return values
  }
}

/// `--store` for commands that work on a store without a pipeline file.
struct StoreOptions: ParsableArguments {
  @Option(help: "The store folder.")
  var store: String = "artifacts"

  func open() throws -> Store { try StoreOptions.open(store) }

  static func open(_ store: String) throws -> Store {
    guard FileSystem.isDirectory(store) else {
      throw ValidationError(
        "no store at \(store); pass --store DIR (a pipeline's store is its \"store\" field, by default artifacts/ beside the project)")
    }
    return try Store(root: store, create: false)
  }
}

extension DagRenderer.Format: ExpressibleByArgument {}
extension Exporter.Format: ExpressibleByArgument {}

/// The team-cache options of the commands that use one (`run`, `status`, `push`, `pull`).
struct RemoteOptions: ParsableArguments {
  @Option(
    help: ArgumentHelp(
      "A team cache on S3 or an S3-compatible service (default: $HMPIPE_REMOTE, else the pipeline file's \"remote\"); "
        + "the endpoint comes from $AWS_ENDPOINT_URL, the region from $AWS_REGION, credentials as the AWS tools find them. "
        + "'none' turns it off.", valueName: "s3://bucket/prefix"))
  var remote: String?

  @Flag(help: "Fail when the remote cache cannot be used, instead of carrying on without it.")
  var requireRemote = false

  /// The remote cache to use for `spec`, or nil when none is named.
  func open(for spec: PipelineSpec, warn: @escaping @Sendable (String) -> Void) throws -> RemoteCache? {
    let environment = ProcessInfo.processInfo.environment["HMPIPE_REMOTE"].flatMap { $0.isEmpty ? nil : $0 }
    guard let url = remote ?? environment ?? spec.remote, url != "none" else { return nil }
    do {
      return RemoteCache(store: try S3ArtifactStore(url: url), required: requireRemote, warn: warn)
    } catch let error as S3ConfigurationError {
      throw ValidationError(error.description)
    }
  }
}
