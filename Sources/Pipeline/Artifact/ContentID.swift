extension Manifest {
  /// The artifact's id, derived from the canonical description of its content: kind, row count,
  /// metadata, and for each column its name, type, null sentinel and, per buffer, the element count
  /// and the SHA-256 of every raw chunk. Compression level, filters, chunk placement and provenance
  /// do not enter it, so they never change an id (docs/artifact-format.md gives the exact text).
  public func contentID() -> ArtifactID {
    var text = "hmpipe-artifact-v\(Manifest.formatVersion)\nkind \(kind.rawValue)\nrows \(rows)\nchunk \(chunkBytes)\n"
    let meta = JSONValue.object(metadata.mapValues { .string($0) })
    text += "metadata \(meta.canonical)\n"
    for column in columns {
      text += "column \(column.name.utf8.count):\(column.name) \(column.type) null \(column.nullSentinel.map(String.init) ?? "-")\n"
      for buffer in column.buffers {
        text += "buffer \(buffer.role.rawValue) \(buffer.element.rawValue) \(buffer.count)\n"
        for chunk in buffer.chunks { text += chunk.sha256 + "\n" }
      }
    }
    return ArtifactID(Digest.of(text))
  }
}

/// An object whose bytes do not match what its manifest promises: truncated, flipped, or not an
/// artifact at all.
public struct CorruptObjectError: Error, Sendable, CustomStringConvertible {
  public var path: String
  public var detail: String
  public init(path: String, detail: String) {
    self.path = path
    self.detail = detail
  }
  public var description: String { "corrupt artifact \(path): \(detail)" }
}

/// The fixed 56-byte tail of every object: where the manifest is and its SHA-256.
struct Footer {
  static let magic: [UInt8] = Array("HMPIPEA1".utf8)
  static let size = 56

  var manifestOffset: Int
  var manifestLength: Int
  var manifestSHA256: [UInt8]

  var bytes: [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(Footer.size)
    withUnsafeBytes(of: UInt64(manifestOffset).littleEndian) { out.append(contentsOf: $0) }
    withUnsafeBytes(of: UInt64(manifestLength).littleEndian) { out.append(contentsOf: $0) }
    out.append(contentsOf: manifestSHA256)
    out.append(contentsOf: Footer.magic)
    return out
  }

  init(manifestOffset: Int, manifestLength: Int, manifestSHA256: [UInt8]) {
    self.manifestOffset = manifestOffset
    self.manifestLength = manifestLength
    self.manifestSHA256 = manifestSHA256
  }

  /// Decodes a footer; nil when the bytes are not one.
  init?(_ raw: [UInt8], fileSize: Int) {
    guard raw.count == Footer.size, Array(raw[48..<56]) == Footer.magic else { return nil }
    let (offset, length) = raw.withUnsafeBytes { b in
      (
        b.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian,
        b.loadUnaligned(fromByteOffset: 8, as: UInt64.self).littleEndian
      )
    }
    let (end, overflow) = offset.addingReportingOverflow(length)
    guard offset >= 8, length > 0, !overflow, end <= UInt64(Int.max), Int(end) + Footer.size == fileSize else { return nil }
    manifestOffset = Int(offset)
    manifestLength = Int(length)
    manifestSHA256 = Array(raw[16..<48])
  }
}
