/// Content hashes of external input files (the raw CSVs), remembered by the file's stamp (size,
/// mtime, ctime, inode, device), so a multi-GB file is hashed once, not on every run. Only regular
/// files are inputs: `/dev/zero` or a pipe would be hashed forever.
///
/// The hash is a two-level SHA-256, so that all cores hash one big file: the file is cut into
/// 64 MiB pieces, each hashed on its own, and the digest is the SHA-256 of
/// `hmpipe-file-v2\n<size>\n` followed by each piece's digest in hex, one per line. (Version 1 was the plain SHA-256 of
/// the file, one core at a time: 18 s for the 3.4 GB transactions file.)
struct FileHashCache {
  struct Record: Codable {
    var path: String
    var stamp: FileStamp
    var sha256: Digest
    /// 2 for the piecewise digest; records without it hold a version-1 digest and are recomputed.
    var scheme: Int?
  }

  static let scheme = 2
  static let pieceBytes = 64 << 20

  let directory: String

  /// The SHA-256 of the file at `path`, from the cache when its stamp is unchanged.
  /// - Parameter progress: called with the fraction hashed while a file is being read.
  func digest(of path: String, progress: (Double) -> Void) throws -> Digest {
    let absolute = FileSystem.absolute(path)
    let stamp = try FileSystem.stamp(absolute)
    guard stamp.isRegularFile else { throw NotARegularFileError(path: absolute) }
    let recordPath = directory + "/" + Digest.of(absolute).hex + ".json"
    if let record = RecordFile.read(Record.self, at: recordPath), record.stamp == stamp, record.path == absolute,
      record.scheme == Self.scheme
    {
      return record.sha256
    }
    let digest = try FileHashCache.hash(absolute, size: stamp.size, progress: progress)
    // A file that changed while it was read must not be remembered under its old stamp.
    if try FileSystem.stamp(absolute) == stamp {
      try RecordFile.write(Record(path: absolute, stamp: stamp, sha256: digest, scheme: Self.scheme), to: recordPath)
    }
    return digest
  }

  static func hash(_ path: String, size: Int, progress: (Double) -> Void) throws -> Digest {
    let file = try FileDescriptor.open(path, .read)
    defer { file.close() }
    let pieces = max(1, (size + pieceBytes - 1) / pieceBytes)
    progress(0)
    let digests = try Parallel.map(chunks: pieces) { piece -> Result<Digest, SystemError> in
      Result { () throws(SystemError) in try hashPiece(file, from: piece * pieceBytes, to: min((piece + 1) * pieceBytes, size)) }
    }.map { try $0.get() }
    progress(1)
    var tree = DigestBuilder()
    tree.update("hmpipe-file-v2\n\(size)\n")
    for digest in digests { tree.update(digest.hex + "\n") }
    return tree.finalize()
  }

  /// The SHA-256 of bytes `start..<end` of `file`, read 8 MiB at a time.
  static func hashPiece(_ file: FileDescriptor, from start: Int, to end: Int) throws(SystemError) -> Digest {
    var builder = DigestBuilder()
    var buffer = [UInt8](repeating: 0, count: 1 << 23)
    var offset = start
    while offset < end {
      let want = min(buffer.count, end - offset)
      let got = try buffer.withUnsafeMutableBytes { b in
        Result { () throws(SystemError) in try file.read(into: UnsafeMutableRawBufferPointer(rebasing: b[0..<want]), at: offset) }
      }.get()
      if got == 0 { break }
      buffer.withUnsafeBytes { builder.update(UnsafeRawBufferPointer(rebasing: $0[0..<got])) }
      offset += got
    }
    return builder.finalize()
  }
}

/// An input named a directory, device, pipe or socket.
public struct NotARegularFileError: Error, Sendable, CustomStringConvertible {
  public var path: String
  public var description: String { "\(path) is not a regular file; an input file must be one" }
}
