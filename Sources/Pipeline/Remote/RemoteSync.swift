import Dispatch
import Foundation
import Synchronization

/// `push` and `pull`: copies a pipeline's current stage results between the local store and its
/// remote cache without running anything. Both walk the pipeline as `status` does, resolving each
/// stage's key from its inputs and its upstream stages' outputs.
public enum RemoteSync {
  /// What a push or pull did.
  public struct Report: Sendable {
    /// Stages whose results were already on the other side.
    public var alreadyThere: Int = 0
    /// Stages whose results were copied.
    public var copied: Int = 0
    public var objects: Int = 0
    public var bytes: Int = 0
    /// Stages with no result to copy (never run, or stale), with why.
    public var missing: [(stage: String, reason: String)] = []
    public var seconds: Double = 0
  }

  /// Uploads every stage result of `spec` the local store holds and its remote lacks: objects
  /// first, in parallel, then each cache entry. Takes the store's lock.
  public static func push(_ spec: PipelineSpec, store: Store, progress: @escaping @Sendable (String) -> Void = { _ in }) throws -> Report {
    try locked("push", store) { remote, report in
      var entries: [CacheEntry] = []
      try walk(spec, store: store) { stage, key in
        guard let entry = store.wholeCacheEntry(key) else {
          report.missing.append((stage.name, "not computed in this store (run it first)"))
          return nil
        }
        entries.append(entry)
        return entry.outputs.mapValues(\.id)
      }
      try transfer(entries, into: &report, progress: progress) { entry in
        if let there = try remote.store.cacheEntry(entry.key), there.outputs.mapValues(\.id) == entry.outputs.mapValues(\.id) {
          return nil
        }
        return try remote.send(entry, from: store)
      }
      report.alreadyThere = entries.count - report.copied
    }
  }

  /// Downloads every stage result of `spec` the store's remote holds and the store lacks, each
  /// object checked against its content id before it is kept. Takes the store's lock.
  public static func pull(_ spec: PipelineSpec, store: Store, progress: @escaping @Sendable (String) -> Void = { _ in }) throws -> Report {
    try locked("pull", store) { remote, report in
      var entries: [CacheEntry] = []
      try walk(spec, store: store) { stage, key in
        if let entry = store.wholeCacheEntry(key) {
          report.alreadyThere += 1
          return entry.outputs.mapValues(\.id)
        }
        guard let entry = try remote.store.cacheEntry(key) else {
          report.missing.append((stage.name, "not in the remote cache (push it from where it ran)"))
          return nil
        }
        entries.append(entry)
        return entry.outputs.mapValues(\.id)
      }
      try transfer(entries, into: &report, progress: progress) { entry in
        var bytes = 0
        for output in entry.outputs.values where store.storedSize(output.id) != output.storedBytes {
          _ = try store.localPath(of: output.id)
          bytes += output.storedBytes
        }
        try store.putCacheEntry(entry)
        try store.putHead(entry, pipeline: spec.identity)
        return bytes
      }
    }
  }

  /// Runs `body` with the store's remote, holding the store's lock, and times it.
  private static func locked(_ verb: String, _ store: Store, _ body: (RemoteCache, inout Report) throws -> Void) throws -> Report {
    guard let remote = store.remote else { throw RunRequestError(message: "\(verb) needs a store with a remote cache") }
    let lock = try store.lock(command: verb)
    defer { lock.release() }
    let started = Date()
    var report = Report()
    try body(remote, &report)
    report.seconds = Date().timeIntervalSince(started)
    return report
  }

  /// Visits the stages in order with their current keys; `visit` returns a stage's outputs, or nil
  /// when it has none to offer (then its downstream stages are reported missing too).
  static func walk(_ spec: PipelineSpec, store: Store, visit: (StageSpec, Digest) throws -> [String: ArtifactID]?) throws {
    let rebuilder = Rebuilder(spec: spec, store: store, cancellation: CancellationFlag(), emit: { _ in })
    var outputs: [String: [String: ArtifactID]] = [:]
    for stage in spec.stages where stage.upstream.allSatisfy({ outputs[$0] != nil }) {
      let key = try rebuilder.resolve(stage, upstream: outputs).components.key
      outputs[stage.name] = try visit(stage, key)
    }
  }

  /// Runs `copy` for every entry, up to the remote's parallel transfers at once; `copy` returns the
  /// bytes it moved, nil when there was nothing to move. The first error is thrown after the others
  /// finish, so nothing is left half-done.
  private static func transfer(
    _ entries: [CacheEntry], into report: inout Report, progress: @escaping @Sendable (String) -> Void,
    copy: @escaping @Sendable (CacheEntry) throws -> Int?
  ) throws {
    let totals = Mutex((copied: 0, objects: 0, bytes: 0, error: (any Error)?.none))
    let group = DispatchGroup()
    for entry in entries {
      DispatchQueue.global().async(group: group) {
        do {
          guard let bytes = try copy(entry) else { return }
          let done = totals.withLock {
            $0.copied += 1
            $0.objects += entry.outputs.count
            $0.bytes += bytes
            return $0.copied
          }
          progress("\(entry.stage): \(Format.bytes(bytes)) (\(done) stage\(done == 1 ? "" : "s") done)")
        } catch {
          totals.withLock { if $0.error == nil { $0.error = error } }
        }
      }
    }
    group.wait()
    let result = totals.withLock { $0 }
    if let error = result.error { throw error }
    report.copied = result.copied
    report.objects = result.objects
    report.bytes = result.bytes
  }
}
