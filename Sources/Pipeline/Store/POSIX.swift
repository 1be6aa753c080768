#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A failed system call, with the path and the operation, in words a user can act on.
public struct SystemError: Error, Sendable, CustomStringConvertible {
  public var operation: String
  public var path: String
  public var errno: Int32
  public var description: String { "cannot \(operation) \(path): \(String(cString: strerror(errno)))" }
}

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
    case .readWriteCreate: flags = O_RDWR | O_CREAT
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

/// Identity of a file on disk: what decides whether a cached content hash still holds.
public struct FileStamp: Codable, Sendable, Hashable {
  public var size: Int
  public var mtimeNanoseconds: Int64
  public var inode: UInt64
  public var device: UInt64
}

/// Path-level file operations.
public enum FileSystem {
  public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

  public static func isDirectory(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
  }

  public static func stamp(_ path: String) throws(SystemError) -> FileStamp {
    var st = stat()
    guard stat(path, &st) == 0 else { throw SystemError(operation: "stat", path: path, errno: errno) }
    let mtime = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
    return FileStamp(size: Int(st.st_size), mtimeNanoseconds: mtime, inode: UInt64(st.st_ino), device: UInt64(st.st_dev))
  }

  public static func makeDirectories(_ path: String) throws(SystemError) {
    if isDirectory(path) { return }
    let parent = dirname(of: path)
    if parent != path, !parent.isEmpty { try makeDirectories(parent) }
    if mkdir(path, 0o755) != 0 && errno != EEXIST {
      throw SystemError(operation: "create directory", path: path, errno: errno)
    }
  }

  /// Atomically replaces `destination` with `source`, then syncs the directory so the rename survives
  /// a power cut.
  public static func rename(_ source: String, to destination: String) throws(SystemError) {
    guard Glibc.rename(source, destination) == 0 else {
      throw SystemError(operation: "rename to \(destination)", path: source, errno: errno)
    }
    syncDirectory(dirname(of: destination))
  }

  public static func remove(_ path: String) { unlink(path) }

  public static func removeTree(_ path: String) {
    if isDirectory(path) {
      for name in (try? list(path)) ?? [] { removeTree(path + "/" + name) }
      rmdir(path)
    } else {
      unlink(path)
    }
  }

  public static func syncDirectory(_ path: String) {
    let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if fd >= 0 {
      fsync(fd)
      Glibc.close(fd)
    }
  }

  /// Names in a directory, sorted, without `.` and `..`.
  public static func list(_ path: String) throws(SystemError) -> [String] {
    guard let dir = opendir(path) else { throw SystemError(operation: "list", path: path, errno: errno) }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
      }
      if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
  }

  /// Writes `bytes` to `path` atomically (see `AtomicFile`).
  public static func writeAtomically(_ bytes: [UInt8], to path: String) throws(SystemError) {
    let file = try AtomicFile(path: path)
    do {
      try file.write(bytes)
      try file.commit()
    } catch {
      file.abandon()
      throw error
    }
  }

  /// The whole file. Reads until end of file rather than trusting the size, which /proc files
  /// report as 0.
  public static func readAll(_ path: String) throws(SystemError) -> [UInt8] {
    let fd = try FileDescriptor.open(path, .read)
    defer { fd.close() }
    var bytes = try fd.read(count: try fd.size(), at: 0)
    while true {
      let more = try fd.read(count: 65536, at: bytes.count)
      if more.isEmpty { return bytes }
      bytes += more
    }
  }

  public static func dirname(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    return slash == path.startIndex ? "/" : String(path[..<slash])
  }

  public static func basename(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return path }
    return String(path[path.index(after: slash)...])
  }

  /// An absolute, `.`- and `..`-free form of `path`, relative to the working directory.
  public static func absolute(_ path: String) -> String {
    var base = path.hasPrefix("/") ? "" : currentDirectory()
    if !path.hasPrefix("/") && base.isEmpty { base = "." }
    var parts: [Substring] = []
    for part in (base + "/" + path).split(separator: "/") {
      if part == "." || part.isEmpty { continue }
      if part == ".." { _ = parts.popLast() } else { parts.append(part) }
    }
    return "/" + parts.joined(separator: "/")
  }

  public static func currentDirectory() -> String {
    var buffer = [UInt8](repeating: 0, count: 4096)
    let ok = buffer.withUnsafeMutableBufferPointer { b in
      b.withMemoryRebound(to: CChar.self) { getcwd($0.baseAddress, $0.count) != nil }
    }
    return ok ? String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self) : "."
  }

  public static var processID: Int32 { getpid() }
}

/// A file written in pieces that appears at its path only when whole: the pieces go to a temporary
/// file beside it, then fsync, rename and a directory fsync. A crash leaves the old file (or none).
public struct AtomicFile: Sendable {
  private static let writes = Atomic<Int>(0)
  public let path: String
  private let temporary: String
  private let file: FileDescriptor

  public init(path: String) throws(SystemError) {
    self.path = path
    // Unique within the process too: parallel stages may write the same path (a shared input's
    // content hash) at once, and each must rename only its own file.
    temporary = path + ".partial-\(FileSystem.processID)-\(Self.writes.wrappingAdd(1, ordering: .relaxed).oldValue)"
    file = try FileDescriptor.open(temporary, .createExclusive)
  }

  public func write(_ bytes: [UInt8]) throws(SystemError) { try file.writeAll(bytes) }

  /// Syncs the file and renames it into place.
  public func commit() throws(SystemError) {
    do { try file.sync() } catch {
      abandon()
      throw error
    }
    file.close()
    try FileSystem.rename(temporary, to: path)
  }

  /// Closes and deletes the unfinished file.
  public func abandon() {
    file.close()
    FileSystem.remove(temporary)
  }
}

/// Retries a system call interrupted by a signal.
@inline(__always)
func retrying<T: FixedWidthInteger>(_ call: () -> T) -> T {
  while true {
    let r = call()
    if r == -1 && errno == EINTR { continue }
    return r
  }
}

/// A whole file mapped read-only into memory, for parsers that scan multi-GB inputs without
/// copying them. Unmapped when released.
public final class MappedFile: @unchecked Sendable {
  public let path: String
  public let bytes: UnsafeRawBufferPointer

  public init(path: String) throws(SystemError) {
    self.path = path
    let file = try FileDescriptor.open(path, .read)
    defer { file.close() }
    let size = try file.size()
    if size == 0 {
      bytes = UnsafeRawBufferPointer(start: nil, count: 0)
      return
    }
    guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, file.raw, 0), base != MAP_FAILED else {
      throw SystemError(operation: "map", path: path, errno: errno)
    }
    madvise(base, size, MADV_SEQUENTIAL)
    bytes = UnsafeRawBufferPointer(start: base, count: size)
  }

  deinit {
    if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
  }

  /// Tells the kernel the whole pages inside `range` are done with: they leave this process's
  /// resident memory (and are read again from the page cache if touched).
  public func release(_ range: Range<Int>) {
    guard let base = bytes.baseAddress else { return }
    let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    let lower = (range.lowerBound + page - 1) / page * page
    let upper = range.upperBound / page * page
    if upper > lower { madvise(UnsafeMutableRawPointer(mutating: base + lower), upper - lower, MADV_DONTNEED) }
  }
}

/// Starting this program again with one more environment variable.
public enum SelfExec {
  /// Sets `name` to `value` and replaces this process with a fresh run of the same executable and
  /// arguments. Returns only if that fails (the caller then goes on as it is).
  public static func restart(setting name: String, to value: String) {
    setenv(name, value, 1)
    let arguments = CommandLine.arguments.map { strdup($0) } + [nil]
    execv("/proc/self/exe", arguments)
  }
}
