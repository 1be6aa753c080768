/// Content-addressed artifact objects and stage-cache entries, wherever they are kept: the local
/// disk store is one, a bucket of an S3-compatible service another. Objects and entries are only
/// ever added: an object's name is its content id, an entry's its stage key, so two writers of the
/// same name write the same thing and the last one wins harmlessly.
///
/// Calls block; make them from threads of your own or Dispatch's, never from Swift's cooperative
/// pool.
public protocol ArtifactStore: Sendable {
  /// Where it is, for messages: a folder, an `s3://` address.
  var location: String { get }
  /// The stored size of an object, or nil when the store does not hold it.
  func objectSize(_ id: ArtifactID) throws -> Int?
  /// Copies an object's bytes into a new file at `path` (which the caller checks and owns).
  func getObject(_ id: ArtifactID, to path: String, progress: @escaping @Sendable (Int) -> Void) throws
  /// Stores the object file at `path` (a whole, checked artifact) under `id`.
  func putObject(_ id: ArtifactID, from path: String, progress: @escaping @Sendable (Int) -> Void) throws
  /// The cache entry recorded under a stage key, or nil.
  func cacheEntry(_ key: Digest) throws -> CacheEntry?
  /// Records a cache entry; only after every object it names is stored.
  func putCacheEntry(_ entry: CacheEntry) throws
}

extension Store: ArtifactStore {
  public var location: String { root }

  public func objectSize(_ id: ArtifactID) -> Int? { storedSize(id) }

  public func getObject(_ id: ArtifactID, to path: String, progress: @escaping @Sendable (Int) -> Void) throws {
    try FileSystem.copyFile(objectPath(id), to: path)
    progress(storedSize(id) ?? 0)
  }

  public func putObject(_ id: ArtifactID, from path: String, progress: @escaping @Sendable (Int) -> Void) throws {
    let staged = temporaryPath("put")
    try FileSystem.copyFile(path, to: staged)
    try adopt(id, file: staged)
    progress(storedSize(id) ?? 0)
  }
}
