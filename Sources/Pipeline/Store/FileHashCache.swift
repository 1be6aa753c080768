/// Content hashes of external input files (the raw CSVs), remembered by the file's stamp (size,
/// mtime, ctime, inode, device), so a multi-GB file is hashed once, not on every run. Only regular
/// files are inputs: `/dev/zero` or a pipe would be hashed forever.
struct FileHashCache {
  struct Record: Codable {
    var path: String
    var stamp: FileStamp
    var sha256: Digest
  }

  let directory: String

  /// The SHA-256 of the file at `path`, from the cache when its stamp is unchanged.
  /// - Parameter progress: called with the fraction hashed while a file is being read.
  func digest(of path: String, progress: (Double) -> Void) throws -> Digest {
    let absolute = FileSystem.absolute(path)
    let stamp = try FileSystem.stamp(absolute)
    guard stamp.isRegularFile else { throw NotARegularFileError(path: absolute) }
    let recordPath = directory + "/" + Digest.of(absolute).hex + ".json"
    if let record = RecordFile.read(Record.self, at: recordPath), record.stamp == stamp, record.path == absolute {
      return record.sha256
    }
    let digest = try FileHashCache.hash(absolute, size: stamp.size, progress: progress)
    // A file that changed while it was read must not be remembered under its old stamp.
    if try FileSystem.stamp(absolute) == stamp {
      try RecordFile.write(Record(path: absolute, stamp: stamp, sha256: digest), to: recordPath)
    }
    return digest
  }

  static func hash(_ path: String, size: Int, progress: (Double) -> Void) throws -> Digest {
    let file = try FileDescriptor.open(path, .read)
    defer { file.close() }
    var builder = DigestBuilder()
    var buffer = [UInt8](repeating: 0, count: 1 << 23)
    var offset = 0
    while true {
      let got = try buffer.withUnsafeMutableBytes { b in
        Result { () throws(SystemError) in try file.read(into: b, at: offset) }
      }.get()
      if got == 0 { break }
      buffer.withUnsafeBytes { builder.update(UnsafeRawBufferPointer(rebasing: $0[0..<got])) }
      offset += got
      if size > 0 { progress(Double(offset) / Double(size)) }
    }
    return builder.finalize()
  }
}

/// An input named a directory, device, pipe or socket.
public struct NotARegularFileError: Error, Sendable, CustomStringConvertible {
  public var path: String
  public var description: String { "\(path) is not a regular file; an input file must be one" }
}
