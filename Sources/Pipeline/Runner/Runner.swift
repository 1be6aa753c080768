import Foundation

/// How a run is asked for: the CLI's `--stage`, `--force`, `--until` and `--jobs`.
public struct RunOptions: Sendable {
  /// Rerun exactly this stage, ignoring its cache; bring its inputs up to date first.
  public var rerun: String?
  /// Rerun this stage, ignoring its cache, and whatever downstream then changes.
  public var force: String?
  /// Stop after this stage: run only it and what it depends on.
  public var until: String?
  /// Stages that may run at once.
  public var jobs: Int
  /// The command line, for the lock file and the run record.
  public var command: String
  /// Facts the program adds to the run record (the BLAS kernel it chose, the build's CPU target).
  public var environment: [String: String] = [:]

  public init(rerun: String? = nil, force: String? = nil, until: String? = nil, jobs: Int = Parallel.coreCount, command: String = "") {
    self.rerun = rerun
    self.force = force
    self.until = until
    self.jobs = max(1, jobs)
    self.command = command
  }
}

/// The run was asked for something the pipeline does not have.
public struct RunRequestError: Error, Sendable, CustomStringConvertible {
  public var message: String
  public var description: String { message }
}

/// Runs a pipeline against a store: takes the store lock, clears what a crashed run left, brings the
/// requested stages up to date in parallel, recovers from damaged objects by recomputing them, and
/// writes a run record.
public struct Runner: Sendable {
  public let spec: PipelineSpec
  public let store: Store
  public let options: RunOptions
  public let cancellation: CancellationFlag
  let emit: @Sendable (RunEvent) -> Void

  public init(
    spec: PipelineSpec, store: Store, options: RunOptions, cancellation: CancellationFlag = CancellationFlag(),
    events: @escaping @Sendable (RunEvent) -> Void = { _ in }
  ) {
    self.spec = spec
    self.store = store
    self.options = options
    self.cancellation = cancellation
    self.emit = events
  }

  /// Runs the pipeline (or the part the options ask for) and returns its record.
  public func run() async throws -> RunRecord {
    let targets = try targetStages()
    let started = Date()
    let emit = self.emit
    let lock = try store.lock(
      command: options.command, waiting: { emit(.waitingForLock(holder: $0)) }, clearedStale: { emit(.clearedStaleLock(holder: $0)) })
    defer { lock.release() }
    let removed = store.removeTemporaryFiles()
    if removed > 0 { emit(.removedTemporaryFiles(count: removed)) }
    if let remote = store.remote { try await offloaded { try remote.check() } }

    var outcomes: [String: StageOutcome] = [:]
    // A damaged input found mid-run is quarantined and the run planned again, so its producer is
    // recomputed; each round can only remove objects, so a few rounds always suffice.
    for _ in 0..<4 {
      let round = await runRound(targets)
      for (name, outcome) in round where outcomes[name]?.record.status != .ran || outcome.record.status != .cached {
        outcomes[name] = outcome
      }
      let damaged = Set(round.values.flatMap(\.damagedInputs))
      guard !damaged.isEmpty, !cancellation.isCancelled else { break }
      for id in damaged.sorted() {
        store.quarantine(id)
        let producer = round.values.first { $0.outputs.values.contains(id) }?.record.name ?? "an upstream stage"
        emit(.recovered(stage: producer, message: "artifact \(id.short) was damaged or missing; moved aside, recomputing \(producer)"))
      }
    }
    await offloaded { reportUploads() }
    var record = RunRecord(
      pipeline: spec.path, startedAt: started, seconds: Date().timeIntervalSince(started), command: options.command,
      environment: options.environment.merging(Machine.facts.merging(["jobs": String(options.jobs)]) { a, _ in a }) { a, _ in a },
      stages: targets.compactMap { outcomes[$0.name]?.record })
    record.variables = spec.overrides.mapValues(\.canonical)
    record.pipelineHash = (try? FileSystem.readAll(spec.path)).map { Digest.of($0).hex }
    record.gitCommit = GitCommit.of(FileSystem.dirname(of: spec.path))
    try store.putRunRecord(record)
    return record
  }

  /// Waits for the remote cache's background uploads and says how they went.
  private func reportUploads() {
    guard let remote = store.remote else { return }
    let inFlight = remote.uploadsInFlight
    if inFlight > 0 { emit(.remote(message: "waiting for \(inFlight) upload\(inFlight == 1 ? "" : "s") to \(remote.location)")) }
    let failures = remote.finishUploads()
    for failure in failures {
      emit(.remote(message: "upload to \(remote.location) failed for \(failure); the next run or push retries it"))
    }
    let done = remote.traffic
    if done.uploadedEntries > 0 || done.fetchedObjects > 0 {
      emit(
        .remote(
          message: "remote \(remote.location): uploaded \(done.uploadedEntries) stage result\(done.uploadedEntries == 1 ? "" : "s") "
            + "(\(Format.bytes(done.bytesUp))), fetched \(done.fetchedObjects) object\(done.fetchedObjects == 1 ? "" : "s") (\(Format.bytes(done.bytesDown)))"
        ))
    }
  }

  private func runRound(_ targets: [StageSpec]) async -> [String: StageOutcome] {
    let shelf = TableShelf(spec: spec, stages: targets)
    let rebuilder = Rebuilder(spec: spec, store: store, cancellation: cancellation, shelf: shelf, emit: emit)
    let forced = options.rerun ?? options.force
    let forcedReason = options.rerun != nil ? "rerun requested (--stage)" : "forced (--force)"
    let emit = self.emit
    let cancellation = self.cancellation
    let scheduler = Scheduler(stages: targets, jobs: options.jobs)
    return await scheduler.run(
      isCancelled: { cancellation.isCancelled },
      build: { stage, upstream in
        let outcome = await offloaded {
          rebuilder.publish(stage, rebuilder.build(stage, upstream: upstream, forced: stage.name == forced ? forcedReason : nil))
        }
        shelf.finished(stage)
        emit(.stageFinished(outcome.record))
        return outcome
      },
      blocked: { stage, culprit in
        shelf.finished(stage)
        let reason = culprit.isEmpty ? "interrupted before it started" : "upstream stage '\(culprit)' did not finish"
        let outcome = rebuilder.failure(stage, reason: reason, error: CancelledError(), started: Date(), status: .skipped)
        emit(.stageFinished(outcome.record))
        return outcome
      })
  }

  /// The stages this run brings up to date, in pipeline order.
  func targetStages() throws -> [StageSpec] {
    for name in [options.rerun, options.force, options.until].compactMap({ $0 }) where spec.stage(name) == nil {
      let hint = Suggestion.closest(to: name, in: spec.stages.map(\.name)).map { " (did you mean '\($0)'?)" } ?? ""
      throw RunRequestError(
        message:
          "the pipeline \(FileSystem.basename(of: spec.path)) has no stage '\(name)'\(hint); its stages are: \(spec.stages.map(\.name).joined(separator: ", "))"
      )
    }
    if options.rerun != nil && (options.force != nil || options.until != nil) {
      throw RunRequestError(message: "--stage reruns exactly one stage; it does not combine with --force or --until")
    }
    var wanted = Set(spec.stages.map(\.name))
    if let rerun = options.rerun { wanted = spec.closure(upTo: rerun) }
    if let until = options.until { wanted = spec.closure(upTo: until) }
    if let force = options.force, !wanted.contains(force) {
      throw RunRequestError(message: "--force \(force) names a stage that --until \(options.until ?? "") leaves out")
    }
    return spec.stages.filter { wanted.contains($0.name) }
  }
}
