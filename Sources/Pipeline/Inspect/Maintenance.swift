import Foundation

/// Garbage collection and verification of a store.
public enum Maintenance {
  /// What `gc` found and did.
  public struct CollectionReport: Sendable {
    public var kept: Int
    public var removed: [ArtifactID]
    public var removedBytes: Int
    public var removedCacheEntries: Int
  }

  /// Removes objects that neither the current outputs of `pipelines` nor the last `recentRuns` run
  /// records name, and the cache entries that named them. Takes the store lock.
  public static func collect(
    store: Store, pipelines: [PipelineSpec], recentRuns: Int = 5, dryRun: Bool,
    waiting: (StoreLock.Holder?) -> Void = { _ in }
  ) throws -> CollectionReport {
    let lock = try store.lock(command: "gc", waiting: waiting)
    defer { lock.release() }
    var keep: Set<ArtifactID> = []
    for spec in pipelines {
      for status in try Runner(spec: spec, store: store, options: RunOptions()).status() {
        keep.formUnion(status.outputs.values)
      }
    }
    for record in store.runRecords(limit: recentRuns) {
      for stage in record.stages { keep.formUnion(stage.outputs.values) }
    }
    let doomed = store.allObjects().filter { !keep.contains($0) }
    let bytes = doomed.reduce(0) { $0 + (store.storedSize($1) ?? 0) }
    var entries = 0
    for key in store.allCacheKeys() {
      guard let entry = store.cacheEntry(key), entry.outputs.values.contains(where: { !keep.contains($0.id) }) else { continue }
      entries += 1
      if !dryRun { store.removeCacheEntry(key) }
    }
    if !dryRun { doomed.forEach(store.removeObject) }
    return CollectionReport(kept: keep.count, removed: doomed, removedBytes: bytes, removedCacheEntries: entries)
  }

  /// One damaged object `verify` found.
  public struct Damage: Sendable {
    public var id: ArtifactID
    public var problem: String
    /// Why it could not be moved to quarantine (a read-only store), or nil when it was.
    public var quarantineError: String?
  }

  /// Checks every object: footer, manifest checksum and every number in the manifest, every chunk's
  /// zstd checksum, offsets that rise; with `deep`, also every chunk's SHA-256 and the content id.
  /// One chunk at a time per worker, so memory stays small whatever an object claims to hold. A
  /// damaged object is reported and moved to quarantine, so the next run recomputes it; the others
  /// are checked all the same.
  public static func verify(store: Store, deep: Bool, progress: (Int, Int) -> Void = { _, _ in }) -> (checked: Int, damaged: [Damage]) {
    let ids = store.allObjects()
    var damaged: [Damage] = []
    for (n, id) in ids.enumerated() {
      progress(n, ids.count)
      do {
        try store.reader(id).verify(as: id, deep: deep)
      } catch {
        let moved = store.quarantine(id)
        damaged.append(Damage(id: id, problem: "\(error)", quarantineError: moved))
      }
    }
    progress(ids.count, ids.count)
    return (ids.count, damaged)
  }
}
