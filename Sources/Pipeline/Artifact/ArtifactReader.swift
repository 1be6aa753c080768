import Foundation
import Synchronization

/// Reads an artifact object: its manifest at once, its columns on demand, any subset of them, chunks
/// decompressed in parallel. Every chunk's zstd checksum is verified as it is read; `verifyHashes`
/// also recomputes each chunk's SHA-256 against the manifest (what `verify --deep` does).
public struct ArtifactReader: Sendable {
  public let source: any ByteSource
  public let manifest: Manifest
  /// What messages name: the object's path or URL.
  public var path: String { source.name }

  /// Opens the object file at `path` and reads its manifest.
  /// - Throws: `CorruptObjectError` when the file is not a whole artifact; `SystemError` when it
  ///   cannot be read.
  public init(path: String) throws {
    try self.init(source: try FileBytes(path: path))
  }

  /// Reads the manifest of the object whose bytes `source` gives.
  public init(source: any ByteSource) throws {
    self.source = source
    let file = source
    let path = source.name
    let size = source.size
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
    do { try manifest.validate(dataEnd: footer.manifestOffset) } catch {
      throw CorruptObjectError(path: path, detail: "manifest: \(error.text)")
    }
  }

  /// Reads the named columns (all when nil), in the order asked.
  public func table(columns names: [String]? = nil, verifyHashes: Bool = false, workers: Int = Parallel.share) throws -> Table {
    let wanted = try (names ?? manifest.columns.map(\.name)).map { name in
      guard let c = manifest.column(name) else {
        throw MissingColumnError(column: name, available: manifest.columns.map(\.name))
      }
      return c
    }
    let file = source
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
  /// Reads both files once, chunks in parallel, in pieces of a mebibyte; decompresses nothing. A
  /// piece that cannot be read counts as a difference.
  public func hasSameChunks(as other: ArtifactReader) -> Bool {
    let mine = manifest.columns.flatMap { $0.buffers.flatMap(\.chunks) }
    let theirs = other.manifest.columns.flatMap { $0.buffers.flatMap(\.chunks) }
    guard manifest.id == other.manifest.id, mine.count == theirs.count,
      zip(mine, theirs).allSatisfy({ $0.size == $1.size && $0.sha256 == $1.sha256 })
    else { return false }
    let a = source, b = other.source, pairs = Array(zip(mine, theirs))
    let differs = Atomic<Bool>(false)
    // A piece of each file into its buffer, then one memcmp.
    Parallel.forEach(
      chunks: pairs.count, makeState: { _ in ([UInt8](repeating: 0, count: 1 << 20), [UInt8](repeating: 0, count: 1 << 20)) }
    ) {
      buffers, p in
      let (x, y) = pairs[p]
      var done = 0
      while done < x.size, !differs.load(ordering: .relaxed) {
        let n = min(buffers.0.count, x.size - done)
        let got = try? buffers.0.withUnsafeMutableBytes {
          try a.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<n]), at: x.offset + done)
        }
        let other = try? buffers.1.withUnsafeMutableBytes {
          try b.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<n]), at: y.offset + done)
        }
        let same = buffers.0.withUnsafeBytes { l in buffers.1.withUnsafeBytes { r in memcmp(l.baseAddress!, r.baseAddress!, n) == 0 } }
        if got != n || other != n || !same { differs.store(true, ordering: .relaxed) }
        done += n
      }
    }
    return !differs.load(ordering: .relaxed)
  }

  private func readColumn(_ entry: ColumnManifest, file: any ByteSource, verifyHashes: Bool, workers: Int) throws -> Column {
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
      guard o.first == 0, o.last == UInt64(values.count), zip(o, o.dropFirst()).allSatisfy({ $0 <= $1 }) else {
        throw CorruptObjectError(path: path, detail: "column '\(entry.name)' offsets do not rise from 0 to its value count")
      }
    }
    return Column(
      name: entry.name, type: type, rowCount: rows, values: valueStorage, offsets: offsetStorage,
      nullSentinel: entry.nullSentinel)
  }

  private func readBuffer(_ buffer: BufferManifest, file: any ByteSource, verifyHashes: Bool, workers: Int) throws -> ByteStorage {
    try ByteStorage(count: buffer.count * buffer.element.byteWidth) { destination in
      try decode(buffer, chunks: buffer.chunks.indices, file: file, into: destination, verifyHashes: verifyHashes, workers: workers)
    }
  }

  /// Decompresses `chunks` of `buffer` in parallel into `destination`, one after another from its start.
  private func decode(
    _ buffer: BufferManifest, chunks: Range<Int>, file: any ByteSource, into destination: UnsafeMutableRawBufferPointer,
    verifyHashes: Bool, workers: Int
  ) throws {
    let chunkBytes = manifest.chunkBytes, first = chunks.lowerBound
    let out = UnsafeTransfer(destination)
    let failure = Mutex<(any Error)?>(nil)
    let path = self.path
    Parallel.forEach(chunks: chunks.count, workers: workers, makeState: { _ in ChunkDecoder() }) { decoder, n in
      let chunk = buffer.chunks[first + n], start = n * chunkBytes
      // Chunk n writes only bytes start ..< start + rawSize.
      let target = UnsafeMutableRawBufferPointer(rebasing: out.wrapped[start..<(start + chunk.rawSize)])
      do { try decoder.decode(chunk, of: buffer, file: file, path: path, into: target, verifyHash: verifyHashes) } catch {
        failure.withLock { if $0 == nil { $0 = error } }
      }
    }
    if let error = failure.withLock({ $0 }) { throw error }
  }

  /// Writes a file artifact's bytes to `path`, atomically and synced, a few chunks at a time: the
  /// memory it takes is a batch of chunks whatever the file's size, and no copy of the whole file is
  /// ever made in memory. Nothing is left at `path` when it fails.
  public func writeFile(to path: String, workers: Int = Parallel.share) throws {
    guard let column = manifest.column("bytes"), let buffer = column.buffers.first(where: { $0.role == .values }) else {
      throw MissingColumnError(column: "bytes", available: manifest.columns.map(\.name))
    }
    let batch = 2 * max(1, workers), file = try AtomicFile(path: path)
    let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: batch * manifest.chunkBytes, alignment: 64)
    defer { scratch.deallocate() }
    do {
      for first in stride(from: 0, to: buffer.chunks.count, by: batch) {
        let chunks = first..<min(first + batch, buffer.chunks.count)
        try decode(buffer, chunks: chunks, file: source, into: scratch, verifyHashes: false, workers: workers)
        let bytes = chunks.reduce(0) { $0 + buffer.chunks[$1].rawSize }
        try file.write(UnsafeRawBufferPointer(rebasing: scratch[0..<bytes]))
      }
      try file.commit()
    } catch {
      file.abandon()
      throw error
    }
  }

  /// Checks that this is object `id` throughout: its manifest names `id`, every chunk passes
  /// `verify`, and with `deep` every chunk's SHA-256 matches and the content id recomputes to `id`.
  public func verify(as id: ArtifactID, deep: Bool) throws {
    guard manifest.id == id else {
      throw CorruptObjectError(path: path, detail: "its manifest names id \(manifest.id.short), not \(id.short)")
    }
    try verify(hashes: deep)
    if deep, manifest.contentID() != id {
      throw CorruptObjectError(path: path, detail: "its content id recomputes to \(manifest.contentID().short), not \(id.short)")
    }
  }

  /// Checks every chunk (its zstd checksum; with `hashes`, its SHA-256 too) and that every string
  /// and list column's offsets rise from 0 to its value count, one chunk at a time per worker: the
  /// memory used is a few chunks, whatever size the object claims to unpack to.
  public func verify(hashes: Bool, workers: Int = Parallel.share) throws {
    let file = source
    let path = self.path
    for column in manifest.columns {
      for buffer in column.buffers {
        // Per chunk of offsets: its first and last value, and whether it rises within.
        let bounds = Mutex([(UInt64, UInt64, Bool)?](repeating: nil, count: buffer.chunks.count))
        let failure = Mutex<(any Error)?>(nil)
        Parallel.forEach(chunks: buffer.chunks.count, workers: workers, makeState: { _ in ChunkDecoder() }) { decoder, index in
          let chunk = buffer.chunks[index]
          if decoder.output.count < chunk.rawSize { decoder.output = [UInt8](repeating: 0, count: chunk.rawSize) }
          do {
            try decoder.output.withUnsafeMutableBytes { output in
              let target = UnsafeMutableRawBufferPointer(rebasing: output[0..<chunk.rawSize])
              try decoder.decode(chunk, of: buffer, file: file, path: path, into: target, verifyHash: hashes)
              if buffer.role == .offsets {
                let n = target.count / 8
                let value = { (i: Int) in target.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self) }
                let rising = (1..<max(n, 1)).allSatisfy { value($0 - 1) <= value($0) }
                bounds.withLock { $0[index] = (value(0), value(n - 1), rising) }
              }
            }
          } catch {
            failure.withLock { if $0 == nil { $0 = error } }
          }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        guard buffer.role == .offsets else { continue }
        let valueCount = UInt64(column.buffers[0].count)
        let chunks = bounds.withLock { $0 }.compactMap { $0 }
        var previous: UInt64 = 0
        for (n, (first, last, rising)) in chunks.enumerated() {
          guard rising, first >= previous, n > 0 || first == 0 else {
            throw CorruptObjectError(path: path, detail: "column '\(column.name)' offsets do not rise from 0")
          }
          previous = last
        }
        guard previous == valueCount else {
          throw CorruptObjectError(
            path: path, detail: "column '\(column.name)' offsets end at \(previous), not its value count \(valueCount)")
        }
      }
    }
  }
}

/// One worker's scratch for decoding chunks: a zstd context, the compressed frame, and room to
/// un-shuffle.
final class ChunkDecoder {
  var zstd = ZstdDecompressor()
  var frame: [UInt8] = []
  var staging: [UInt8] = []
  /// Where `verify` decodes a chunk (reading a table decodes straight into the column).
  var output: [UInt8] = []

  /// Reads, decompresses (and un-shuffles) `chunk` into `target` (its raw size), checking the zstd
  /// checksum, and with `verifyHash` its SHA-256.
  func decode(
    _ chunk: ChunkManifest, of buffer: BufferManifest, file: any ByteSource, path: String,
    into target: UnsafeMutableRawBufferPointer, verifyHash: Bool
  ) throws {
    if frame.count < chunk.size { frame = [UInt8](repeating: 0, count: chunk.size) }
    let got = try frame.withUnsafeMutableBytes { frame in
      try file.read(into: UnsafeMutableRawBufferPointer(rebasing: frame[0..<chunk.size]), at: chunk.offset)
    }
    guard got == chunk.size else { throw CorruptObjectError(path: path, detail: "chunk at byte \(chunk.offset) is cut short") }
    try frame.withUnsafeBytes { frame in
      let compressed = UnsafeRawBufferPointer(rebasing: frame[0..<chunk.size])
      if buffer.filter == .shuffle {
        if staging.count < chunk.rawSize { staging = [UInt8](repeating: 0, count: chunk.rawSize) }
        try staging.withUnsafeMutableBytes { scratch in
          let staged = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<chunk.rawSize])
          try decompress(compressed, into: staged, chunk: chunk, path: path)
          ByteShuffle.unshuffle(UnsafeRawBufferPointer(staged), width: buffer.element.byteWidth, into: target)
        }
      } else {
        try decompress(compressed, into: target, chunk: chunk, path: path)
      }
    }
    if verifyHash, Digest.hexString(Digest.rawSHA256(UnsafeRawBufferPointer(target))) != chunk.sha256 {
      throw CorruptObjectError(path: path, detail: "chunk at byte \(chunk.offset) does not match its SHA-256")
    }
  }

  private func decompress(_ frame: UnsafeRawBufferPointer, into target: UnsafeMutableRawBufferPointer, chunk: ChunkManifest, path: String)
    throws
  {
    do { try zstd.decompress(frame, into: target) } catch {
      throw CorruptObjectError(path: path, detail: "chunk at byte \(chunk.offset): \(error.message)")
    }
  }
}
