import Glibc

/// Path-level file operations.
public enum FileSystem {
  public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

  /// A regular file with an execute bit set.
  public static func isExecutable(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG && (st.st_mode & 0o111) != 0
  }

  public static func isDirectory(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
  }

  public static func stamp(_ path: String) throws(SystemError) -> FileStamp {
    var st = stat()
    guard stat(path, &st) == 0 else { throw SystemError(operation: "stat", path: path, errno: errno) }
    let mtime = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
    let ctime = Int64(st.st_ctim.tv_sec) * 1_000_000_000 + Int64(st.st_ctim.tv_nsec)
    return FileStamp(
      size: Int(st.st_size), mtimeNanoseconds: mtime, ctimeNanoseconds: ctime, inode: UInt64(st.st_ino), device: UInt64(st.st_dev),
      isRegularFile: (st.st_mode & S_IFMT) == S_IFREG)
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

  /// Whether `path` itself is a symbolic link (not followed).
  public static func isSymbolicLink(_ path: String) -> Bool {
    var st = stat()
    return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK
  }

  /// Deletes `path` and, when it is a real directory, everything in it. Symbolic links are
  /// removed, never followed: a link planted in the tree cannot make it delete what it points to.
  public static func removeTree(_ path: String) {
    var st = stat()
    if lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR {
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

  /// Flushes the file at `path` to disk.
  public static func sync(_ path: String) throws(SystemError) {
    let file = try FileDescriptor.open(path, .read)
    defer { file.close() }
    try file.sync()
  }

  /// Writes `bytes` to `path` atomically (see `AtomicFile`).
  public static func writeAtomically(_ bytes: [UInt8], to path: String) throws(SystemError) {
    try bytes.withUnsafeBytes { b in Result { () throws(SystemError) in try writeAtomically(b, to: path) } }.get()
  }

  /// Writes `bytes` to `path` atomically (see `AtomicFile`).
  public static func writeAtomically(_ bytes: UnsafeRawBufferPointer, to path: String) throws(SystemError) {
    let file = try AtomicFile(path: path)
    do {
      try file.write(bytes)
      try file.commit()
    } catch {
      file.abandon()
      throw error
    }
  }

  /// Copies the file at `source` to a new file at `destination`, synced.
  public static func copyFile(_ source: String, to destination: String) throws(SystemError) {
    let input = try FileDescriptor.open(source, .read)
    defer { input.close() }
    let output = try FileDescriptor.open(destination, .createExclusive)
    defer { output.close() }
    let piece = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 << 20, alignment: 64)
    defer { piece.deallocate() }
    var offset = 0
    while true {
      let n = try input.read(into: piece, at: offset)
      if n == 0 { break }
      try output.writeAll(UnsafeRawBufferPointer(rebasing: piece[0..<n]))
      offset += n
    }
    try output.sync()
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

  /// Whether a process with this id exists (signal 0: nothing is sent).
  public static func isRunning(_ pid: Int32) -> Bool {
    guard pid > 0 else { return false }
    return kill(pid, 0) == 0 || errno == EPERM
  }
}

/// Identity of a file on disk: what decides whether a cached content hash still holds.
///
/// The change time (ctime) is in it because the modification time can be set back by anyone
/// (`touch -d`, a copy that keeps times), and a file edited in place to the same size and mtime
/// would otherwise keep its old hash; ctime is set by the kernel on every change and cannot be.
public struct FileStamp: Codable, Sendable, Hashable {
  public var size: Int
  public var mtimeNanoseconds: Int64
  public var ctimeNanoseconds: Int64
  public var inode: UInt64
  public var device: UInt64
  /// Not a directory, device, pipe or socket (those have no stable content to hash).
  public var isRegularFile: Bool
}
