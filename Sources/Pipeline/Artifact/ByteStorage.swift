/// A fixed-size, 64-byte-aligned block of bytes that a column owns.
///
/// Filled once when made (by a decoder or a builder), then only read: that is what makes sharing it
/// across threads safe.
public final class ByteStorage: @unchecked Sendable {
  public let base: UnsafeMutableRawPointer
  public let count: Int

  /// Allocates `count` uninitialised bytes; `fill` must initialise all of them.
  public init(count: Int, fill: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows {
    self.count = count
    self.base = .allocate(byteCount: Swift.max(count, 1), alignment: 64)
    // When `fill` throws, every stored property is set, so `deinit` runs and frees `base`.
    try fill(UnsafeMutableRawBufferPointer(start: base, count: count))
  }

  /// Takes over memory that a builder filled in place: `base` came from
  /// `UnsafeMutableRawPointer.allocate(byteCount:alignment: 64)` (possibly larger than `count`), and
  /// its first `count` bytes are initialised. It is freed with this storage.
  public init(adopting base: UnsafeMutableRawPointer, count: Int) {
    self.count = count
    self.base = base
  }

  /// Copies the bytes of `elements`.
  public convenience init<T: BitwiseCopyable>(copying elements: some Collection<T>) {
    let byteCount = elements.count * MemoryLayout<T>.stride
    self.init(count: byteCount) { raw in
      let typed = raw.bindMemory(to: T.self)
      _ = typed.initialize(from: elements)
    }
  }

  deinit { base.deallocate() }

  public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

  /// The bytes as `count / stride` values of `T`; valid only while this storage lives, so it stays
  /// inside the module (callers outside use `TypedValues`).
  func elements<T: BitwiseCopyable>(as _: T.Type) -> UnsafeBufferPointer<T> {
    let n = count / MemoryLayout<T>.stride
    return UnsafeBufferPointer(start: base.bindMemory(to: T.self, capacity: n), count: n)
  }
}

/// A column's values as a typed, read-only collection. It holds the storage it points into, so it
/// stays valid however long it is kept; hot loops take the raw buffer with
/// `withUnsafeBufferPointer`.
public struct TypedValues<Element: BitwiseCopyable>: RandomAccessCollection, @unchecked Sendable {
  private let storage: ByteStorage
  private let buffer: UnsafeBufferPointer<Element>

  init(_ storage: ByteStorage) {
    self.storage = storage
    buffer = storage.elements(as: Element.self)
  }

  /// A copy of `values`.
  public init(copying values: some Collection<Element>) { self.init(ByteStorage(copying: values)) }

  public var startIndex: Int { 0 }
  public var endIndex: Int { buffer.count }
  @inlinable public func index(after i: Int) -> Int { i + 1 }
  @inlinable public func index(before i: Int) -> Int { i - 1 }
  public subscript(position: Int) -> Element { buffer[position] }

  /// The contiguous values, valid inside `body`.
  public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Element>) throws -> R) rethrows -> R {
    try withExtendedLifetime(storage) { try body(buffer) }
  }
}
