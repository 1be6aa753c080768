import Foundation

/// What a finished stage produced under one stage key: the constructive trace that lets a later run
/// skip it. Also kept as the "head" of a pipeline's stage, so `status` can say what changed since.
public struct CacheEntry: Codable, Sendable {
  /// One output artifact of the stage.
  public struct Output: Codable, Sendable {
    public var id: ArtifactID
    public var kind: Table.Kind
    /// Rows of a table; bytes of a file.
    public var rows: Int
    public var rawBytes: Int
    public var storedBytes: Int
  }

  public var key: Digest
  public var stage: String
  public var kind: String
  public var version: Int
  public var params: JSONValue
  /// Slot → the input's content digest (artifact id, or the content hash of an external file).
  public var inputs: [String: String]
  /// Slot → where the input came from (`stage.output` or the file's path), for people.
  public var inputSources: [String: String]
  public var outputs: [String: Output]
  public var seconds: Double
  public var peakMemoryBytes: Int
  @FigureValues public var figures: [String: Double]
  public var finishedAt: Date
}

extension Digest: Codable {
  public init(from decoder: any Decoder) throws {
    let text = try decoder.singleValueContainer().decode(String.self)
    guard let d = Digest(hex: text) else {
      throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a SHA-256: \(text)"))
    }
    self = d
  }
  public func encode(to encoder: any Encoder) throws {
    var c = encoder.singleValueContainer()
    try c.encode(hex)
  }
}

/// JSON records on disk, written atomically: cache entries, heads, run records, file hashes.
public enum RecordFile {
  static func read<T: Decodable>(_: T.Type, at path: String) -> T? {
    guard let bytes = try? FileSystem.readAll(path) else { return nil }
    return decode(T.self, from: bytes)
  }

  /// A record from its JSON bytes; nil when they are not one.
  public static func decode<T: Decodable>(_: T.Type, from bytes: [UInt8]) -> T? {
    let decoder = JSONDecoder()
    decoder.dateDecodingStrategy = .custom { decoder in
      let container = try decoder.singleValueContainer()
      let text = try container.decode(String.self)
      guard let date = Timestamp.date(text) else {
        throw DecodingError.dataCorruptedError(in: container, debugDescription: "'\(text)' is not an ISO 8601 time")
      }
      return date
    }
    return try? decoder.decode(T.self, from: Data(bytes))
  }

  static func write(_ value: some Encodable, to path: String) throws {
    try FileSystem.writeAtomically(try encode(value), to: path)
  }

  /// A record's JSON bytes, as written to disk.
  public static func encode(_ value: some Encodable) throws -> [UInt8] { Array(try encoder(pretty: true).encode(value)) }

  /// The JSON form of records: sorted keys, times in ISO 8601 to the millisecond (the report's
  /// timeline places stages by them).
  public static func encoder(pretty: Bool) -> JSONEncoder {
    let encoder = JSONEncoder()
    encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted] : [.sortedKeys]
    encoder.dateEncodingStrategy = .custom { date, encoder in
      var container = encoder.singleValueContainer()
      try container.encode(Timestamp.text(date))
    }
    return encoder
  }
}
