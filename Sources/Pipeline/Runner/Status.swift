/// Whether a stage's cached result still holds, and if not, why.
public struct StageStatus: Sendable {
  public enum State: String, Sendable { case fresh, stale }
  public var name: String
  public var state: State
  public var reason: String
  public var outputs: [String: ArtifactID]
}

extension Runner {
  /// The state of every stage, computed as a run would, without running anything or taking the lock.
  public func status() throws -> [StageStatus] {
    let rebuilder = Rebuilder(spec: spec, store: store, cancellation: cancellation, emit: emit)
    var outputs: [String: [String: ArtifactID]] = [:]
    var states: [StageStatus] = []
    for stage in spec.stages {
      if let stale = stage.upstream.first(where: { outputs[$0] == nil }) {
        states.append(StageStatus(name: stage.name, state: .stale, reason: "upstream stage '\(stale)' is stale", outputs: [:]))
        continue
      }
      let resolved: Rebuilder.ResolvedInputs
      do { resolved = try rebuilder.resolve(stage, upstream: outputs) } catch {
        states.append(StageStatus(name: stage.name, state: .stale, reason: "\(error)", outputs: [:]))
        continue
      }
      if let entry = rebuilder.cachedEntry(resolved.components.key) {
        outputs[stage.name] = entry.outputs.mapValues(\.id)
        states.append(StageStatus(name: stage.name, state: .fresh, reason: "up to date", outputs: outputs[stage.name]!))
      } else {
        states.append(StageStatus(name: stage.name, state: .stale, reason: rebuilder.staleReason(stage, resolved.components), outputs: [:]))
      }
    }
    return states
  }

  /// The artifact ids of a stage's outputs, when the stage is fresh.
  public func currentOutputs(of stageName: String) throws -> [String: ArtifactID]? {
    try status().first { $0.name == stageName && $0.state == .fresh }?.outputs
  }
}
