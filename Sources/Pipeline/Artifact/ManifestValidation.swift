/// Every number a manifest gives, checked before any is used: an object may be damaged or made
/// by someone hostile, and a count that overflows, an offset that jumps backwards or a size beyond
/// the file must be "damaged: why", never a crash or a wild allocation.
extension Manifest {
  /// Most rows and elements a manifest may declare (2⁴⁰: far beyond any real table).
  static let largestCount = 1 << 40

  /// Checks the manifest against the object it came from, whose chunks lie in `8..<dataEnd`.
  /// - Throws: the first problem, in words.
  func validate(dataEnd: Int) throws(ManifestProblem) {
    guard chunkBytes == Manifest.chunkBytes else {
      throw ManifestProblem("chunk size \(chunkBytes), the format's is \(Manifest.chunkBytes)")
    }
    guard (0...Manifest.largestCount).contains(rows) else { throw ManifestProblem("row count \(rows) is out of range") }
    var end = 8
    for column in columns {
      guard let type = column.columnType else { throw ManifestProblem("column '\(column.name)' has unknown type '\(column.type)'") }
      let roles = column.buffers.map(\.role)
      guard roles == (type.isRagged ? [.values, .offsets] : [.values]) else {
        throw ManifestProblem(
          "column '\(column.name)' has buffers \(roles.map(\.rawValue)), its type needs \(type.isRagged ? "values and offsets" : "values")")
      }
      for buffer in column.buffers {
        let expected: ElementType = buffer.role == .offsets ? .u64 : type.valueType
        guard buffer.element == expected else {
          throw ManifestProblem("column '\(column.name)' \(buffer.role.rawValue) are \(buffer.element), not \(expected)")
        }
        let elements = buffer.role == .offsets ? rows + 1 : (type.isRagged ? buffer.count : rows)
        guard buffer.count == elements, buffer.count <= Manifest.largestCount else {
          throw ManifestProblem("column '\(column.name)' \(buffer.role.rawValue) count \(buffer.count) does not fit \(rows) rows")
        }
        try validateChunks(buffer, column: column.name, end: &end, dataEnd: dataEnd)
      }
    }
  }

  /// Chunks of `chunkBytes` raw bytes (the last one shorter), each compressed frame inside the data
  /// region, in file order, none overlapping the one before.
  private func validateChunks(_ buffer: BufferManifest, column: String, end: inout Int, dataEnd: Int) throws(ManifestProblem) {
    let raw = buffer.count * buffer.element.byteWidth
    guard buffer.chunks.count == (raw + chunkBytes - 1) / chunkBytes else {
      throw ManifestProblem("column '\(column)' \(buffer.role.rawValue): \(buffer.chunks.count) chunks for \(raw) bytes")
    }
    for (n, chunk) in buffer.chunks.enumerated() {
      let rawSize = min(chunkBytes, raw - n * chunkBytes)
      guard chunk.rawSize == rawSize else {
        throw ManifestProblem("column '\(column)' chunk \(n) holds \(chunk.rawSize) bytes, not \(rawSize)")
      }
      // zstd never grows data by more than a small fraction (ZSTD_compressBound).
      guard chunk.size > 0, chunk.size <= rawSize + rawSize / 128 + 1024, chunk.offset >= end, chunk.offset <= dataEnd - chunk.size else {
        throw ManifestProblem(
          "column '\(column)' chunk \(n) at byte \(chunk.offset) (\(chunk.size) bytes) lies outside the data or overlaps")
      }
      end = chunk.offset + chunk.size
    }
  }
}

/// What is wrong with a manifest, in words.
struct ManifestProblem: Error {
  var text: String
  init(_ text: String) { self.text = text }
}
