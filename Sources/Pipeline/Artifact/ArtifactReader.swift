import Foundation
import Synchronization

/// Reads an artifact object: its manifest at once, its columns on demand, any subset of them, chunks
/// decompressed in parallel. Every chunk's zstd checksum is verified as it is read; `verifyHashes`
/// also recomputes each chunk's SHA-256 against the manifest (what `verify --deep` does).
public struct ArtifactReader: Sendable {
  public let path: String
  public let manifest: Manifest

  /// Opens the object at `path` and reads its manifest.
  /// - Throws: `CorruptObjectError` when the file is not a whole artifact; `SystemError` when it
  ///   cannot be read.
  public init(path: String) throws {
    self.path = path
    let file = try FileDescriptor.open(path, .read)
    defer { file.close() }
    let size = try file.size()
    guard size >= Footer.magic.count + Footer.size,
      try file.read(count: Footer.magic.count, at: 0) == Footer.magic
    else { throw CorruptObjectError(path: path, detail: "not an hmpipe artifact, or truncated (\(size) bytes)") }
    guard let footer = Footer(try file.read(count: Footer.size, at: size - Footer.size), fileSize: size) else {
      throw CorruptObjectError(path: path, detail: "footer missing or damaged (truncated write?)")
    }
    let json = try file.read(count: footer.manifestLength, at: footer.manifestOffset)
    guard json.withUnsafeBytes({ Digest.rawSHA256($0) }) == footer.manifestSHA256 else {
      throw CorruptObjectError(path: path, detail: "manifest checksum mismatch")
    }
    do {
      manifest = try JSONDecoder().decode(Manifest.self, from: Data(json))
    } catch {
      throw CorruptObjectError(path: path, detail: "manifest unreadable: \(error)")
    }
    guard manifest.format == Manifest.formatVersion else {
      throw CorruptObjectError(path: path, detail: "format version \(manifest.format); this hmpipe reads \(Manifest.formatVersion)")
    }
  }

  /// Reads the named columns (all when nil), in the order asked.
  public func table(columns names: [String]? = nil, verifyHashes: Bool = false, workers: Int = Parallel.coreCount) throws -> Table {
    let wanted = try (names ?? manifest.columns.map(\.name)).map { name in
      guard let c = manifest.column(name) else {
        throw MissingColumnError(column: name, available: manifest.columns.map(\.name))
      }
      return c
    }
    let file = try FileDescriptor.open(path, .read)
    defer { file.close() }
    var table = Table(
      try wanted.map { try readColumn($0, file: file, verifyHashes: verifyHashes, workers: workers) },
      metadata: manifest.metadata)
    table.kind = manifest.kind
    return table
  }

  /// Reads one column.
  public func column(_ name: String) throws -> Column {
    try table(columns: [name]).columns[0]
  }

  /// Whether this object's compressed chunks are byte for byte those of `other` (same id, same
  /// chunk layout): then, `other` being sound, so is this one, whatever the provenance beside them.
  /// Reads both files once in pieces of a mebibyte; decompresses nothing.
  public func hasSameChunks(as other: ArtifactReader) throws -> Bool {
    let mine = manifest.columns.flatMap { $0.buffers.flatMap(\.chunks) }
    let theirs = other.manifest.columns.flatMap { $0.buffers.flatMap(\.chunks) }
    guard manifest.id == other.manifest.id, mine.count == theirs.count,
      zip(mine, theirs).allSatisfy({ $0.size == $1.size && $0.sha256 == $1.sha256 })
    else { return false }
    let a = try FileDescriptor.open(path, .read), b = try FileDescriptor.open(other.path, .read)
    defer {
      a.close()
      b.close()
    }
    let piece = 1 << 20
    var left = [UInt8](repeating: 0, count: piece), right = [UInt8](repeating: 0, count: piece)
    for (x, y) in zip(mine, theirs) {
      var done = 0
      while done < x.size {
        let n = min(piece, x.size - done)
        let got = try left.withUnsafeMutableBytes {
          try a.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<n]), at: x.offset + done)
        }
        let other = try right.withUnsafeMutableBytes {
          try b.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<n]), at: y.offset + done)
        }
        guard got == n, other == n, left[0..<n] == right[0..<n] else { return false }
        done += n
      }
    }
    return true
  }

  private func readColumn(_ entry: ColumnManifest, file: FileDescriptor, verifyHashes: Bool, workers: Int) throws -> Column {
    guard let type = entry.columnType else {
      throw CorruptObjectError(path: path, detail: "column '\(entry.name)' has unknown type '\(entry.type)'")
    }
    let values = entry.buffers.first { $0.role == .values }
    let offsets = entry.buffers.first { $0.role == .offsets }
    guard let values, type.isRagged == (offsets != nil) else {
      throw CorruptObjectError(path: path, detail: "column '\(entry.name)' lacks a buffer its type needs")
    }
    let valueStorage = try readBuffer(values, file: file, verifyHashes: verifyHashes, workers: workers)
    let offsetStorage = try offsets.map { try readBuffer($0, file: file, verifyHashes: verifyHashes, workers: workers) }
    let rows = offsets.map { $0.count - 1 } ?? values.count
    guard rows == manifest.rows else {
      throw CorruptObjectError(path: path, detail: "column '\(entry.name)' has \(rows) rows, the manifest says \(manifest.rows)")
    }
    if let offsetStorage {
      let o = offsetStorage.elements(as: UInt64.self)
      guard o.first == 0, o.last == UInt64(values.count) else {
        throw CorruptObjectError(path: path, detail: "column '\(entry.name)' offsets do not span its values")
      }
    }
    return Column(
      name: entry.name, type: type, rowCount: rows, values: valueStorage, offsets: offsetStorage,
      nullSentinel: entry.nullSentinel)
  }

  private func readBuffer(_ buffer: BufferManifest, file: FileDescriptor, verifyHashes: Bool, workers: Int) throws -> ByteStorage {
    let expected = buffer.rawBytes
    guard buffer.chunks.reduce(0, { $0 + $1.rawSize }) == expected else {
      throw CorruptObjectError(path: path, detail: "chunk sizes do not add up to the buffer size")
    }
    var chunkStarts: [Int] = []
    var at = 0
    for chunk in buffer.chunks {
      chunkStarts.append(at)
      at += chunk.rawSize
    }
    let starts = chunkStarts
    return try ByteStorage(count: expected) { destination in
      let out = UnsafeTransfer(destination)
      let failure = Mutex<(any Error)?>(nil)
      let path = self.path
      Parallel.forEach(
        chunks: buffer.chunks.count, workers: workers,
        makeState: { _ in (ZstdDecompressor(), [UInt8](), [UInt8]()) }
      ) { state, index in
        let chunk = buffer.chunks[index]
        // Chunk `index` writes only bytes starts[index] ..< starts[index] + rawSize.
        let target = UnsafeMutableRawBufferPointer(rebasing: out.wrapped[starts[index]..<(starts[index] + chunk.rawSize)])
        do {
          if state.1.count < chunk.size { state.1 = [UInt8](repeating: 0, count: chunk.size) }
          let got = try state.1.withUnsafeMutableBytes { frame in
            try file.read(into: UnsafeMutableRawBufferPointer(rebasing: frame[0..<chunk.size]), at: chunk.offset)
          }
          guard got == chunk.size else { throw CorruptObjectError(path: path, detail: "chunk at byte \(chunk.offset) is cut short") }
          try state.1.withUnsafeBytes { frame in
            let compressed = UnsafeRawBufferPointer(rebasing: frame[0..<chunk.size])
            if buffer.filter == .shuffle {
              if state.2.count < chunk.rawSize { state.2 = [UInt8](repeating: 0, count: chunk.rawSize) }
              try state.2.withUnsafeMutableBytes { scratch in
                let staged = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<chunk.rawSize])
                try decompress(compressed, into: staged, at: chunk.offset)
                ByteShuffle.unshuffle(UnsafeRawBufferPointer(staged), width: buffer.element.byteWidth, into: target)
              }
            } else {
              try decompress(compressed, into: target, at: chunk.offset)
            }
          }
          if verifyHashes, Digest.hexString(Digest.rawSHA256(UnsafeRawBufferPointer(target))) != chunk.sha256 {
            throw CorruptObjectError(path: path, detail: "chunk at byte \(chunk.offset) does not match its SHA-256")
          }
        } catch {
          failure.withLock { if $0 == nil { $0 = error } }
        }

        func decompress(_ frame: UnsafeRawBufferPointer, into target: UnsafeMutableRawBufferPointer, at offset: Int) throws {
          do { try state.0.decompress(frame, into: target) } catch {
            throw CorruptObjectError(path: path, detail: "chunk at byte \(offset): \(error.message)")
          }
        }
      }
      if let error = failure.withLock({ $0 }) { throw error }
    }
  }
}
