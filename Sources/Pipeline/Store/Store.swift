import Foundation

/// A store on disk: content-addressed artifact objects, the stage cache, pipeline heads, run
/// records, the file-hash cache and what `publish` last copied where, behind one lock.
///
/// ```
/// objects/ab/abcd…   artifacts, named by content id       cache/<key>.json     stage cache
/// heads/<pipeline>/<stage>.json  last trace per stage     runs/<time>-<pid>.json run records
/// files/<path hash>.json  external file hashes            published/<path hash>.json  published files
/// tmp/  quarantine/  lock
/// ```
/// Every write is temp file + fsync + rename, and a stage's cache entry is written after its
/// objects, so a crash at any point leaves either nothing or a whole result.
public final class Store: Sendable {
  /// The folders every store has.
  public static let folders = ["objects", "cache", "heads", "runs", "files", "tmp", "quarantine", "published"]

  public let root: String
  public let compressionLevel: Int32
  /// The team cache behind this store, if any: objects missing here are fetched from it.
  public let remote: RemoteCache?

  /// Opens (creating when needed) the store at `root`. Level 1 by default, as column stores
  /// commonly use for data that is written once per run and read soon: writes about 1.4× faster
  /// than level 3 at nearly the same ratio (`bench/artifacts.sh 1 1` against `bench/artifacts.sh 1 3`).
  /// With `create` false, a folder that is not already a store is refused (commands that only
  /// read, such as `inspect --store DIR`, must not litter any folder they are pointed at).
  public init(root: String, compressionLevel: Int32 = 1, create: Bool = true, remote: RemoteCache? = nil) throws {
    self.root = FileSystem.absolute(root)
    self.compressionLevel = compressionLevel
    self.remote = remote
    if !create, let missing = Self.folders.first(where: { !FileSystem.isDirectory(self.root + "/" + $0) }) {
      throw StoreLayoutError(root: self.root, problem: "is not an hmpipe store (it has no \(missing)/ folder)")
    }
    for dir in Self.folders {
      let path = self.root + "/" + dir
      // A folder that is a link would make cleaning and gc act on whatever it points to.
      if FileSystem.isSymbolicLink(path) { throw StoreLayoutError(root: self.root, problem: "\(dir)/ is a symbolic link") }
      try FileSystem.makeDirectories(path)
    }
  }

  // MARK: Objects

  /// Where the object file of `id` is (or would be). Only tests of the disk layout and `localPath`
  /// use it; everything else goes through ids.
  public func objectPath(_ id: ArtifactID) -> String {
    "\(root)/objects/\(id.digest.hex.prefix(2))/\(id.digest.hex)"
  }

  public func contains(_ id: ArtifactID) -> Bool { FileSystem.exists(objectPath(id)) }

  /// Size on disk of an object, or nil when it is missing.
  public func storedSize(_ id: ArtifactID) -> Int? { try? FileSystem.stamp(objectPath(id)).size }

  /// A writer for a new object, in the store's temporary folder.
  public func makeWriter(workers: Int = Parallel.share) throws -> ArtifactWriter {
    try ArtifactWriter(path: temporaryPath("object"), level: compressionLevel, workers: workers)
  }

  /// Finishes `writer` and moves the object into place under its content id. A file already there
  /// is kept only when it is sound: its manifest verifies and its compressed chunks are the new
  /// file's, byte for byte (a damaged copy, truncated or flipped, is replaced; keeping it would make
  /// every later run trust it). Keeping a sound copy keeps its size, which other stages' cache
  /// entries that share the id recorded.
  public func commit(
    _ writer: ArtifactWriter, kind: Table.Kind = .table, metadata: [String: String] = [:], provenance: Provenance? = nil
  ) throws -> Manifest {
    let manifest: Manifest
    do {
      manifest = try writer.finish(kind: kind, metadata: metadata, provenance: provenance)
    } catch {
      writer.abandon()
      throw error
    }
    try place(writer.path, as: manifest.id, syncing: true)
    return manifest
  }

  /// Moves the object file at `path` (in tmp/) into place as `id`, unless a sound copy is there;
  /// `syncing` syncs it first, so that an object in place is on disk whole. A rerun whose output is
  /// already stored so never waits for the disk.
  private func place(_ path: String, as id: ArtifactID, syncing: Bool = false) throws {
    let destination = objectPath(id)
    do {
      if FileSystem.exists(destination), Self.isSoundCopy(destination, of: path) {
        FileSystem.remove(path)
      } else {
        if syncing { try FileSystem.sync(path) }
        try FileSystem.makeDirectories(FileSystem.dirname(of: destination))
        try FileSystem.rename(path, to: destination)
      }
    } catch {
      FileSystem.remove(path)
      throw error
    }
  }

  /// Takes in an object file that came from elsewhere (a download, a copy, in tmp/) as `id`, after
  /// checking all of it: its manifest names `id`, every chunk decompresses and matches its SHA-256,
  /// and the content id recomputes to `id`. A file that fails is deleted and the error thrown.
  public func adopt(_ id: ArtifactID, file path: String) throws {
    do { try ArtifactReader(path: path).verify(as: id, deep: true) } catch {
      FileSystem.remove(path)
      throw error
    }
    try place(path, as: id)
  }

  private static func isSoundCopy(_ existing: String, of new: String) -> Bool {
    guard let old = try? ArtifactReader(path: existing), let fresh = try? ArtifactReader(path: new) else { return false }
    return old.hasSameChunks(as: fresh)
  }

  /// Writes a whole table as one object.
  public func write(_ table: Table, provenance: Provenance? = nil) throws -> Manifest {
    let writer = try makeWriter()
    do {
      try writer.append(table.columns)
    } catch {
      writer.abandon()
      throw error
    }
    return try commit(writer, kind: table.kind, metadata: table.metadata, provenance: provenance)
  }

  /// Opens an object for reading.
  /// - Throws: `MissingObjectError` when it is not in the store, `CorruptObjectError` when damaged.
  public func reader(_ id: ArtifactID) throws -> ArtifactReader {
    let path = try localPath(of: id)
    let reader = try ArtifactReader(path: path)
    guard reader.manifest.id == id else {
      throw CorruptObjectError(path: path, detail: "its manifest names id \(reader.manifest.id.short)")
    }
    return reader
  }

  /// The path of the object file of `id`, fetching it from the remote cache first when this store
  /// lacks it: for a program that reads the object itself (a command stage).
  /// - Throws: `MissingObjectError` when neither has it, `CorruptObjectError` when the remote's copy
  ///   is damaged.
  public func localPath(of id: ArtifactID) throws -> String {
    let path = objectPath(id)
    if FileSystem.exists(path) { return path }
    guard let remote else { throw MissingObjectError(id: id) }
    try remote.fetch(id, into: self)
    return path
  }

  /// Every object id in the store.
  public func allObjects() -> [ArtifactID] {
    let objects = root + "/objects"
    return ((try? FileSystem.list(objects)) ?? []).flatMap { prefix in
      ((try? FileSystem.list(objects + "/" + prefix)) ?? []).compactMap(ArtifactID.init(hex:))
    }
  }

  /// Moves a damaged object aside so it is never used again and its stage is recomputed.
  /// - Returns: nil when moved, else why not (a read-only store, say).
  @discardableResult
  public func quarantine(_ id: ArtifactID) -> String? {
    let destination = "\(root)/quarantine/\(id.digest.hex)-\(Int(Date().timeIntervalSince1970))"
    do { try FileSystem.rename(objectPath(id), to: destination) } catch { return "\(error)" }
    return nil
  }

  public func removeObject(_ id: ArtifactID) { FileSystem.remove(objectPath(id)) }

  /// Ids that start with `prefix` (at least 4 hex digits).
  public func objects(withPrefix prefix: String) -> [ArtifactID] {
    let p = prefix.lowercased()
    guard p.count >= 4 else { return [] }
    return ((try? FileSystem.list("\(root)/objects/\(p.prefix(2))")) ?? [])
      .filter { $0.hasPrefix(p) }.compactMap(ArtifactID.init(hex:))
  }

  // MARK: Stage cache and heads

  public func cacheEntry(_ key: Digest) -> CacheEntry? {
    RecordFile.read(CacheEntry.self, at: "\(root)/cache/\(key.hex).json")
  }

  /// The cache entry for `key` when every object it names is here, whole-sized.
  public func wholeCacheEntry(_ key: Digest) -> CacheEntry? {
    guard let entry = cacheEntry(key), entry.outputs.values.allSatisfy({ storedSize($0.id) == $0.storedBytes }) else { return nil }
    return entry
  }

  public func putCacheEntry(_ entry: CacheEntry) throws {
    try RecordFile.write(entry, to: "\(root)/cache/\(entry.key.hex).json")
  }

  public func removeCacheEntry(_ key: Digest) { FileSystem.remove("\(root)/cache/\(key.hex).json") }

  public func allCacheKeys() -> [Digest] {
    ((try? FileSystem.list(root + "/cache")) ?? []).compactMap { Digest(hex: String($0.dropLast(5))) }
  }

  /// The last trace recorded for a stage of a pipeline (what `status` compares against).
  public func head(pipeline: Digest, stage: String) -> CacheEntry? {
    RecordFile.read(CacheEntry.self, at: headPath(pipeline, stage))
  }

  public func putHead(_ entry: CacheEntry, pipeline: Digest) throws {
    try FileSystem.makeDirectories("\(root)/heads/\(pipeline.hex)")
    try RecordFile.write(entry, to: headPath(pipeline, entry.stage))
  }

  private func headPath(_ pipeline: Digest, _ stage: String) -> String {
    "\(root)/heads/\(pipeline.hex)/\(stage).json"
  }

  // MARK: Run records

  public func putRunRecord(_ record: RunRecord) throws {
    // Sortable to the millisecond, so records list in the order the runs started.
    let stamp = Timestamp.text(record.startedAt).replacingOccurrences(of: ":", with: "")
    try RecordFile.write(record, to: "\(root)/runs/\(stamp)-\(FileSystem.processID).json")
  }

  /// Run records, newest first.
  public func runRecords(limit: Int = .max) -> [RunRecord] {
    let names = ((try? FileSystem.list(root + "/runs")) ?? []).filter { $0.hasSuffix(".json") }.sorted().reversed()
    return names.prefix(limit).compactMap { RecordFile.read(RunRecord.self, at: "\(root)/runs/\($0)") }
  }

  /// The run records of one pipeline file (its absolute path), newest first: what `runs` lists and
  /// `diff` numbers.
  public func runRecords(ofPipeline path: String) -> [RunRecord] { runRecords().filter { $0.pipeline == path } }

  // MARK: Files, temporaries, lock

  /// The content hash of an external file, cached by its stamp.
  public func fileDigest(_ path: String, progress: (Double) -> Void = { _ in }) throws -> Digest {
    try FileHashCache(directory: root + "/files").digest(of: path, progress: progress)
  }

  /// A fresh name in the store's temporary folder.
  public func temporaryPath(_ label: String) -> String {
    "\(root)/tmp/\(label)-\(FileSystem.processID)-\(UUID().uuidString.prefix(8))"
  }

  /// Deletes what crashed writers left: everything in tmp/, and the unfinished `*.partial-*`
  /// files of record writes (cache entries, heads, run records, file hashes, publish records).
  /// Call only while holding the lock.
  /// - Returns: how many files were removed.
  @discardableResult
  public func removeTemporaryFiles() -> Int {
    let names = (try? FileSystem.list(root + "/tmp")) ?? []
    for name in names { FileSystem.removeTree("\(root)/tmp/\(name)") }
    var removed = names.count
    let heads = ((try? FileSystem.list(root + "/heads")) ?? []).map { "heads/" + $0 }
    for folder in ["cache", "runs", "files", "published", "heads"] + heads where !FileSystem.isSymbolicLink(root + "/" + folder) {
      for name in (try? FileSystem.list(root + "/" + folder)) ?? [] where name.contains(AtomicFile.partialMarker) {
        FileSystem.remove("\(root)/\(folder)/\(name)")
        removed += 1
      }
    }
    return removed
  }

  public var lockPath: String { root + "/lock" }

  /// Takes the store's lock (see `StoreLock`).
  public func lock(
    command: String, waiting: (StoreLock.Holder?) -> Void = { _ in }, clearedStale: (StoreLock.Holder) -> Void = { _ in }
  ) throws -> StoreLock {
    try StoreLock(path: lockPath, command: command, waiting: waiting, clearedStale: clearedStale)
  }

  /// A new empty folder in tmp/, for a stage's temporary files.
  public func makeScratchDirectory(_ label: String) throws -> String {
    let path = temporaryPath(label)
    try FileSystem.makeDirectories(path)
    return path
  }

  // MARK: Published files

  func publishRecord(for path: String) -> PublishRecord? {
    RecordFile.read(PublishRecord.self, at: publishRecordPath(path))
  }

  func putPublishRecord(_ record: PublishRecord) throws {
    try RecordFile.write(record, to: publishRecordPath(record.path))
  }

  private func publishRecordPath(_ path: String) -> String { root + "/published/" + Digest.of(path).hex + ".json" }
}

/// An artifact the store does not hold (never written, collected, or quarantined).
public struct MissingObjectError: Error, Sendable, CustomStringConvertible {
  public init(id: ArtifactID, detail: String? = nil) {
    self.id = id
    self.detail = detail
  }
  public var id: ArtifactID
  /// Why a remote cache could not supply it either, when one was asked.
  public var detail: String? = nil
  public var description: String { "artifact \(id.short) is not in the store" + (detail.map { "; \($0)" } ?? "") }
}

/// A folder that cannot be used as a store as it is.
public struct StoreLayoutError: Error, Sendable, CustomStringConvertible {
  public var root: String
  public var problem: String
  public var description: String { "store \(root): \(problem); refusing to use it" }
}
