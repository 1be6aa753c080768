import Dispatch
import Foundation
import Synchronization

/// A shared store behind the local one (a team's bucket): the runner asks it for a stage key the
/// local store misses, objects are fetched from it only when a stage or a publish reads them, and
/// what a run computes is uploaded to it in the background, objects before the cache entry.
///
/// It is a cache, so it never decides a result: a remote that fails (unreachable, credentials
/// refused, a damaged object) is reported once and the run carries on locally, unless it was
/// declared required. An object whose remote copy was damaged is refused for the rest of the run,
/// so the stage that made it is computed here and the good copy uploaded over the bad.
public final class RemoteCache: Sendable {
  public let store: any ArtifactStore
  /// Whether a failure of the remote fails the run rather than being worked around.
  public let required: Bool
  /// Transfers at once during uploads and `push`/`pull`.
  public let parallelTransfers: Int
  private let warn: @Sendable (String) -> Void
  private let state = Mutex(State())
  private let pending = DispatchGroup()
  private let slots: DispatchSemaphore

  private struct State {
    var disabled: String?
    var refused: Set<ArtifactID> = []
    var uploadFailures: [String] = []
    var uploaded = 0
    var queued = 0
    var fetched = 0
    var bytesUp = 0
    var bytesDown = 0
  }

  public init(
    store: any ArtifactStore, required: Bool = false, parallelTransfers: Int = 4, warn: @escaping @Sendable (String) -> Void = { _ in }
  ) {
    self.store = store
    self.required = required
    self.parallelTransfers = max(1, parallelTransfers)
    self.warn = warn
    slots = DispatchSemaphore(value: self.parallelTransfers)
  }

  public var location: String { store.location }

  /// Why the remote is no longer used in this run, or nil while it is.
  public var disabledReason: String? { state.withLock { $0.disabled } }

  /// Asks the remote for a key no stage has, so a wrong endpoint, refused credentials or a missing
  /// bucket are known before the run starts. A required remote throws; an optional one is disabled
  /// with a warning and the run carries on locally.
  public func check() throws {
    do { _ = try store.cacheEntry(Digest.of("hmpipe remote check")) } catch { try failed(error) }
  }

  // MARK: Reading

  /// The remote's cache entry for `key`, unless it names an object refused in this run. A remote
  /// that fails here is disabled (or, when required, its error thrown).
  public func entry(_ key: Digest) throws -> CacheEntry? {
    guard disabledReason == nil else { return nil }
    do {
      guard let entry = try store.cacheEntry(key) else { return nil }
      let refused = state.withLock { $0.refused }
      return entry.outputs.values.contains { refused.contains($0.id) } ? nil : entry
    } catch {
      try failed(error)
      return nil
    }
  }

  /// Downloads object `id` into `local` (checked whole before it is placed there).
  /// - Throws: `MissingObjectError` when the remote cannot give it, `CorruptObjectError` when its
  ///   copy is damaged; either way the id is refused for the rest of the run, so the stage that
  ///   makes it runs here.
  func fetch(_ id: ArtifactID, into local: Store) throws {
    if let reason = disabledReason {
      throw MissingObjectError(id: id, detail: "the remote \(location) is not in use (\(reason))")
    }
    let staging = local.temporaryPath("fetch-\(id.short)")
    do {
      try withTransferSlot { try store.getObject(id, to: staging) { _ in } }
      let bytes = (try? FileSystem.stamp(staging).size) ?? 0
      try local.adopt(id, file: staging)
      state.withLock {
        $0.fetched += 1
        $0.bytesDown += bytes
      }
    } catch let error as CorruptObjectError {
      refuse(id)
      warn("the remote's copy of artifact \(id.short) is damaged (\(error.detail)); computing it here instead")
      throw CorruptObjectError(path: "\(location) object \(id.short)", detail: error.detail)
    } catch let error as MissingObjectError {
      // Gone from the remote (a lifecycle rule, a cleanup): computing it here is the cure, even
      // when the remote is required.
      FileSystem.remove(staging)
      refuse(id)
      warn("\(error); computing it here instead")
      throw error
    } catch {
      FileSystem.remove(staging)
      refuse(id)
      if required { throw error }
      warn("cannot fetch artifact \(id.short) from \(location): \(error); computing it here instead")
      throw MissingObjectError(id: id, detail: "the remote \(location) could not give it")
    }
  }

  /// Never use the remote's copy of `id` again in this run, and overwrite it when uploading.
  func refuse(_ id: ArtifactID) { state.withLock { _ = $0.refused.insert(id) } }

  // MARK: Writing

  /// Uploads in the background what a stage just computed: each object the remote lacks (or whose
  /// copy was refused), then the entry. `finishUploads` waits for all of them.
  func upload(_ entry: CacheEntry, from local: Store) {
    guard disabledReason == nil else { return }
    pending.enter()
    state.withLock { $0.queued += 1 }
    DispatchQueue.global().async {
      defer {
        self.state.withLock { $0.queued -= 1 }
        self.pending.leave()
      }
      do { try self.send(entry, from: local) } catch {
        self.state.withLock { $0.uploadFailures.append("stage '\(entry.stage)': \(error)") }
      }
    }
  }

  /// Copies one entry and its objects to the remote now (what `upload` and `push` do).
  /// - Returns: the bytes sent.
  @discardableResult
  public func send(_ entry: CacheEntry, from local: Store) throws -> Int {
    var sent = 0
    for output in entry.outputs.values.sorted(by: { $0.id < $1.id }) {
      let refused = state.withLock { $0.refused.contains(output.id) }
      if !refused, try store.objectSize(output.id) == output.storedBytes { continue }
      let path = try local.localPath(of: output.id)
      do { try withTransferSlot { try store.putObject(output.id, from: path) { _ in } } } catch {
        // Another machine may have stored the same object meanwhile (a service may refuse the
        // second of two writers of one key): its content id makes that copy as good as ours.
        guard !refused, (try? store.objectSize(output.id)) == output.storedBytes else { throw error }
        continue
      }
      sent += output.storedBytes
      state.withLock {
        $0.refused.remove(output.id)
        $0.bytesUp += output.storedBytes
      }
    }
    try store.putCacheEntry(entry)
    state.withLock { $0.uploaded += 1 }
    return sent
  }

  /// Stage results still being uploaded.
  public var uploadsInFlight: Int { state.withLock { $0.queued } }

  /// Waits for the background uploads. - Returns: one line per stage whose upload failed.
  public func finishUploads() -> [String] {
    pending.wait()
    return state.withLock { $0.uploadFailures }
  }

  /// Transfers so far in this process, for the closing summary.
  public var traffic: (uploadedEntries: Int, fetchedObjects: Int, bytesUp: Int, bytesDown: Int) {
    state.withLock { ($0.uploaded, $0.fetched, $0.bytesUp, $0.bytesDown) }
  }

  private func withTransferSlot<T>(_ body: () throws -> T) rethrows -> T {
    slots.wait()
    defer { slots.signal() }
    return try body()
  }

  private func failed(_ error: any Error) throws {
    if required { throw error }
    let first = state.withLock { s in
      defer { s.disabled = s.disabled ?? "\(error)" }
      return s.disabled == nil
    }
    if first { warn("\(error); carrying on without the remote cache") }
  }
}
