import Foundation

/// The result of bringing one stage up to date.
public struct StageOutcome: Sendable {
  public var record: RunRecord.StageRecord
  public var outputs: [String: ArtifactID]
  /// Input objects the stage found damaged or missing while reading them.
  var damagedInputs: [ArtifactID] = []
  var succeeded: Bool { record.status == .ran || record.status == .cached }
}

/// Decides whether a stage is up to date (its key has a cache entry whose objects are all present)
/// and, when not, runs it and records the constructive trace. The "rebuilder" of *Build Systems à la
/// Carte*; the `Scheduler` decides the order.
struct Rebuilder: Sendable {
  let spec: PipelineSpec
  let store: Store
  let cancellation: CancellationFlag
  /// This round's tables in memory (`TableShelf`), handed to every stage it runs.
  var shelf: TableShelf? = nil
  let emit: @Sendable (RunEvent) -> Void

  /// A stage's inputs resolved to content digests.
  struct ResolvedInputs {
    var components: KeyComponents
    var artifacts: [String: ArtifactID]
    var files: [String: String]
    var sources: [String: String]
  }

  /// Resolves the key components of `stage`, given the outputs of the stages it reads.
  func resolve(_ stage: StageSpec, upstream: [String: [String: ArtifactID]]) throws -> ResolvedInputs {
    var digests: [String: String] = [:]
    var artifacts: [String: ArtifactID] = [:]
    var files: [String: String] = [:]
    var sources: [String: String] = [:]
    for (slot, reference) in stage.inputs {
      switch reference {
      case .output(let producer, let output):
        let name = spec.outputName(of: producer, output)
        guard let id = upstream[producer]?[name] else {
          throw StageInputError(stage: stage.name, slot: slot, detail: "has no artifact from \(producer).\(name)")
        }
        artifacts[slot] = id
        digests[slot] = id.description
        sources[slot] = "\(producer).\(name)"
      case .file(let path):
        guard FileSystem.exists(path) else {
          throw MissingInputFileError(stage: stage.name, slot: slot, path: path, help: spec.inputsHelp)
        }
        let digest = try store.fileDigest(path) { fraction in
          emit(.stageProgress(stage: stage.name, fraction: fraction, detail: "hashing \(FileSystem.basename(of: path))"))
        }
        files[slot] = path
        digests[slot] = "file:" + digest.hex
        sources[slot] = path
      }
    }
    let components = KeyComponents(kind: stage.kind, version: stage.definition.version, params: stage.params, inputs: digests)
    return ResolvedInputs(components: components, artifacts: artifacts, files: files, sources: sources)
  }

  /// Where a cached result was found.
  enum CacheSource: Sendable { case local, remote }

  /// The cache entry for `key`: the local one when every output object it names is present and
  /// whole-sized, else the remote cache's (its objects are fetched when something reads them; the
  /// entry is recorded locally, so `status` and `diff` know its outputs).
  func cachedEntry(_ key: Digest) throws -> (entry: CacheEntry, source: CacheSource)? {
    if let entry = store.wholeCacheEntry(key) { return (entry, .local) }
    guard let remote = store.remote, let entry = try remote.entry(key) else { return nil }
    try? store.putCacheEntry(entry)
    return (entry, .remote)
  }

  /// Fetches the outputs a stage publishes, when its result came from the remote cache: a copy
  /// that fails its check is refused, and the stage then runs here instead.
  func fetchPublished(_ stage: StageSpec, _ entry: CacheEntry) -> Bool {
    stage.publish.keys.allSatisfy { output in
      guard let id = entry.outputs[output]?.id else { return true }
      return (try? store.localPath(of: id)) != nil
    }
  }

  /// Why `stage` must run, in words, when its key has no usable cache entry.
  func staleReason(_ stage: StageSpec, _ components: KeyComponents) -> String {
    let difference = components.difference(from: store.head(pipeline: spec.identity, stage: stage.name))
    if !difference.isEmpty { return difference }
    if let entry = store.cacheEntry(components.key) {
      let missing = entry.outputs.filter { store.storedSize($0.value.id) != $0.value.storedBytes }.keys.sorted()
      return "output\(missing.count > 1 ? "s" : "") \(missing.joined(separator: ", ")) missing from the store"
    }
    return "no cached result for its current key"
  }

  /// Brings `stage` up to date: from cache when possible (and not forced), else by running it.
  func build(_ stage: StageSpec, upstream: [String: [String: ArtifactID]], forced: String?) -> StageOutcome {
    let started = Date()
    let inputs: ResolvedInputs
    do { inputs = try resolve(stage, upstream: upstream) } catch {
      return failure(stage, reason: "inputs unavailable", error: error, started: started)
    }
    let key = inputs.components.key
    if forced == nil {
      let cached: (entry: CacheEntry, source: CacheSource)?
      do { cached = try cachedEntry(key) } catch {
        return failure(stage, reason: "remote cache unavailable", error: error, started: started)
      }
      if let (entry, source) = cached, source == .local || fetchPublished(stage, entry) {
        if store.head(pipeline: spec.identity, stage: stage.name)?.key != key { try? store.putHead(entry, pipeline: spec.identity) }
        var cachedRecord = record(
          stage, .cached, reason: source == .remote ? "cached remotely" : "up to date", entry: entry, seconds: 0, started: started)
        if source == .remote { cachedRecord.from = "remote" }
        return StageOutcome(record: cachedRecord, outputs: entry.outputs.mapValues(\.id))
      }
    }
    let reason = forced ?? staleReason(stage, inputs.components)
    emit(.stageStarted(stage: stage.name, reason: reason))
    let provenance = Provenance(
      stage: stage.name, kind: stage.kind, version: stage.definition.version, params: stage.params,
      inputs: inputs.components.inputs)
    let context = StageContext(
      stage: stage.name, store: store, inputIDs: inputs.artifacts, inputFiles: inputs.files, provenance: provenance,
      declaredOutputs: stage.definition.outputs, cancellation: cancellation, shelf: shelf, emit: emit)
    ResourceUsage.resetPeak()
    defer { context.removeScratchDirectories() }
    do {
      try Parallel.asStage { try stage.definition.execute(stage.params, context) }
      let missing = stage.definition.outputs.filter { context.outputs[$0] == nil }
      guard missing.isEmpty else { throw StageOutputError(stage: stage.name, missing: missing) }
    } catch {
      var outcome = failure(stage, reason: reason, error: error, started: started)
      outcome.damagedInputs = context.damagedInputs
      outcome.record.log = context.logLines.isEmpty ? nil : context.logLines
      return outcome
    }
    let entry = CacheEntry(
      key: key, stage: stage.name, kind: stage.kind, version: stage.definition.version, params: stage.params,
      inputs: inputs.components.inputs, inputSources: inputs.sources,
      outputs: context.outputs.mapValues { m in
        CacheEntry.Output(id: m.id, kind: m.kind, rows: m.rows, rawBytes: m.rawBytes, storedBytes: store.storedSize(m.id) ?? 0)
      },
      seconds: Date().timeIntervalSince(started), peakMemoryBytes: ResourceUsage.peakBytes(), figures: context.figures,
      finishedAt: Date())
    do {
      // Objects are already in place: the cache entry goes last.
      try store.putCacheEntry(entry)
      try store.putHead(entry, pipeline: spec.identity)
    } catch {
      return failure(stage, reason: reason, error: error, started: started)
    }
    store.remote?.upload(entry, from: store)
    var ran = record(stage, .ran, reason: reason, entry: entry, seconds: entry.seconds, started: started)
    ran.log = context.logLines.isEmpty ? nil : context.logLines
    return StageOutcome(record: ran, outputs: entry.outputs.mapValues(\.id))
  }

  private func record(
    _ stage: StageSpec, _ status: RunRecord.StageRecord.Status, reason: String, entry: CacheEntry, seconds: Double, started: Date
  ) -> RunRecord.StageRecord {
    RunRecord.StageRecord(
      name: stage.name, status: status, reason: reason, seconds: seconds,
      rows: entry.outputs.values.filter { $0.kind == .table }.reduce(0) { $0 + $1.rows },
      rawBytes: entry.outputs.values.reduce(0) { $0 + $1.rawBytes },
      storedBytes: entry.outputs.values.reduce(0) { $0 + $1.storedBytes },
      peakMemoryBytes: status == .ran ? entry.peakMemoryBytes : 0,
      outputs: entry.outputs.mapValues(\.id), figures: entry.figures, error: nil, startedAt: started)
  }

  func failure(_ stage: StageSpec, reason: String, error: any Error, started: Date, status: RunRecord.StageRecord.Status = .failed)
    -> StageOutcome
  {
    StageOutcome(
      record: RunRecord.StageRecord(
        name: stage.name, status: status, reason: reason, seconds: Date().timeIntervalSince(started), rows: 0, rawBytes: 0,
        storedBytes: 0, peakMemoryBytes: ResourceUsage.peakBytes(), outputs: [:], figures: [:],
        error: status == .failed ? "\(error)" : nil, startedAt: started),
      outputs: [:])
  }
}

/// A stage returned without writing every output it declares.
public struct StageOutputError: Error, Sendable, CustomStringConvertible {
  public var stage: String
  public var missing: [String]
  public var description: String { "stage '\(stage)' finished without writing output \(missing.joined(separator: ", "))" }
}

/// An external input file is not where the pipeline says.
public struct MissingInputFileError: Error, Sendable, CustomStringConvertible {
  public var stage: String
  public var slot: String
  public var path: String
  public var help: String?
  public var description: String {
    "stage '\(stage)': input '\(slot)': file \(path) does not exist" + (help.map { ". \($0)" } ?? "")
  }
}

extension KeyComponents {
  /// Why a stage with these components is not the one last recorded in `head`, in words:
  /// "params changed: k (10 → 12)", "input changed: transactions", "code version changed (1 → 2)";
  /// "" when nothing did.
  public func difference(from head: CacheEntry?) -> String {
    guard let head else { return "never ran" }
    if head.kind != kind { return "kind changed (\(head.kind) → \(kind))" }
    if head.version != version { return "code version changed (\(head.version) → \(version))" }
    var reasons: [String] = []
    if head.params != params { reasons.append("params changed: " + KeyComponents.paramChanges(head.params, params)) }
    let changedInputs = Set(inputs.keys).union(head.inputs.keys).sorted().filter { inputs[$0] != head.inputs[$0] }
    if !changedInputs.isEmpty {
      reasons.append("input\(changedInputs.count > 1 ? "s" : "") changed: " + changedInputs.joined(separator: ", "))
    }
    return reasons.isEmpty ? "" : reasons.joined(separator: "; ")
  }

  static func paramChanges(_ old: JSONValue, _ new: JSONValue) -> String {
    guard case .object(let o) = old, case .object(let n) = new else { return "\(old) → \(new)" }
    return Set(o.keys).union(n.keys).sorted().compactMap { key in
      o[key] == n[key] ? nil : "\(key) (\(o[key]?.canonical ?? "unset") → \(n[key]?.canonical ?? "unset"))"
    }.joined(separator: ", ")
  }
}
