import Glibc

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
