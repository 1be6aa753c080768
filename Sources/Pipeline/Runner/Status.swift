/// Whether a stage's cached result still holds, and if not, why.
public struct StageStatus: Sendable {
  public enum State: String, Sendable { case fresh, stale }
  public var name: String
  public var state: State
  public var reason: String
  public var outputs: [String: ArtifactID]
  /// Stale only because an upstream stage is: whether it reruns depends on that one's new outputs.
  public var waitsOnUpstream = false
}

/// What a run would do to one stage (`Runner.plan()`).
public struct PlannedStage: Sendable {
  public enum Action: String, Sendable {
    case run, cached, skip
    case maybe = "maybe run"
  }
  public var name: String
  public var action: Action
  public var reason: String
}

extension Runner {
  /// The state of every stage, computed as a run would, without running anything or taking the lock.
  public func status() throws -> [StageStatus] {
    let rebuilder = Rebuilder(spec: spec, store: store, cancellation: cancellation, emit: emit)
    var outputs: [String: [String: ArtifactID]] = [:]
    var states: [StageStatus] = []
    for stage in spec.stages {
      if let stale = stage.upstream.first(where: { outputs[$0] == nil }) {
        // Its own kind, version or params may have changed too: then it runs whatever upstream gives.
        let head = store.head(pipeline: spec.identity, stage: stage.name)
        let own = KeyComponents(kind: stage.kind, version: stage.definition.version, params: stage.params, inputs: head?.inputs ?? [:])
          .difference(from: head)
        let reason = "upstream stage '\(stale)' is stale"
        states.append(
          own.isEmpty
            ? StageStatus(name: stage.name, state: .stale, reason: reason, outputs: [:], waitsOnUpstream: true)
            : StageStatus(name: stage.name, state: .stale, reason: own + "; " + reason, outputs: [:]))
        continue
      }
      let resolved: Rebuilder.ResolvedInputs
      do { resolved = try rebuilder.resolve(stage, upstream: outputs) } catch {
        states.append(StageStatus(name: stage.name, state: .stale, reason: "\(error)", outputs: [:]))
        continue
      }
      if let (entry, source) = try rebuilder.cachedEntry(resolved.components.key) {
        outputs[stage.name] = entry.outputs.mapValues(\.id)
        let reason = source == .remote ? "cached remotely" : "up to date"
        states.append(StageStatus(name: stage.name, state: .fresh, reason: reason, outputs: outputs[stage.name]!))
      } else {
        states.append(StageStatus(name: stage.name, state: .stale, reason: rebuilder.staleReason(stage, resolved.components), outputs: [:]))
      }
    }
    return states
  }

  /// What a run with these options would do to each stage, and why, without running anything
  /// (`run --dry-run`): the status, narrowed by `--until` and `--stage`, widened by `--stage` and
  /// `--force`. A stage downstream of a forced one runs only if the forced one's outputs change,
  /// which only running it can tell.
  public func plan() throws -> [PlannedStage] {
    let states = try status()
    let scope: Set<String>? =
      if let until = options.until { spec.closure(upTo: until) } else if let rerun = options.rerun { spec.closure(upTo: rerun) } else {
        nil
      }
    let forced = options.force.map { spec.closure(from: $0) } ?? []
    return states.map { state in
      let name = state.name
      if let scope, !scope.contains(name) {
        return PlannedStage(
          name: name, action: .skip,
          reason: options.until != nil ? "after --until \(options.until!)" : "not needed by --stage \(options.rerun!)")
      }
      if name == options.rerun { return PlannedStage(name: name, action: .run, reason: "--stage \(name): its cache is ignored") }
      if name == options.force { return PlannedStage(name: name, action: .run, reason: "--force \(name): its cache is ignored") }
      if state.waitsOnUpstream {
        return PlannedStage(name: name, action: .maybe, reason: state.reason + ": runs if that changes its inputs")
      }
      if state.state == .stale { return PlannedStage(name: name, action: .run, reason: state.reason) }
      if forced.contains(name) {
        return PlannedStage(name: name, action: .maybe, reason: "downstream of --force \(options.force!): runs if that changes its inputs")
      }
      return PlannedStage(name: name, action: .cached, reason: state.reason)
    }
  }

  /// The artifact ids of a stage's outputs, when the stage is fresh.
  public func currentOutputs(of stageName: String) throws -> [String: ArtifactID]? {
    try status().first { $0.name == stageName && $0.state == .fresh }?.outputs
  }
}
