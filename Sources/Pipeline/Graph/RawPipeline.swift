import Foundation

/// A pipeline file as written, before kinds and params are checked: its shape only, with
/// `extends` already merged.
struct RawPipeline {
  struct Stage {
    var name: String
    var kind: String
    var params: [String: JSONValue]
    var inputs: [String: String]
    var publish: [String: String]
  }

  var name: String?
  var store: String?
  var remote: String?
  var inputsHelp: String?
  var publishOutsideProject = false
  var vars: [String: JSONValue]
  var stages: [Stage]

  static let largestFile = 16 << 20
  static let topLevelKeys: Set = [
    "name", "description", "extends", "store", "remote", "vars", "stages", "inputs_help", "publish_outside_project",
  ]
  static let stageKeys: Set = ["name", "kind", "params", "inputs", "publish", "description"]

  /// Reads `path`; `chain` holds the files already being read, to catch an `extends` loop.
  static func read(_ path: String, displayPath: String, chain: [String]) throws(PipelineFileError) -> RawPipeline {
    let file = displayPath
    let bytes: [UInt8]
    do {
      // A pipeline file is a few kilobytes: refuse what is not a regular file (`/dev/zero` never
      // ends) or is far too large to be one.
      let stamp = try FileSystem.stamp(path)
      guard stamp.isRegularFile, stamp.size <= RawPipeline.largestFile else {
        throw PipelineFileError(
          file: file, path: "",
          message: stamp.isRegularFile
            ? "is \(stamp.size) bytes; a pipeline file is at most \(RawPipeline.largestFile >> 20) MiB"
            : "is not a regular file")
      }
      bytes = try FileSystem.readAll(path)
    } catch let error as PipelineFileError {
      throw error
    } catch {
      throw PipelineFileError(
        file: file, path: "",
        message: "cannot read the pipeline file: \(String(describing: error).components(separatedBy: ": ").last ?? "")")
    }
    let root: JSONValue
    do { root = try JSONValue.parse(Data(bytes)) } catch {
      let place = JSONSyntax.firstProblem(bytes).map { "\($0)" } ?? JSONErrorText.describe(error)
      throw PipelineFileError(file: file, path: "", message: "not valid JSON: \(place)")
    }
    guard case .object(let top) = root else {
      throw PipelineFileError(file: file, path: "", message: "must be a JSON object with a \"stages\" array")
    }
    for key in top.keys.sorted() where !topLevelKeys.contains(key) {
      throw PipelineFileError(
        file: file, path: key, message: "unknown field; a pipeline file has: \(topLevelKeys.sorted().joined(separator: ", "))")
    }
    var base = RawPipeline(name: nil, store: nil, remote: nil, inputsHelp: nil, vars: [:], stages: [])
    if let extends = top["extends"] {
      guard case .string(let relative) = extends else {
        throw PipelineFileError(file: file, path: "extends", message: "must be a path (a string)")
      }
      let basePath = FileSystem.absolute(relative.hasPrefix("/") ? relative : FileSystem.dirname(of: path) + "/" + relative)
      if chain.contains(basePath) || basePath == path {
        throw PipelineFileError(
          file: file, path: "extends", message: "extends itself through \(chain.map(FileSystem.basename).joined(separator: " → "))")
      }
      base = try read(basePath, displayPath: relative, chain: chain + [path])
    }
    let name = try string(top["name"], file: file, at: "name")
    let store = try string(top["store"], file: file, at: "store")
    let remote = try string(top["remote"], file: file, at: "remote")
    let inputsHelp = try string(top["inputs_help"], file: file, at: "inputs_help")
    var publishOutsideProject = base.publishOutsideProject
    if let flag = top["publish_outside_project"] {
      guard case .bool(let allowed) = flag else {
        throw PipelineFileError(file: file, path: "publish_outside_project", message: "must be true or false")
      }
      publishOutsideProject = allowed
    }
    var vars = base.vars
    if let v = top["vars"] {
      guard case .object(let o) = v else { throw PipelineFileError(file: file, path: "vars", message: "must be an object") }
      vars.merge(o) { _, new in new }
    }
    var stages = base.stages
    guard let stageList = top["stages"] ?? (top["extends"] != nil ? .array([]) : nil) else {
      throw PipelineFileError(file: file, path: "stages", message: "is missing: a pipeline needs a \"stages\" array")
    }
    guard case .array(let entries) = stageList else {
      throw PipelineFileError(file: file, path: "stages", message: "must be an array of stage objects")
    }
    for (index, entry) in entries.enumerated() {
      let stage = try parseStage(entry, at: "stages[\(index)]", file: file, base: stages)
      if let existing = stages.firstIndex(where: { $0.name == stage.name }), top["extends"] != nil {
        stages[existing] = stage
      } else {
        stages.append(stage)
      }
    }
    return RawPipeline(
      name: name ?? base.name, store: store ?? base.store, remote: remote ?? base.remote, inputsHelp: inputsHelp ?? base.inputsHelp,
      publishOutsideProject: publishOutsideProject, vars: vars, stages: stages)
  }

  /// Parses one stage object. In a file that extends another, a stage with a base stage's name
  /// overrides it: its params and inputs are laid over the base's, its kind may be left out.
  private static func parseStage(_ entry: JSONValue, at: String, file: String, base: [Stage]) throws(PipelineFileError) -> Stage {
    guard case .object(let o) = entry else { throw PipelineFileError(file: file, path: at, message: "must be an object") }
    for key in o.keys.sorted() where !stageKeys.contains(key) {
      throw PipelineFileError(
        file: file, path: "\(at).\(key)", message: "unknown field; a stage has: \(stageKeys.sorted().joined(separator: ", "))")
    }
    guard let name = try string(o["name"], file: file, at: "\(at).name"), !name.isEmpty else {
      throw PipelineFileError(file: file, path: "\(at).name", message: "is missing: every stage needs a name")
    }
    guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
      throw PipelineFileError(file: file, path: "\(at).name", message: "'\(name)' may hold only letters, digits, '-' and '_'")
    }
    let inherited = base.first { $0.name == name }
    guard let kind = try string(o["kind"], file: file, at: "\(at).kind") ?? inherited?.kind else {
      throw PipelineFileError(file: file, path: "\(at).kind", message: "is missing: every stage needs a kind")
    }
    var params = inherited?.kind == kind ? inherited?.params ?? [:] : [:]
    if let p = o["params"] {
      guard case .object(let po) = p else { throw PipelineFileError(file: file, path: "\(at).params", message: "must be an object") }
      params.merge(po) { _, new in new }
    }
    var inputs = inherited?.kind == kind ? inherited?.inputs ?? [:] : [:]
    if let i = o["inputs"] {
      guard case .object(let io) = i else { throw PipelineFileError(file: file, path: "\(at).inputs", message: "must be an object") }
      for (slot, value) in io {
        guard case .string(let s) = value else {
          throw PipelineFileError(file: file, path: "\(at).inputs.\(slot)", message: "must be a string: \"stage.output\" or \"file:path\"")
        }
        inputs[slot] = s
      }
    }
    var publish = inherited?.publish ?? [:]
    if let p = o["publish"] {
      guard case .object(let po) = p else {
        throw PipelineFileError(file: file, path: "\(at).publish", message: "must be an object: {\"output\": \"path\"}")
      }
      for (output, value) in po {
        guard case .string(let s) = value, !s.isEmpty else {
          throw PipelineFileError(file: file, path: "\(at).publish.\(output)", message: "must be a path (a string)")
        }
        publish[output] = s
      }
    }
    return Stage(name: name, kind: kind, params: params, inputs: inputs, publish: publish)
  }

  private static func string(_ value: JSONValue?, file: String, at: String) throws(PipelineFileError) -> String? {
    guard let value else { return nil }
    guard case .string(let s) = value else {
      throw PipelineFileError(file: file, path: at, message: "must be a string, not \(value.typeName)")
    }
    return s
  }
}

/// Foundation's JSON errors, reduced to the line and column and what is wrong.
enum JSONErrorText {
  static func describe(_ error: any Error) -> String {
    if case DecodingError.dataCorrupted(let context) = error {
      let underlying = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
      return underlying ?? context.debugDescription
    }
    return "\(error)"
  }
}

/// `${name}` in params, inputs and `store`: a string that is exactly `${name}` takes the variable's
/// JSON value (a number stays a number); inside a longer string the value is spliced in as text.
struct VariableSubstitution {
  var variables: [String: JSONValue]
  var file: String

  func apply(_ value: JSONValue, at path: String) throws(PipelineFileError) -> JSONValue {
    switch value {
    case .string(let s):
      return try substitute(s, at: path)
    case .array(let a):
      var out: [JSONValue] = []
      for (i, v) in a.enumerated() { out.append(try apply(v, at: "\(path)[\(i)]")) }
      return .array(out)
    case .object(let o):
      var out: [String: JSONValue] = [:]
      for (k, v) in o { out[k] = try apply(v, at: "\(path).\(k)") }
      return .object(out)
    default:
      return value
    }
  }

  private func substitute(_ s: String, at path: String) throws(PipelineFileError) -> JSONValue {
    guard s.contains("${") else { return .string(s) }
    let inner = s.dropFirst(2).dropLast()
    if s.hasPrefix("${"), s.hasSuffix("}"), !inner.contains("}"), !inner.contains("$") {
      return try lookup(String(inner), at: path)
    }
    var text = ""
    var rest = Substring(s)
    while let open = rest.range(of: "${") {
      guard let close = rest[open.upperBound...].firstIndex(of: "}") else {
        throw PipelineFileError(file: file, path: path, message: "'${' without a closing '}'")
      }
      let value = try lookup(String(rest[open.upperBound..<close]), at: path)
      text += rest[..<open.lowerBound]
      text += value.stringValue ?? value.canonical
      rest = rest[rest.index(after: close)...]
    }
    return .string(text + rest)
  }

  /// The variables `value` refers to (`${name}` anywhere in its strings), in order of appearance.
  static func references(in value: JSONValue) -> [String] {
    switch value {
    case .string(let s):
      var names: [String] = []
      var rest = Substring(s)
      while let open = rest.range(of: "${"), let close = rest[open.upperBound...].firstIndex(of: "}") {
        names.append(String(rest[open.upperBound..<close]))
        rest = rest[rest.index(after: close)...]
      }
      return names
    case .array(let a): return a.flatMap(references)
    case .object(let o): return o.keys.sorted().flatMap { references(in: o[$0]!) }
    default: return []
    }
  }

  /// `${inputs.X}`, `${outputs.X}` and `${deps.X}` name paths a command stage knows only when it
  /// runs: they are left in place for it.
  static let runTimePrefixes = ["inputs.", "outputs.", "deps."]

  private func lookup(_ name: String, at path: String) throws(PipelineFileError) -> JSONValue {
    if Self.runTimePrefixes.contains(where: name.hasPrefix) { return .string("${\(name)}") }
    guard let value = variables[name] else {
      throw PipelineFileError(
        file: file, path: path,
        message:
          "unknown variable '\(name)'; declared: \(variables.keys.sorted().joined(separator: ", "))")
    }
    return value
  }
}

extension JSONValue {
  var stringValue: String? { if case .string(let s) = self { s } else { nil } }
}

/// Orders stages so each comes after all it reads, keeping file order where there is a choice;
/// a cycle is an error that prints it.
enum TopologicalOrder {
  static func sort(_ stages: [StageSpec], file: String) throws(PipelineFileError) -> [StageSpec] {
    var placed: Set<String> = []
    var ordered: [StageSpec] = []
    var pending = stages
    while !pending.isEmpty {
      guard let next = pending.firstIndex(where: { $0.upstream.allSatisfy(placed.contains) }) else {
        throw PipelineFileError(
          file: file, path: "stages", message: "the stages form a cycle: \(cycle(in: pending).joined(separator: " → "))")
      }
      placed.insert(pending[next].name)
      ordered.append(pending.remove(at: next))
    }
    return ordered
  }

  /// One cycle among stages none of which can be placed, in data-flow order, starting from the
  /// stage that comes first in the file, first name repeated at the end.
  static func cycle(in stages: [StageSpec]) -> [String] {
    let byName = Dictionary(uniqueKeysWithValues: stages.map { ($0.name, $0) })
    var path: [String] = []
    var current = stages[0].name
    while !path.contains(current) {
      path.append(current)
      guard let next = byName[current]?.upstream.sorted().first(where: { byName[$0] != nil }) else { break }
      current = next
    }
    // `path` follows "reads from" edges; reversed, it follows the data.
    var loop = Array(path[(path.firstIndex(of: current) ?? 0)...].reversed())
    let order = Dictionary(uniqueKeysWithValues: stages.enumerated().map { ($1.name, $0) })
    if let first = loop.indices.min(by: { order[loop[$0]]! < order[loop[$1]]! }) {
      loop = Array(loop[first...] + loop[..<first])
    }
    return loop + [loop[0]]
  }
}
