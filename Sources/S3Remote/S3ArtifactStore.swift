import Foundation
import Pipeline

/// A remote cache on an S3-compatible service, laid out as the local store is:
///
/// ```
/// PREFIX/objects/ab/abcd…   artifact objects, named by content id
/// PREFIX/cache/<key>.json   stage-cache entries, written after the objects they name
/// ```
public struct S3ArtifactStore: ArtifactStore {
  var client: S3Client

  public init(location: S3Location, credentials: AWSCredentials) {
    client = S3Client(location: location, credentials: credentials)
  }

  /// The remote named by `url` (`s3://BUCKET/PREFIX`), with endpoint, region and credentials from
  /// the environment as the AWS tools read them.
  public init(url: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
    self.init(location: try S3Location(url: url, environment: environment), credentials: try AWSCredentials.find(environment: environment))
  }

  public var location: String { client.location.description }

  /// Creates the bucket (an existing one of the same owner is fine): for tests and first setup.
  public func createBucket() throws {
    let reply = try client.send("PUT", key: nil, operation: "create the bucket", accept: [200, 409])
    if reply.status == 409 && S3Error.code(in: reply.text) != "BucketAlreadyOwnedByYou" {
      throw S3Error(location: client.location, operation: "create the bucket", status: 409, body: reply.text)
    }
  }

  static func objectKey(_ id: ArtifactID) -> String { "objects/\(id.digest.hex.prefix(2))/\(id.digest.hex)" }
  static func entryKey(_ key: Digest) -> String { "cache/\(key.hex).json" }

  public func objectSize(_ id: ArtifactID) throws -> Int? {
    try client.size(of: client.location.key(Self.objectKey(id)))
  }

  public func getObject(_ id: ArtifactID, to path: String, progress: @escaping @Sendable (Int) -> Void) throws {
    let key = client.location.key(Self.objectKey(id))
    guard let size = try client.size(of: key) else {
      throw MissingObjectError(id: id, detail: "\(location) does not hold it (deleted from the bucket?)")
    }
    try client.download(key, size: size, to: path, progress: progress)
  }

  public func putObject(_ id: ArtifactID, from path: String, progress: @escaping @Sendable (Int) -> Void) throws {
    try client.upload(path, as: client.location.key(Self.objectKey(id)), progress: progress)
  }

  public func cacheEntry(_ key: Digest) throws -> CacheEntry? {
    guard let bytes = try client.data(of: client.location.key(Self.entryKey(key))) else { return nil }
    // An entry that does not decode (another version's, damaged) is a miss, never a result.
    guard let entry = RecordFile.decode(CacheEntry.self, from: bytes), entry.key == key else { return nil }
    return entry
  }

  public func putCacheEntry(_ entry: CacheEntry) throws {
    let bytes = try RecordFile.encode(entry)
    try client.put(bytes, as: client.location.key(Self.entryKey(entry.key)))
  }
}
