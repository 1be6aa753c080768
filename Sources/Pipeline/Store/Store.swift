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

  /// Opens (creating when needed) the store at `root`. Level 1 by default, as column stores
  /// commonly use for data that is written once per run and read soon: writes about 1.4× faster
  /// than level 3 at nearly the same ratio (`bench/artifacts.sh 1 1` against `bench/artifacts.sh 1 3`).
  /// With `create` false, a folder that is not already a store is refused (commands that only
  /// read, such as `inspect --store DIR`, must not litter any folder they are pointed at).
  public init(root: String, compressionLevel: Int32 = 1, create: Bool = true) throws {
    self.root = FileSystem.absolute(root)
    self.compressionLevel = compressionLevel
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

  public func objectPath(_ id: ArtifactID) -> String {
    "\(root)/objects/\(id.digest.hex.prefix(2))/\(id.digest.hex)"
  }

  public func contains(_ id: ArtifactID) -> Bool { FileSystem.exists(objectPath(id)) }

  /// Size on disk of an object, or nil when it is missing.
  public func storedSize(_ id: ArtifactID) -> Int? { try? FileSystem.stamp(objectPath(id)).size }

  /// A writer for a new object, in the store's temporary folder.
  public func makeWriter(workers: Int = Parallel.coreCount) throws -> ArtifactWriter {
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
    let destination = objectPath(manifest.id)
    do {
      if FileSystem.exists(destination), Self.isSoundCopy(destination, of: writer.path) {
        FileSystem.remove(writer.path)
      } else {
        try FileSystem.makeDirectories(FileSystem.dirname(of: destination))
        try FileSystem.rename(writer.path, to: destination)
      }
    } catch {
      FileSystem.remove(writer.path)
      throw error
    }
    return manifest
  }

  private static func isSoundCopy(_ existing: String, of new: String) -> Bool {
    guard let old = try? ArtifactReader(path: existing), let fresh = try? ArtifactReader(path: new) else { return false }
    return (try? old.hasSameChunks(as: fresh)) == true
  }

  /// Writes a whole table as one object.
  public func write(_ table: Table, provenance: Provenance? = nil) throws -> Manifest {
    let writer = try makeWriter()
    do {
      for column in table.columns { try writer.append(column) }
    } catch {
      writer.abandon()
      throw error
    }
    return try commit(writer, kind: table.kind, metadata: table.metadata, provenance: provenance)
  }

  /// Opens an object for reading.
  /// - Throws: `MissingObjectError` when it is not in the store, `CorruptObjectError` when damaged.
  public func reader(_ id: ArtifactID) throws -> ArtifactReader {
    let path = objectPath(id)
    guard FileSystem.exists(path) else { throw MissingObjectError(id: id) }
    let reader = try ArtifactReader(path: path)
    guard reader.manifest.id == id else {
      throw CorruptObjectError(path: path, detail: "its manifest names id \(reader.manifest.id.short)")
    }
    return reader
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
}

/// An artifact the store does not hold (never written, collected, or quarantined).
public struct MissingObjectError: Error, Sendable, CustomStringConvertible {
  public var id: ArtifactID
  public var description: String { "artifact \(id.short) is not in the store" }
}

/// A folder that cannot be used as a store as it is.
public struct StoreLayoutError: Error, Sendable, CustomStringConvertible {
  public var root: String
  public var problem: String
  public var description: String { "store \(root): \(problem); refusing to use it" }
}
