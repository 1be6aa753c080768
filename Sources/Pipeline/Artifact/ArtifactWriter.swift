import CWriteback
import Foundation

/// Streams a table into a new object file, one column at a time, so a stage can write an artifact
/// larger than it holds in memory. Chunks are filtered, compressed and hashed in parallel and written
/// in order; nothing about the result depends on the worker count.
///
/// The file is written at `path` (a temporary name in the store); `finish` returns its manifest,
/// whose id names it. The store then syncs it and renames it into place (or, when a sound copy is
/// there already, drops it without waiting for the disk).
public final class ArtifactWriter {
  public let path: String
  private let file: FileDescriptor
  private let writes: OrderedWrites
  private let level: Int32
  private let workers: Int
  private var offset: Int
  private var rows: Int?
  private var columns: [ColumnManifest] = []
  private var names: Set<String> = []
  private var finished = false

  public init(path: String, level: Int32 = 3, workers: Int = Parallel.share) throws {
    self.path = path
    self.level = level
    self.workers = workers
    file = try FileDescriptor.open(path, .createExclusive)
    try file.writeAll(Footer.magic)
    offset = Footer.magic.count
    writes = OrderedWrites(file, at: offset)
  }

  deinit { if !finished { abandon() } }

  /// Appends one column. Every column of a table must have the same row count.
  public func append(_ column: Column) throws { try append([column]) }

  /// Appends columns in order, their chunks filtered, compressed and hashed in parallel across
  /// columns: a table of many small columns (one chunk each) keeps every core busy as one large
  /// column does. The file holds the same bytes as appending the columns one by one.
  public func append(_ newColumns: [Column]) throws {
    for column in newColumns { try startColumn(column.name, rows: column.rowCount) }
    let buffers = newColumns.flatMap { column in
      [ChunkEncoder.Buffer(column.values, role: .values, element: column.type.valueType)]
        + (column.offsets.map { [ChunkEncoder.Buffer($0, role: .offsets, element: .u64)] } ?? [])
    }
    let filters = Parallel.map(chunks: buffers.count, workers: workers) { ChunkEncoder.chooseFilter(buffers[$0]) }
    var manifests = buffers.indices.map { b in
      BufferManifest(
        role: buffers[b].role, element: buffers[b].element, count: buffers[b].raw.count / buffers[b].element.byteWidth,
        filter: filters[b], chunks: [])
    }
    let pieces = buffers.indices.flatMap { b in buffers[b].pieces(filter: filters[b]).map { (buffer: b, piece: $0) } }
    // Batches bound the compressed bytes held in memory to a few hundred MB at most.
    let batch = max(8, workers * 8)
    for start in stride(from: 0, to: pieces.count, by: batch) {
      let slice = pieces[start..<min(start + batch, pieces.count)]
      let encoded = try ChunkEncoder.encode(slice.map(\.piece), level: level, workers: workers)
      for ((b, _), (frame, sha, rawSize)) in zip(slice, encoded) {
        manifests[b].chunks.append(ChunkManifest(offset: offset, size: frame.count, rawSize: rawSize, sha256: sha))
        offset += frame.count
      }
      try writes.write(encoded.map(\.frame))
    }
    var next = 0
    for column in newColumns {
      let count = column.offsets == nil ? 1 : 2
      columns.append(
        ColumnManifest(
          name: column.name, type: column.type.description, nullSentinel: column.nullSentinel,
          buffers: Array(manifests[next..<(next + count)])))
      next += count
    }
  }

  /// Appends the first `rows` rows of the fixed-width column `entry` of `source`. The chunks that
  /// lie wholly inside those rows are copied compressed as they are: their raw bytes, so their
  /// SHA-256s and the content id, are what `append` of the same rows gives. Only the chunk the cut
  /// falls in is decoded (its SHA-256 checked) and compressed again.
  public func appendLeadingRows(of entry: ColumnManifest, rows: Int, from source: ArtifactReader) throws {
    guard entry.columnType?.isRagged == false, entry.buffers.count == 1, let buffer = entry.buffers.first,
      buffer.role == .values, rows <= buffer.count, source.manifest.chunkBytes == Manifest.chunkBytes
    else { throw ArtifactWriteError.notFixedWidth(column: entry.name) }
    try startColumn(entry.name, rows: rows)
    let width = buffer.element.byteWidth, chunkBytes = Manifest.chunkBytes
    let whole = rows * width / chunkBytes, rest = rows * width % chunkBytes
    var chunks = try buffer.chunks.prefix(whole).map { try copyFrame($0, from: source.source) }
    if rest > 0 {
      var raw = [UInt8](repeating: 0, count: buffer.chunks[whole].rawSize)
      try raw.withUnsafeMutableBytes {
        try ChunkDecoder().decode(buffer.chunks[whole], of: buffer, file: source.source, path: source.path, into: $0, verifyHash: true)
      }
      let (frame, sha, rawSize) = try raw.withUnsafeBytes {
        try ChunkEncoder.encode(
          [ChunkEncoder.Piece(bytes: UnsafeRawBufferPointer(rebasing: $0[0..<rest]), width: width, filter: buffer.filter)],
          level: level, workers: 1)[0]
      }
      try writes.write([frame])
      chunks.append(ChunkManifest(offset: offset, size: frame.count, rawSize: rawSize, sha256: sha))
      offset += frame.count
    }
    columns.append(
      ColumnManifest(
        name: entry.name, type: entry.type, nullSentinel: entry.nullSentinel,
        buffers: [BufferManifest(role: .values, element: buffer.element, count: rows, filter: buffer.filter, chunks: chunks)]))
  }

  /// Appends every column of a verified artifact written elsewhere (by the Python package, for a
  /// command stage) with its compressed chunks copied as they are: the content, and so the id, stay
  /// the same, and nothing is decompressed or compressed again.
  public func appendCopies(of source: ArtifactReader) throws {
    for column in source.manifest.columns {
      try startColumn(column.name, rows: source.manifest.rows)
      var copied = column
      for b in copied.buffers.indices {
        copied.buffers[b].chunks = try copied.buffers[b].chunks.map { try copyFrame($0, from: source.source) }
      }
      columns.append(copied)
    }
  }

  /// Checks a new column's name and row count against the columns so far.
  private func startColumn(_ name: String, rows count: Int) throws {
    if let rows, rows != count { throw ArtifactWriteError.rowCountMismatch(column: name, rows: count, expected: rows) }
    if !names.insert(name).inserted { throw ArtifactWriteError.duplicateColumn(name) }
    rows = count
  }

  /// Copies one compressed frame of `input` to the end of the file; returns its new place.
  private func copyFrame(_ chunk: ChunkManifest, from input: any ByteSource) throws -> ChunkManifest {
    try writes.write([try input.read(count: chunk.size, at: chunk.offset)])
    var copied = chunk
    copied.offset = offset
    offset += chunk.size
    return copied
  }

  /// Writes the manifest and footer and returns the manifest. The file is not synced: whoever puts
  /// it in place syncs it first (`Store.commit`).
  public func finish(
    kind: Table.Kind = .table, metadata: [String: String] = [:], provenance: Provenance? = nil
  ) throws -> Manifest {
    var manifest = Manifest(
      format: Manifest.formatVersion, id: ArtifactID(Digest.of("")), kind: kind, rows: rows ?? 0,
      chunkBytes: Manifest.chunkBytes, metadata: metadata, columns: columns, provenance: provenance)
    manifest.id = manifest.contentID()
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let json = Array(try encoder.encode(manifest))
    let footer = json.withUnsafeBytes { Footer(manifestOffset: offset, manifestLength: json.count, manifestSHA256: Digest.rawSHA256($0)) }
    try writes.write([json, footer.bytes])
    try writes.drain()
    file.close()
    finished = true
    return manifest
  }

  /// Closes and deletes the unfinished file.
  public func abandon() {
    guard !finished else { return }
    finished = true
    try? writes.drain()
    file.close()
    FileSystem.remove(path)
  }
}

/// Writes an artifact's bytes to its file in order on a queue of their own, so that copying one
/// batch of frames into the page cache (a serial system call) overlaps compressing the next, and
/// starts the batch's writeback to disk at once (the store syncs the file before it goes in place).
/// One batch is in flight at most, which bounds the memory held; a failed write is thrown by the
/// next call, and `drain` waits for the last.
private final class OrderedWrites: @unchecked Sendable {  // `failure` and `position` are handed over by `idle`
  private let file: FileDescriptor
  private let queue = DispatchQueue(label: "hmpipe.artifact-writes")
  private let idle = DispatchSemaphore(value: 1)
  private var failure: (any Error)?
  private var position: Int

  init(_ file: FileDescriptor, at position: Int) {
    self.file = file
    self.position = position
  }

  func write(_ pieces: [[UInt8]]) throws {
    idle.wait()
    if let failure {
      idle.signal()
      throw failure
    }
    queue.async {
      let start = self.position
      do {
        for piece in pieces {
          try self.file.writeAll(piece)
          self.position += piece.count
        }
      } catch { self.failure = error }
      // Advice only: where the file system cannot, the sync does it all later.
      _ = hmpipe_start_writeback(self.file.raw, start, self.position - start)
      self.idle.signal()
    }
  }

  func drain() throws {
    idle.wait()
    defer { idle.signal() }
    if let failure { throw failure }
  }
}

/// Why an artifact could not be written.
public enum ArtifactWriteError: Error, CustomStringConvertible {
  case rowCountMismatch(column: String, rows: Int, expected: Int)
  case duplicateColumn(String)
  case notFixedWidth(column: String)

  public var description: String {
    switch self {
    case .rowCountMismatch(let c, let r, let e): "column '\(c)' has \(r) rows, the table has \(e)"
    case .duplicateColumn(let c): "column '\(c)' appears twice"
    case .notFixedWidth(let c): "column '\(c)' is not one buffer of fixed-width values, so its rows cannot be copied by chunk"
    }
  }
}

/// Hashes, filters and compresses chunks in parallel.
enum ChunkEncoder {
  /// One buffer of a column to cut into chunks.
  struct Buffer: @unchecked Sendable {  // `raw` lives as long as the column's storage, which the writer's caller holds
    let raw: UnsafeRawBufferPointer
    let role: BufferManifest.Role
    let element: ElementType

    init(_ storage: ByteStorage, role: BufferManifest.Role, element: ElementType) {
      raw = storage.bytes
      self.role = role
      self.element = element
    }

    /// The buffer's chunks, `Manifest.chunkBytes` each (the last may be shorter).
    func pieces(filter: BufferManifest.Filter) -> [Piece] {
      stride(from: 0, to: raw.count, by: Manifest.chunkBytes).map { lower in
        Piece(
          bytes: UnsafeRawBufferPointer(rebasing: raw[lower..<min(lower + Manifest.chunkBytes, raw.count)]),
          width: element.byteWidth, filter: filter)
      }
    }
  }

  /// One chunk's raw bytes and how to filter them.
  struct Piece: @unchecked Sendable {  // the bytes outlive the encoding, which the caller waits for
    let bytes: UnsafeRawBufferPointer
    let width: Int
    let filter: BufferManifest.Filter
  }

  /// Byte shuffling helps values whose high bytes repeat (model factors; indexes that use three of
  /// their four bytes, which zstd then also compresses three times faster) and hurts values drawn
  /// from a few (prices), so a sample of the buffer is compressed both ways and the smaller wins.
  /// The choice depends only on the data.
  static func chooseFilter(_ buffer: Buffer) -> BufferManifest.Filter {
    let raw = buffer.raw, width = buffer.element.byteWidth
    guard width > 1, raw.count >= 4096 else { return .none }
    let sampleSize = min(raw.count, 1 << 18) / width * width
    let sample = UnsafeRawBufferPointer(rebasing: raw[0..<sampleSize])
    let compressor = ZstdCompressor(level: 1)
    var shuffled = [UInt8](repeating: 0, count: sampleSize)
    let shuffledSize = shuffled.withUnsafeMutableBytes { out -> Int in
      ByteShuffle.shuffle(sample, width: width, into: out)
      return (try? compressor.compress(UnsafeRawBufferPointer(out)).count) ?? .max
    }
    let plainSize = (try? compressor.compress(sample).count) ?? .max
    return shuffledSize < plainSize ? .shuffle : .none
  }

  struct Scratch {
    let compressor: ZstdCompressor
    var shuffled: [UInt8]
  }

  /// Each piece's frame, the SHA-256 of its raw bytes and its raw size, in order.
  static func encode(_ pieces: [Piece], level: Int32, workers: Int) throws -> [(frame: [UInt8], sha256: String, rawSize: Int)] {
    let results = ResultSlots<(frame: [UInt8], sha256: String, rawSize: Int)>(count: pieces.count)
    Parallel.forEach(
      chunks: pieces.count, workers: workers,
      makeState: { _ in Scratch(compressor: ZstdCompressor(level: level), shuffled: []) }
    ) { scratch, slot in
      let piece = pieces[slot].bytes
      let sha = Digest.hexString(Digest.rawSHA256(piece))
      do {
        let frame: [UInt8]
        if pieces[slot].filter == .shuffle {
          if scratch.shuffled.count < piece.count { scratch.shuffled = [UInt8](repeating: 0, count: piece.count) }
          frame = try scratch.shuffled.withUnsafeMutableBytes { out throws(ZstdError) in
            let target = UnsafeMutableRawBufferPointer(rebasing: out[0..<piece.count])
            ByteShuffle.shuffle(piece, width: pieces[slot].width, into: target)
            return try scratch.compressor.compress(UnsafeRawBufferPointer(target))
          }
        } else {
          frame = try scratch.compressor.compress(piece)
        }
        results.set(slot, .success((frame, sha, piece.count)))
      } catch {
        results.set(slot, .failure(error))
      }
    }
    return try results.collect()
  }
}

/// One result slot per chunk, filled by parallel workers (each writes only its own slot), so the
/// results come back in chunk order whatever the thread count.
final class ResultSlots<T>: @unchecked Sendable {
  private let slots: UnsafeMutableBufferPointer<Result<T, any Error>?>
  init(count: Int) {
    slots = .allocate(capacity: count)
    slots.initialize(repeating: nil)
  }
  deinit {
    _ = slots.deinitialize()
    slots.deallocate()
  }
  func set(_ index: Int, _ value: Result<T, any Error>) { slots[index] = value }
  /// The values in slot order, or the first failed slot's error.
  func collect() throws -> [T] { try slots.map { try $0!.get() } }
}
