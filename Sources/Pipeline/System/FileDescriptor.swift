import Glibc

/// An open file descriptor. The only type (with `FileSystem`) that calls the C library for files.
public struct FileDescriptor: Sendable {
  public let raw: Int32
  public let path: String

  public enum Mode: Sendable { case read, writeExisting, createExclusive, createOrTruncate, readWriteCreate }

  public static func open(_ path: String, _ mode: Mode) throws(SystemError) -> FileDescriptor {
    let flags: Int32
    switch mode {
    case .read: flags = O_RDONLY
    case .writeExisting: flags = O_WRONLY
    case .createExclusive: flags = O_WRONLY | O_CREAT | O_EXCL
    case .createOrTruncate: flags = O_WRONLY | O_CREAT | O_TRUNC
    // Never through a planted symbolic link (the store's lock): O_EXCL already refuses one.
    case .readWriteCreate: flags = O_RDWR | O_CREAT | O_NOFOLLOW
    }
    let fd = retrying { Glibc.open(path, flags | O_CLOEXEC, 0o644) }
    guard fd >= 0 else { throw SystemError(operation: "open", path: path, errno: errno) }
    return FileDescriptor(raw: fd, path: path)
  }

  public func close() { _ = Glibc.close(raw) }

  /// Runs `body`, then closes the descriptor whatever happens.
  public func closeAfter<R>(_ body: () throws -> R) rethrows -> R {
    defer { close() }
    return try body()
  }

  /// Writes every byte, looping over short writes.
  public func writeAll(_ bytes: UnsafeRawBufferPointer) throws(SystemError) {
    var done = 0
    while done < bytes.count {
      let n = retrying { Glibc.write(raw, bytes.baseAddress! + done, bytes.count - done) }
      guard n > 0 else { throw SystemError(operation: "write", path: path, errno: errno) }
      done += n
    }
  }

  /// Writes every byte at `offset`, leaving the file position alone (parallel writers of disjoint
  /// ranges share one descriptor).
  public func writeAll(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(SystemError) {
    var done = 0
    while done < bytes.count {
      let n = retrying { Glibc.pwrite(raw, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done)) }
      guard n > 0 else { throw SystemError(operation: "write", path: path, errno: errno) }
      done += n
    }
  }

  public func writeAll(_ bytes: [UInt8]) throws(SystemError) {
    try bytes.withUnsafeBytes { b in Result { () throws(SystemError) in try writeAll(b) } }.get()
  }

  /// Reads exactly `buffer.count` bytes at `offset`; returns fewer only at end of file.
  public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(SystemError) -> Int {
    var done = 0
    while done < buffer.count {
      let n = retrying { Glibc.pread(raw, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done)) }
      if n == 0 { break }
      guard n > 0 else { throw SystemError(operation: "read", path: path, errno: errno) }
      done += n
    }
    return done
  }

  /// Reads up to `count` bytes at `offset`.
  public func read(count: Int, at offset: Int) throws(SystemError) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: count)
    let got = try bytes.withUnsafeMutableBytes { b in
      Result { () throws(SystemError) in try read(into: b, at: offset) }
    }.get()
    bytes.removeLast(count - got)
    return bytes
  }

  public func sync() throws(SystemError) {
    guard Glibc.fsync(raw) == 0 else { throw SystemError(operation: "fsync", path: path, errno: errno) }
  }

  public func size() throws(SystemError) -> Int {
    var st = stat()
    guard fstat(raw, &st) == 0 else { throw SystemError(operation: "stat", path: path, errno: errno) }
    return Int(st.st_size)
  }

  /// Takes an exclusive advisory lock; `wait: false` returns false at once when another holds it.
  public func lockExclusive(wait: Bool) throws(SystemError) -> Bool {
    let r = retrying { flock(raw, LOCK_EX | (wait ? 0 : LOCK_NB)) }
    if r == 0 { return true }
    if errno == EWOULDBLOCK { return false }
    throw SystemError(operation: "lock", path: path, errno: errno)
  }

  public func truncate(to size: Int) throws(SystemError) {
    guard ftruncate(raw, off_t(size)) == 0 else { throw SystemError(operation: "truncate", path: path, errno: errno) }
  }
}
