import Foundation

/// A pipeline file that cannot be used, with the file and the JSON path at fault.
public struct PipelineFileError: Error, Sendable, CustomStringConvertible {
  public var file: String
  public var path: String
  public var message: String
  /// The command line, not the file, is at fault (a `--set` of an undeclared variable).
  public var isUsageError = false
  public init(file: String, path: String, message: String) {
    self.file = file
    self.path = path
    self.message = message
  }
  public var description: String { path.isEmpty ? "\(file): \(message)" : "\(file): \(path): \(message)" }
}

/// Reads a pipeline file (docs/pipeline-file.md), follows `extends`, substitutes variables, and
/// checks everything a run relies on: kinds, params and their types, inputs, names, cycles.
public struct PipelineLoader {
  public var registry: StageRegistry
  /// Variable values that override the file's (`hmpipe run --set name=value`).
  public var overrides: [String: JSONValue]

  public init(registry: StageRegistry, overrides: [String: JSONValue] = [:]) {
    self.registry = registry
    self.overrides = overrides
  }

  public func load(_ path: String) throws(PipelineFileError) -> PipelineSpec {
    let absolute = FileSystem.absolute(path)
    let document = try RawPipeline.read(absolute, displayPath: path, chain: [])
    var variables = document.vars
    for (name, value) in overrides {
      guard variables[name] != nil else {
        var error = PipelineFileError(
          file: path, path: "vars",
          message: "--set names '\(name)', which the pipeline does not declare (it has: \(variables.keys.sorted().joined(separator: ", ")))"
        )
        error.isUsageError = true
        throw error
      }
      variables[name] = value
    }
    let directory = FileSystem.dirname(of: absolute)
    let substitution = VariableSubstitution(variables: variables, file: path)
    var stages: [StageSpec] = []
    var seen: Set<String> = []
    for (index, raw) in document.stages.enumerated() {
      let at = "stages[\(index)]"
      guard seen.insert(raw.name).inserted else {
        throw PipelineFileError(file: path, path: "\(at).name", message: "stage name '\(raw.name)' is used twice")
      }
      stages.append(try resolveStage(raw, at: at, file: path, directory: directory, substitution: substitution))
    }
    try checkReferences(stages, file: path)
    let ordered = try TopologicalOrder.sort(stages, file: path)
    let projectRoot = Self.projectRoot(of: directory)
    var store = document.store ?? (projectRoot == directory ? "artifacts" : projectRoot + "/artifacts")
    if case .string(let s) = try substitution.apply(.string(store), at: "store") { store = s }
    let storePath = FileSystem.absolute(store.hasPrefix("/") ? store : directory + "/" + store)
    var spec = PipelineSpec(
      path: absolute, name: document.name ?? FileSystem.basename(of: path), storePath: storePath,
      variables: variables, stages: ordered, inputsHelp: document.inputsHelp)
    spec.projectRoot = projectRoot
    if let remote = document.remote, case .string(let r) = try substitution.apply(.string(remote), at: "remote") { spec.remote = r }
    spec.publishOutsideProject = document.publishOutsideProject
    spec.overrides = overrides
    return spec
  }

  /// The folder above the nearest `pipelines` folder holding `directory` (pipelines/ and
  /// pipelines/examples/ both belong to the repository above them), else `directory` itself.
  static func projectRoot(of directory: String) -> String {
    var folder = directory
    while folder != "/" && !folder.isEmpty {
      if FileSystem.basename(of: folder) == "pipelines" { return FileSystem.dirname(of: folder) }
      folder = FileSystem.dirname(of: folder)
    }
    return directory
  }

  private func resolveStage(
    _ raw: RawPipeline.Stage, at: String, file: String, directory: String, substitution: VariableSubstitution
  ) throws(PipelineFileError) -> StageSpec {
    guard let definition = registry[raw.kind] else {
      let hint = Suggestion.closest(to: raw.kind, in: registry.kinds).map { " (did you mean '\($0)'?)" } ?? ""
      throw PipelineFileError(
        file: file, path: "\(at).kind",
        message:
          "unknown stage kind '\(raw.kind)'\(hint); known kinds: \(registry.kinds.joined(separator: ", "))")
    }
    do {
      return try resolveStage(raw, definition, at: at, file: file, directory: directory, substitution: substitution)
    } catch {
      throw blamingSet(error, stage: raw)
    }
  }

  /// A param error whose value came from a `--set` names the `--set` (the command line is at
  /// fault) and the stage by name, not a place in the file the user did not write.
  private func blamingSet(_ error: PipelineFileError, stage raw: RawPipeline.Stage) -> PipelineFileError {
    let marker = ".params."
    guard let range = error.path.range(of: marker) else { return error }
    let key = String(error.path[range.upperBound...].prefix { $0 != "." && $0 != "[" })
    guard let value = raw.params[key],
      let name = VariableSubstitution.references(in: value).first(where: { overrides[$0] != nil })
    else { return error }
    var blamed = PipelineFileError(
      file: "--set \(name)=\(overrides[name]!.canonical)", path: "stage '\(raw.name)' param '\(key)'", message: error.message)
    blamed.isUsageError = true
    return blamed
  }

  private func resolveStage(
    _ raw: RawPipeline.Stage, _ definition: StageDefinition, at: String, file: String, directory: String,
    substitution: VariableSubstitution
  ) throws(PipelineFileError) -> StageSpec {
    var merged = definition.defaults
    for (key, value) in raw.params {
      guard definition.defaults[key] != nil else {
        let hint = Suggestion.closest(to: key, in: Array(definition.defaults.keys)).map { " (did you mean '\($0)'?)" } ?? ""
        throw PipelineFileError(
          file: file, path: "\(at).params.\(key)",
          message:
            "unknown param for kind '\(raw.kind)'\(hint); its params are: \(definition.defaults.keys.sorted().joined(separator: ", "))")
      }
      let resolved = try substitution.apply(value, at: "\(at).params.\(key)")
      if let expected = ParamDecoding.mismatch(resolved, default: definition.defaults[key]!) {
        throw PipelineFileError(
          file: file, path: "\(at).params.\(key)", message: "must be \(expected) but is \(resolved.typeName) (\(resolved.canonical))")
      }
      merged[key] = resolved
    }
    let params: JSONValue
    do {
      params = try definition.resolve(.object(merged))
    } catch let error as ParamError {
      throw PipelineFileError(file: file, path: "\(at).params.\(error.param)", message: error.message)
    } catch let error as DecodingError {
      throw ParamDecoding.explain(error, stage: at, params: merged, file: file)
    } catch {
      throw PipelineFileError(file: file, path: "\(at).params", message: "\(error)")
    }
    var definition = definition
    var inputs: [String: InputReference] = [:]
    if let slots = definition.slotsFromParams {
      let declared: (outputs: [String], files: [String: String])
      do { declared = try slots(params) } catch {
        throw PipelineFileError(file: file, path: "\(at).params", message: "\(error)")
      }
      definition.outputs = declared.outputs.sorted()
      definition.inputs = raw.inputs.keys.sorted().map { InputSlot($0, accepts: .either) }
      for (name, path) in declared.files.sorted(by: { $0.key < $1.key }) {
        let slot = "deps.\(name)"
        definition.inputs.append(InputSlot(slot, accepts: .file))
        inputs[slot] = .file(FileSystem.absolute(path.hasPrefix("/") ? path : directory + "/" + path))
      }
    }
    for (slot, value) in raw.inputs {
      guard let declared = definition.inputs.first(where: { $0.name == slot }) else {
        throw PipelineFileError(
          file: file, path: "\(at).inputs.\(slot)",
          message:
            "kind '\(raw.kind)' has no input '\(slot)'; its inputs are: \(definition.inputs.map(\.name).joined(separator: ", "))")
      }
      guard case .string(let text) = try substitution.apply(.string(value), at: "\(at).inputs.\(slot)") else {
        throw PipelineFileError(file: file, path: "\(at).inputs.\(slot)", message: "must be a string")
      }
      let reference = try InputReference.parse(text, relativeTo: directory, file: file, at: "\(at).inputs.\(slot)")
      switch (declared.accepts, reference) {
      case (.artifact, .file):
        throw PipelineFileError(file: file, path: "\(at).inputs.\(slot)", message: "takes a stage output (stage.output), not a file")
      case (.file, .output):
        throw PipelineFileError(file: file, path: "\(at).inputs.\(slot)", message: "takes a file (file:path), not a stage output")
      default: inputs[slot] = reference
      }
    }
    for slot in definition.inputs where !slot.optional && inputs[slot.name] == nil {
      throw PipelineFileError(file: file, path: "\(at).inputs", message: "input '\(slot.name)' of kind '\(raw.kind)' is missing")
    }
    var publish: [String: String] = [:], variant: [String: String] = [:]
    for (output, value) in raw.publish {
      guard definition.outputs.contains(output) else {
        throw PipelineFileError(
          file: file, path: "\(at).publish.\(output)",
          message:
            "kind '\(raw.kind)' has no output '\(output)'; its outputs are: \(definition.outputs.joined(separator: ", "))")
      }
      guard case .string(let path) = try substitution.apply(.string(value), at: "\(at).publish.\(output)") else {
        throw PipelineFileError(file: file, path: "\(at).publish.\(output)", message: "must be a string")
      }
      publish[output] = FileSystem.absolute(path.hasPrefix("/") ? path : directory + "/" + path)
      let named = Set(VariableSubstitution.references(in: .string(value)))
      variant[output] = overrides.keys.sorted().filter { !named.contains($0) }.map { "\($0)=\(overrides[$0]!.canonical)" }
        .joined(separator: " ")
    }
    var spec = StageSpec(name: raw.name, definition: definition, params: params, inputs: inputs, publish: publish)
    spec.publishVariant = variant
    return spec
  }

  /// Every `stage.output` must name a stage of this pipeline and one of its declared outputs.
  private func checkReferences(_ stages: [StageSpec], file: String) throws(PipelineFileError) {
    let byName = Dictionary(uniqueKeysWithValues: stages.map { ($0.name, $0) })
    for (index, stage) in stages.enumerated() {
      for (slot, reference) in stage.inputs.sorted(by: { $0.key < $1.key }) {
        guard case .output(let name, var output) = reference else { continue }
        let at = "stages[\(index)].inputs.\(slot)"
        guard let producer = byName[name] else {
          let hint = Suggestion.closest(to: name, in: Array(byName.keys)).map { " (did you mean '\($0)'?)" } ?? ""
          throw PipelineFileError(file: file, path: at, message: "no stage named '\(name)'\(hint)")
        }
        if output.isEmpty {
          guard producer.definition.outputs.count == 1 else {
            throw PipelineFileError(
              file: file, path: at,
              message:
                "stage '\(name)' has several outputs; name one: \(producer.definition.outputs.map { "\(name).\($0)" }.joined(separator: ", "))"
            )
          }
          output = producer.definition.outputs[0]
        }
        guard producer.definition.outputs.contains(output) else {
          throw PipelineFileError(
            file: file, path: at,
            message:
              "stage '\(name)' has no output '\(output)'; its outputs are: \(producer.definition.outputs.joined(separator: ", "))")
        }
      }
    }
  }
}

extension InputReference {
  /// `file:PATH` (relative to the pipeline file's folder), `stage.output`, or `stage` alone.
  static func parse(_ text: String, relativeTo directory: String, file: String, at: String) throws(PipelineFileError) -> InputReference {
    if text.hasPrefix("file:") {
      let path = String(text.dropFirst(5))
      guard !path.isEmpty else { throw PipelineFileError(file: file, path: at, message: "'file:' needs a path") }
      return .file(FileSystem.absolute(path.hasPrefix("/") ? path : directory + "/" + path))
    }
    let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
    guard let stage = parts.first, !stage.isEmpty, parts.count == 1 || !parts[1].isEmpty else {
      throw PipelineFileError(file: file, path: at, message: "'\(text)' is neither 'stage.output' nor 'file:path'")
    }
    return .output(stage: stage, output: parts.count == 2 ? parts[1] : "")
  }
}

/// The closest known name to a misspelt one, when it is close enough to be a likely typo.
/// "Did you mean …": the candidate nearest a misspelt name by edit distance, when near enough.
enum Suggestion {
  /// Longest name a suggestion is looked for: the distance costs the product of the lengths, and
  /// nobody misspells a 30,000-character name.
  static let longestWord = 64

  static func closest(to word: String, in candidates: [String]) -> String? {
    guard word.count <= longestWord else { return nil }
    let limit = max(2, word.count / 3)
    var best: (name: String, distance: Int)?
    // The distance is at least the difference in length: skip what cannot be near.
    for candidate in candidates.sorted() where abs(candidate.count - word.count) <= limit && candidate.count <= longestWord * 2 {
      let d = distance(word, candidate)
      if d < (best?.distance ?? Int.max) { best = (candidate, d) }
    }
    guard let best, best.distance <= limit else { return nil }
    return best.name
  }

  static func distance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    var row = Array(0...b.count)
    for i in 1...max(a.count, 1) where !a.isEmpty {
      var previous = row[0]
      row[0] = i
      for j in stride(from: 1, through: b.count, by: 1) {
        let current = row[j]
        row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
        previous = current
      }
    }
    return a.isEmpty ? b.count : row[b.count]
  }
}

/// Turns a JSON decoding failure of a stage's params into the param's path and what was expected.
enum ParamDecoding {
  static func explain(_ error: DecodingError, stage at: String, params: [String: JSONValue], file: String) -> PipelineFileError {
    func where_(_ context: DecodingError.Context) -> String {
      "\(at).params" + context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
    }
    switch error {
    case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
      let key = context.codingPath.first?.stringValue ?? ""
      let got = params[key].map { " but is \($0.typeName) (\($0.canonical))" } ?? ""
      return PipelineFileError(file: file, path: where_(context), message: "must be \(ParamDecoding.name(of: type))\(got)")
    case .dataCorrupted(let context):
      let key = context.codingPath.first?.stringValue ?? ""
      if context.debugDescription.hasPrefix("must be ") {
        return PipelineFileError(file: file, path: where_(context), message: context.debugDescription)
      }
      let got = params[key].map { " (got \($0.canonical))" } ?? ""
      return PipelineFileError(file: file, path: where_(context), message: "invalid value\(got): \(context.debugDescription)")
    case .keyNotFound(let key, let context):
      return PipelineFileError(file: file, path: where_(context) + ".\(key.stringValue)", message: "is required")
    @unknown default:
      return PipelineFileError(file: file, path: "\(at).params", message: "\(error)")
    }
  }

  /// What a param must be, when `value` cannot stand where `defaultValue` stands.
  static func mismatch(_ value: JSONValue, default defaultValue: JSONValue) -> String? {
    switch (defaultValue, value) {
    case (.int, .int), (.double, .int), (.double, .double), (.string, .string), (.bool, .bool): nil
    case (.int, .double(let d)) where d == d.rounded() && abs(d) < 1e15: nil
    case (.int, _): "an integer"
    case (.double, _): "a number"
    case (.string, _): "a string"
    case (.bool, _): "a boolean"
    case (.array, .array), (.object, .object): nil
    case (.array, _): "an array"
    case (.object, _): "an object"
    default: nil
    }
  }

  static func name(of type: Any.Type) -> String {
    switch type {
    case is Int.Type, is Int64.Type, is Int32.Type, is UInt.Type: "an integer"
    case is Double.Type, is Float.Type: "a number"
    case is String.Type: "a string"
    case is Bool.Type: "a boolean"
    default: "\(type)"
    }
  }
}
