import Dispatch

/// Runs stages in dependency order, up to `jobs` at once, each as soon as everything it reads has
/// succeeded; a stage whose upstream failed (or that was never reached because of an interrupt) is
/// reported without running. The "scheduler" of *Build Systems à la Carte*: topological, parallel.
struct Scheduler {
  var stages: [StageSpec]
  var jobs: Int

  func run(
    isCancelled: @escaping @Sendable () -> Bool,
    build: @escaping @Sendable (StageSpec, [String: [String: ArtifactID]]) async -> StageOutcome,
    blocked: @escaping (StageSpec, String) -> StageOutcome
  ) async -> [String: StageOutcome] {
    var results: [String: StageOutcome] = [:]
    var running: Set<String> = []
    await withTaskGroup(of: (String, StageOutcome).self) { group in
      while true {
        markBlocked(&results, running: running, blocked: blocked)
        if !isCancelled() {
          for stage in stages where results[stage.name] == nil && !running.contains(stage.name) && running.count < jobs {
            guard stage.upstream.allSatisfy({ results[$0]?.succeeded == true }) else { continue }
            running.insert(stage.name)
            let upstream = results.filter { stage.upstream.contains($0.key) }.mapValues(\.outputs)
            group.addTask { (stage.name, await build(stage, upstream)) }
          }
        }
        guard let (name, outcome) = await group.next() else { break }
        running.remove(name)
        results[name] = outcome
      }
    }
    for stage in stages where results[stage.name] == nil { results[stage.name] = blocked(stage, "") }
    return results
  }

  /// Gives every stage below a failure its outcome at once, so the loop can end.
  private func markBlocked(_ results: inout [String: StageOutcome], running: Set<String>, blocked: (StageSpec, String) -> StageOutcome) {
    var changed = true
    while changed {
      changed = false
      for stage in stages where results[stage.name] == nil && !running.contains(stage.name) {
        if let culprit = stage.upstream.first(where: { results[$0].map { !$0.succeeded } ?? false }) {
          results[stage.name] = blocked(stage, culprit)
          changed = true
        }
      }
    }
  }
}

/// Runs blocking work on a Dispatch thread, off Swift's cooperative pool, and awaits its result.
func offloaded<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
  await withCheckedContinuation { continuation in
    DispatchQueue.global().async { continuation.resume(returning: body()) }
  }
}

/// Runs blocking work (file and remote-cache calls) on a Dispatch thread, so async code never
/// blocks one of Swift's few cooperative threads.
public func offloaded<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
  try await withCheckedThrowingContinuation { continuation in
    DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
  }
}
