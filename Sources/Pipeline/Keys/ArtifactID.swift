/// The name of an artifact: SHA-256 over its canonical uncompressed content (schema and column data,
/// never the compression level, chunk layout on disk or thread count). See docs/artifact-format.md.
public struct ArtifactID: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
  public let digest: Digest
  public init(_ digest: Digest) { self.digest = digest }
  public init?(hex: String) {
    guard let d = Digest(hex: hex) else { return nil }
    digest = d
  }
  public var description: String { digest.hex }
  public var short: String { digest.short }
  public static func < (a: ArtifactID, b: ArtifactID) -> Bool { a.digest < b.digest }

  public init(from decoder: any Decoder) throws { digest = try Digest(from: decoder) }
  public func encode(to encoder: any Encoder) throws { try digest.encode(to: encoder) }
}
