/// The table of contents at the end of every artifact object (docs/artifact-format.md): schema, row
/// count, where each compressed chunk lies, and who made it.
public struct Manifest: Codable, Sendable {
  public static let formatVersion = 1
  /// Raw bytes per chunk: fixed by the format so that equal content always chunks (and so hashes) alike.
  public static let chunkBytes = 1 << 22

  public var format: Int
  public var id: ArtifactID
  public var kind: Table.Kind
  public var rows: Int
  public var chunkBytes: Int
  public var metadata: [String: String]
  public var columns: [ColumnManifest]
  public var provenance: Provenance?

  /// Sum of the compressed chunk sizes.
  public var compressedBytes: Int { columns.reduce(0) { $0 + $1.buffers.reduce(0) { $0 + $1.compressedBytes } } }
  /// Sum of the uncompressed buffer sizes.
  public var rawBytes: Int { columns.reduce(0) { $0 + $1.buffers.reduce(0) { $0 + $1.rawBytes } } }

  public func column(_ name: String) -> ColumnManifest? { columns.first { $0.name == name } }
}

/// One column's entry in a manifest.
public struct ColumnManifest: Codable, Sendable {
  public var name: String
  public var type: String
  public var nullSentinel: Int64?
  /// `values`, then `offsets` for string and list columns.
  public var buffers: [BufferManifest]

  public var columnType: ColumnType? { ColumnType(type) }
}

/// One buffer (values or offsets) of a column, as consecutive chunks.
public struct BufferManifest: Codable, Sendable {
  public enum Role: String, Codable, Sendable { case values, offsets }
  /// A reversible transform applied to each chunk before compression.
  public enum Filter: String, Codable, Sendable { case none, shuffle }

  public var role: Role
  public var element: ElementType
  public var count: Int
  public var filter: Filter
  public var chunks: [ChunkManifest]

  public var rawBytes: Int { count * element.byteWidth }
  public var compressedBytes: Int { chunks.reduce(0) { $0 + $1.size } }
}

/// Where one zstd frame lies in the object, and the SHA-256 of its raw bytes.
public struct ChunkManifest: Codable, Sendable {
  public var offset: Int
  public var size: Int
  public var rawSize: Int
  public var sha256: String
}

/// Who made an artifact: the stage, its kind and code version, its params and its inputs' ids.
/// Recorded in the manifest for people; not part of the artifact's id.
public struct Provenance: Codable, Sendable {
  public var stage: String
  public var kind: String
  public var version: Int
  public var params: JSONValue
  public var inputs: [String: String]

  public init(stage: String, kind: String, version: Int, params: JSONValue, inputs: [String: String]) {
    self.stage = stage
    self.kind = kind
    self.version = version
    self.params = params
    self.inputs = inputs
  }
}
