/// A scalar column filled in place: allocated once at the most rows it can get, written row by row
/// (by parallel writers, each to its own rows), then handed to a `Column` without a copy. Pages
/// never written are never touched, so a generous capacity costs address space only.
public final class ColumnBuffer<Element: ColumnElement>: @unchecked Sendable {
  public let capacity: Int
  public let rows: UnsafeMutablePointer<Element>
  private var owned = true

  public init(capacity: Int) {
    self.capacity = capacity
    let raw = UnsafeMutableRawPointer.allocate(byteCount: max(1, capacity * MemoryLayout<Element>.stride), alignment: 64)
    rows = raw.bindMemory(to: Element.self, capacity: capacity)
  }

  deinit { if owned { rows.deallocate() } }

  /// Moves `count` rows from `source` down to `target` (overlap allowed).
  public func move(from source: Int, to target: Int, count: Int) {
    precondition(min(source, target) >= 0 && max(source, target) + count <= capacity, "rows outside the buffer")
    guard source != target, count > 0 else { return }
    (rows + target).update(from: rows + source, count: count)
  }

  /// The first `rowCount` rows as a column; the memory passes to it, and this buffer must not be
  /// used afterwards.
  public func column(_ name: String, rowCount: Int, nullSentinel: Int64? = nil) -> Column {
    precondition(owned && rowCount <= capacity)
    owned = false
    let storage = ByteStorage(adopting: UnsafeMutableRawPointer(rows), count: rowCount * MemoryLayout<Element>.stride)
    return Column(
      name: name, type: .scalar(Element.elementType), rowCount: rowCount, values: storage, offsets: nil,
      nullSentinel: nullSentinel)
  }
}
