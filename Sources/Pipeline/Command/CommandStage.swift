import Foundation

/// command: any program as a cached stage (DVC's `cmd`, Snakemake's `shell:`). The pipeline file
/// gives its argv in `run` (a shell only with `"shell": true`), its `outputs` (`"table"`: an
/// hmpipe artifact the program writes, with the Python package's `hmpipe.write_table`; `"file"`:
/// any bytes; `"folder"`: a folder, stored as a tar archive), `deps` (scripts and other files whose content enters the key, without being
/// inputs), `env` (variables passed through; their values enter the key) and `timeout` (whole seconds,
/// 0: none); its inputs are named freely. In `run`, `${inputs.NAME}`, `${outputs.NAME}` and
/// `${deps.NAME}` become paths: a table input is the store's object itself (the Python package
/// reads it), a file artifact a copy of its bytes under its file name (a folder output's `.tar`),
/// a `file:` input the file.
///
/// The program runs in a fresh temporary folder (its working directory) with only `PATH`, `HOME`,
/// `LANG`, `TMPDIR` (the folder) and the `env` names set, in a process group of its own under a
/// supervisor: a timeout, Ctrl-C or hmpipe's death kills the whole group. Its stdout and stderr go
/// to the stage's log line by line. After a zero exit, each declared output is read from its path
/// (a table is fully checked, then written to the store like any stage's output) and everything
/// else in the folder is discarded; a non-zero exit, a missing output, a timeout or an
/// interruption fails the stage with the exit status and the last lines of stderr, and nothing is
/// kept. An input changed in place is an error, and its object is quarantined so its producer
/// runs again. The outputs must be deterministic for early cutoff to work: same inputs, same bytes.
public struct CommandStage: SlotsFromParams {
  public static let kind = "command"
  public static let version = 1
  public static let inputs: [InputSlot] = []
  public static let outputs: [String] = []

  /// What a declared output holds.
  public enum OutputKind: String, ParamChoice {
    case table
    case file
    /// A folder, stored as a tar archive of its files (sorted, without times or owners).
    case folder
  }

  public struct Params: StageParams {
    public var run: [String] = []
    public var shell = false
    public var outputs: [String: OutputKind] = [:]
    public var deps: [String: String] = [:]
    public var env: [String] = []
    public var timeout = 0
    /// The values of the `env` names when the pipeline was loaded: they enter the key.
    public var env_values: [String: String] = [:]
    public init() {}

    enum CodingKeys: String, CodingKey { case run, shell, outputs, deps, env, timeout, env_values }

    public init(from decoder: any Decoder) throws {
      let c = try decoder.container(keyedBy: CodingKeys.self)
      run = try c.decodeIfPresent([String].self, forKey: .run) ?? []
      shell = try c.decodeIfPresent(Bool.self, forKey: .shell) ?? false
      outputs = try c.decodeIfPresent([String: OutputKind].self, forKey: .outputs) ?? [:]
      deps = try c.decodeIfPresent([String: String].self, forKey: .deps) ?? [:]
      env = try c.decodeIfPresent([String].self, forKey: .env) ?? []
      timeout = try c.decodeIfPresent(Int.self, forKey: .timeout) ?? 0
      let environment = ProcessInfo.processInfo.environment
      env_values = Dictionary(uniqueKeysWithValues: env.compactMap { name in environment[name].map { (name, $0) } })
    }
  }

  public static func validate(_ p: Params) throws(ParamError) {
    if p.run.isEmpty { throw ParamError("run", "must name the program and its arguments, as [\"python3\", \"script.py\", …]") }
    if p.shell && p.run.count != 1 { throw ParamError("run", "with \"shell\": true, must be one string: the shell command line") }
    if p.outputs.isEmpty { throw ParamError("outputs", "must declare at least one output, as {\"predictions\": \"table\"}") }
    for name in Array(p.outputs.keys) + Array(p.deps.keys) where !isName(name) {
      throw ParamError("outputs", "'\(name)' is not a name: use letters, digits, _ and -")
    }
    for name in p.env where !isName(name) { throw ParamError("env", "'\(name)' is not an environment variable name") }
    if p.timeout < 0 { throw ParamError("timeout", "must be 0 (none) or a number of seconds, not \(p.timeout)") }
  }

  static func isName(_ s: String) -> Bool {
    !s.isEmpty
      && s.utf8.allSatisfy {
        $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || (0x30...0x39).contains($0) || (0x41...0x5a).contains($0)
          || (0x61...0x7a).contains($0)
      }
  }

  public static func outputs(_ params: Params) -> [String] { params.outputs.keys.sorted() }
  public static func fileInputs(_ params: Params) -> [String: String] { params.deps }

  public static func run(_ p: Params, _ context: StageContext) throws {
    let work = try context.scratchDirectory()
    let outputFolder = work + "/outputs", home = work + "/home"
    try FileSystem.makeDirectories(outputFolder)
    try FileSystem.makeDirectories(home)
    let inputs = try programInputs(context, folder: work + "/inputs")
    var paths: [String: String] = [:]
    for (slot, path) in inputs { paths[slot.hasPrefix("deps.") ? slot : "inputs.\(slot)"] = path }
    for name in p.outputs.keys { paths["outputs.\(name)"] = outputFolder + "/" + name }
    let argv = try p.run.map { try CommandLineTemplate.expand($0, paths: paths, stage: context.stage) }
    var environment = [
      "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8", "TMPDIR": work,
    ]
    environment.merge(p.env_values) { _, mine in mine }
    let inputStamps = try inputs.mapValues { try FileSystem.stamp($0) }
    let process = ChildProcess(
      arguments: p.shell ? ["/bin/sh", "-c", argv[0]] : argv, environment: environment, directory: work, timeout: Double(p.timeout))
    let outcome = try process.run(cancellation: context.cancellation) { stream, line in
      context.log(stream == .stderr ? "stderr: " + line : line)
    }
    try checkInputsUnchanged(inputs, inputStamps, context)
    if outcome.cancelled { throw CancelledError() }
    guard !outcome.timedOut, outcome.status == 0 else {
      throw CommandFailure(
        stage: context.stage, program: argv[0], status: outcome.status, timedOut: outcome.timedOut ? Double(p.timeout) : nil,
        stderr: outcome.stderrTail)
    }
    for (name, kind) in p.outputs.sorted(by: { $0.key < $1.key }) {
      try commit(name, kind, from: outputFolder + "/" + name, context)
    }
  }

  /// What the program gets for each input: a table artifact is the store's object (the Python
  /// package reads it), a file artifact its bytes as a file of its own name (a folder output: its
  /// `.tar`), a file input the file itself.
  static func programInputs(_ context: StageContext, folder: String) throws -> [String: String] {
    var paths = try context.inputPaths()
    for slot in paths.keys.sorted() where context.hasArtifactInput(slot) {
      let manifest = try context.manifest(slot)
      guard manifest.kind == .file else { continue }
      let name = manifest.metadata["filename"].map { FileSystem.basename(of: $0) } ?? slot
      try FileSystem.makeDirectories(folder + "/" + slot)
      let copy = folder + "/" + slot + "/" + name
      try context.writeFile(slot, to: copy)
      paths[slot] = copy
    }
    return paths
  }

  /// Reads a declared output from where the program wrote it and writes it to the store.
  static func commit(_ name: String, _ kind: OutputKind, from path: String, _ context: StageContext) throws {
    guard FileSystem.exists(path) else {
      throw CommandOutputError(
        stage: context.stage, output: name, problem: "the program exited 0 but did not write it (expected at ${outputs.\(name)})")
    }
    switch kind {
    case .file:
      try context.write(name, try Table.file(named: name, contentsOfFile: path))
    case .folder:
      guard FileSystem.isDirectory(path) else {
        throw CommandOutputError(stage: context.stage, output: name, problem: "is declared a folder, but the program wrote a file there")
      }
      let archive: [UInt8]
      do { archive = try TarArchive.archive(folder: path) } catch {
        throw CommandOutputError(stage: context.stage, output: name, problem: "cannot be archived: \(error)")
      }
      try context.write(name, Table.file(named: name + ".tar", bytes: archive))
    case .table:
      let kind: Table.Kind
      do { kind = try ArtifactReader(path: path).manifest.kind } catch {
        throw CommandOutputError(
          stage: context.stage, output: name,
          problem: "is not an hmpipe table (write it with hmpipe.write_table from the Python package): \(error)")
      }
      guard kind == .table else {
        throw CommandOutputError(stage: context.stage, output: name, problem: "is a file artifact; declare the output as \"file\"")
      }
      do { try context.write(name, verifiedCopyOf: path) } catch {
        throw CommandOutputError(stage: context.stage, output: name, problem: "is a damaged hmpipe table: \(error)")
      }
    }
  }

  /// An input whose file changed while the program ran (it wrote to it) fails the stage; a store
  /// object changed so is quarantined, and its producer runs again on the next run.
  static func checkInputsUnchanged(_ paths: [String: String], _ before: [String: FileStamp], _ context: StageContext) throws {
    for (slot, stamp) in before.sorted(by: { $0.key < $1.key }) {
      let path = paths[slot]!
      guard (try? FileSystem.stamp(path)) != stamp else { continue }
      if (try? context.inputPaths())?[slot] == path { context.quarantineInput(slot) }
      throw CommandOutputError(
        stage: context.stage, output: slot,
        problem: "the program changed this input in place (\(path)); inputs are read-only: write new outputs instead")
    }
  }
}

/// Expands `${inputs.NAME}`, `${outputs.NAME}` and `${deps.NAME}` in one argument.
enum CommandLineTemplate {
  static func expand(_ argument: String, paths: [String: String], stage: String) throws -> String {
    var out = "", rest = Substring(argument)
    while let open = rest.range(of: "${"), let close = rest[open.upperBound...].firstIndex(of: "}") {
      let name = String(rest[open.upperBound..<close])
      guard let path = paths[name] else {
        throw CommandOutputError(
          stage: stage, output: name,
          problem:
            "is named in run but is not an input, output or dep of the stage (it has: \(paths.keys.sorted().joined(separator: ", ")))")
      }
      out += rest[..<open.lowerBound] + path
      rest = rest[rest.index(after: close)...]
    }
    return out + rest
  }
}

/// The program of a command stage failed.
public struct CommandFailure: Error, Sendable, CustomStringConvertible {
  public var stage: String
  public var program: String
  public var status: Int32
  /// The timeout, when that is what stopped it.
  public var timedOut: Double?
  public var stderr: [String]
  public var description: String {
    let what =
      timedOut.map { "was stopped after its timeout of \(Format.seconds($0))" }
      ?? (status > 128 ? "was killed by signal \(status - 128)" : "exited with status \(status)")
    let tail = stderr.suffix(5)
    return "stage '\(stage)': \(program) \(what)" + (tail.isEmpty ? "" : "; its last stderr lines: " + tail.joined(separator: " | "))
  }
}

/// A command stage's output (or input) is not what the stage declares.
public struct CommandOutputError: Error, Sendable, CustomStringConvertible {
  public var stage: String
  public var output: String
  public var problem: String
  public var description: String { "stage '\(stage)': '\(output)' \(problem)" }
}
