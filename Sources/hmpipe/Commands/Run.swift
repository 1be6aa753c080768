import ArgumentParser
import Dispatch
import Foundation
import Pipeline
import Synchronization

/// `hmpipe run`: brings a pipeline's stages up to date.
struct Run: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run a pipeline: compute the stages whose inputs, params or code changed, reuse the rest.")

  @OptionGroup var options: PipelineOptions
  @OptionGroup var remote: RemoteOptions

  @Option(
    name: .customLong("stage"), help: "Rerun exactly this stage, ignoring its cache (its inputs are brought up to date first).",
    completion: StageNameCompletion.stages)
  var rerun: String?

  @Option(help: "Rerun this stage, ignoring its cache, and whatever downstream then changes.", completion: StageNameCompletion.stages)
  var force: String?

  @Option(help: "Stop after this stage.", completion: StageNameCompletion.stages)
  var until: String?

  @Option(help: "Stages that may run at once (default: the number of cores).")
  var jobs: Int = Parallel.coreCount

  @Flag(help: "Print the run's result as one JSON object on stdout (its last line).")
  var json = false

  @Flag(help: "Say what would run, what would come from the cache and why, and run nothing.")
  var dryRun = false

  @Flag(help: "Let publish write outside the project folder (as the pipeline file's \"publish_outside_project\": true).")
  var publishOutsideProject = false

  @Flag(
    help:
      "Let publish replace a file that holds another variant's output (a run with other --set values whose publish path does not name them)."
  )
  var overwritePublished = false

  func validate() throws {
    if jobs < 1 { throw ValidationError("--jobs must be at least 1") }
  }

  func run() async throws {
    let warnings = WarningRelay()
    var (spec, store) = try options.load(remote: remote, warn: warnings.send)
    if publishOutsideProject { spec.publishOutsideProject = true }
    if overwritePublished { spec.overwritePublished = true }
    for (option, name) in [("--stage", rerun), ("--force", force), ("--until", until)] {
      guard let name, !spec.stages.contains(where: { $0.name == name }) else { continue }
      throw ValidationError(
        "\(option) names '\(name)', which is not a stage of \(options.pipeline) (it has: \(spec.stages.map(\.name).joined(separator: ", ")))"
      )
    }
    if dryRun {
      let options = RunOptions(rerun: rerun, force: force, until: until, jobs: jobs)
      let (frozenSpec, frozenStore) = (spec, store)
      let plan = try await offloaded { try Runner(spec: frozenSpec, store: frozenStore, options: options).plan() }
      if json {
        let stages: [JSONValue] = plan.map {
          .object(["name": .string($0.name), "action": .string($0.action.rawValue), "reason": .string($0.reason)])
        }
        print(JSONValue.object(["stages": .array(stages)]).canonical)
      } else {
        print(Format.table([["STAGE", "WOULD", "WHY"]] + plan.map { [$0.name, $0.action.rawValue, $0.reason] }))
        let runs = plan.filter { $0.action == .run }.count
        print("dry run: \(runs) of \(plan.count) stage\(plan.count == 1 ? "" : "s") would run; nothing was run")
      }
      return
    }
    let cancellation = CancellationFlag()
    let progress = ProgressView(stages: spec.stages)
    warnings.forward(to: { progress.note("warning: " + $0) })
    let interrupt = InterruptHandler {
      cancellation.cancel()
      progress.note(
        "interrupting: each running stage stops at its next checkpoint; finished stages stay cached and the next run resumes from them (Ctrl-C again to quit at once)"
      )
    }
    defer { interrupt.cancel() }
    var runOptions = RunOptions(rerun: rerun, force: force, until: until, jobs: jobs, command: CommandLine.arguments.joined(separator: " "))
    runOptions.environment = BuildFacts.current.merging(Startup.facts) { a, _ in a }
    runOptions.environment["hmpipe_version"] = HMPipe.configuration.version
    let runner = Runner(spec: spec, store: store, options: runOptions, cancellation: cancellation) { progress.handle($0) }
    let record = try await runner.run()
    progress.finish(record, pipeline: options.pipeline)
    if json { print(RunJSON.encode(record, store: store)) }
    if cancellation.isCancelled { throw ExitCode(130) }
    if record.stages.contains(where: { $0.status == .failed || $0.status == .skipped }) { throw ExitCode.failure }
  }
}

/// The `run --json` object: `{"stages":[{"name","status","seconds","outputs",…}],…}` (the README's "The command line").
enum RunJSON {
  static func encode(_ record: RunRecord, store: Store) -> String {
    let stages: [JSONValue] = record.stages.map { s in
      var fields: [String: JSONValue] = [
        "name": .string(s.name), "status": .string(s.status.rawValue), "seconds": .double(s.seconds),
        "outputs": .object(s.outputs.mapValues { .string($0.description) }), "reason": .string(s.reason),
        "rows": .int(Int64(s.rows)), "raw_bytes": .int(Int64(s.rawBytes)), "stored_bytes": .int(Int64(s.storedBytes)),
        "peak_memory_bytes": .int(Int64(s.peakMemoryBytes)),
        "figures": .object(s.figures.mapValues { .double($0) }),
      ]
      if let error = s.error { fields["error"] = .string(error) }
      if let from = s.from { fields["from"] = .string(from) }
      return .object(fields)
    }
    let ok = record.stages.allSatisfy { $0.status == .ran || $0.status == .cached }
    return JSONValue.object([
      "stages": .array(stages), "pipeline": .string(record.pipeline), "store": .string(store.root),
      "seconds": .double(record.seconds), "ok": .bool(ok),
    ]).canonical
  }
}

/// Turns SIGINT into a cancellation request; a second SIGINT quits at once (the store stays
/// consistent either way: every write is atomic).
final class InterruptHandler {
  private let source: any DispatchSourceSignal

  init(_ onInterrupt: @escaping @Sendable () -> Void) {
    signal(SIGINT, SIG_IGN)
    source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
    let seen = SeenFlag()
    source.setEventHandler {
      if seen.mark() { exit(130) }
      onInterrupt()
    }
    source.resume()
  }

  func cancel() {
    source.cancel()
    signal(SIGINT, SIG_DFL)
  }
}

/// Passes warnings to whoever shows them, once there is one (before: to stderr).
final class WarningRelay: Sendable {
  private let target = Mutex<(@Sendable (String) -> Void)?>(nil)

  func forward(to show: @escaping @Sendable (String) -> Void) { target.withLock { $0 = show } }

  @Sendable func send(_ message: String) {
    if let show = target.withLock({ $0 }) { show(message) } else { PipelineOptions.printWarning(message) }
  }
}

/// Remembers whether something happened before.
final class SeenFlag: Sendable {
  private let flag = CancellationFlag()
  /// True when marked before.
  func mark() -> Bool {
    defer { flag.cancel() }
    return flag.isCancelled
  }
}
