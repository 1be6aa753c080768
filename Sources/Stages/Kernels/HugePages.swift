import Glibc

/// Large arrays read at random (factor matrices) asked for in 2 MiB pages: each page then covers
/// 512 times the memory, and random reads stop missing the TLB. Where the kernel does not offer
/// transparent huge pages the advice is ignored and the memory is ordinary.
enum HugePages {
  static let pageBytes = 2 << 20

  static func allocate<T>(_: T.Type, count: Int) -> UnsafeMutableBufferPointer<T> {
    let bytes = max(count * MemoryLayout<T>.stride, 1)
    guard bytes >= pageBytes else {
      return UnsafeMutableBufferPointer(start: UnsafeMutablePointer<T>.allocate(capacity: max(count, 1)), count: count)
    }
    let whole = (bytes + pageBytes - 1) / pageBytes * pageBytes
    let raw = UnsafeMutableRawPointer.allocate(byteCount: whole, alignment: pageBytes)
    _ = madvise(raw, whole, MADV_HUGEPAGE)
    return UnsafeMutableBufferPointer(start: raw.bindMemory(to: T.self, capacity: count), count: count)
  }
}
