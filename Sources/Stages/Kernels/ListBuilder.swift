import Pipeline

/// Builds a list column (one list per row) in parallel: rows are cut into chunks fixed by the row
/// count, each chunk appends its rows' items to its own buffer, and the buffers are joined in order,
/// so the result never depends on the thread count.
public enum ListBuilder {
  /// One chunk's rows under construction.
  public struct Chunk<Item> {
    public var items: [Item] = []
    var lengths: [Int] = []
    var rowStart = 0

    /// Ends the current row; the items appended since the previous call are its list.
    public mutating func endRow() {
      lengths.append(items.count - rowStart)
      rowStart = items.count
    }

    /// The current row's items so far.
    public var currentRow: ArraySlice<Item> { items[rowStart...] }
  }

  /// How many rows of a list column (CSR `offsets`) have at least one item.
  public static func nonEmptyRows(_ offsets: [UInt64]) -> Int { zip(offsets, offsets.dropFirst()).filter { $0 != $1 }.count }

  /// Calls `fill(row, &chunk)` for every row in `0..<rows`; `fill` appends the row's items and
  /// need not call `endRow`. Returns CSR offsets and items.
  public static func build<Item>(
    rows: Int, rowsPerChunk: Int = 2048, _ fill: @Sendable (Int, inout Chunk<Item>) -> Void
  ) -> (offsets: [UInt64], items: [Item]) {
    build(rows: rows, rowsPerChunk: rowsPerChunk, scratch: {}) { row, _, chunk in fill(row, &chunk) }
  }

  /// As `build(rows:rowsPerChunk:_:)`, with scratch state (a bitset, a counter array) made once per
  /// worker by `scratch()` and lent to each row it builds; `fill` must leave it as it found it.
  /// (Once per chunk, a stage's hundreds of chunks each had fresh pages of a counter over every
  /// article zeroed by the kernel.)
  public static func build<Item, Scratch>(
    rows: Int, rowsPerChunk: Int = 2048, scratch: @Sendable () -> Scratch,
    _ fill: @Sendable (Int, inout Scratch, inout Chunk<Item>) -> Void
  ) -> (offsets: [UInt64], items: [Item]) {
    let chunks = max(1, (rows + rowsPerChunk - 1) / rowsPerChunk)
    let parts = Parallel.map(chunks: chunks, makeState: { _ in scratch() }) { state, chunk in
      var part = Chunk<Item>()
      for row in Parallel.range(chunk, of: chunks, count: rows) {
        fill(row, &state, &part)
        part.endRow()
      }
      return part
    }
    var offsets: [UInt64] = [0]
    offsets.reserveCapacity(rows + 1)
    for part in parts { for n in part.lengths { offsets.append(offsets[offsets.count - 1] + UInt64(n)) } }
    return (offsets, joined(parts.map(\.items)))
  }

  /// The parts end to end, copied in parallel (hundreds of megabytes for a stage's candidates).
  static func joined<Item>(_ parts: [[Item]]) -> [Item] {
    let starts = parts.reduce(into: [0]) { $0.append($0[$0.count - 1] + $1.count) }
    return [Item](unsafeUninitializedCapacity: starts[parts.count]) { buffer, initialized in
      let out = UnsafeTransfer(buffer.baseAddress), shared = UnsafeTransfer(parts)
      Parallel.forEach(chunks: parts.count) { p in
        // Each part initialises only its own range.
        shared.wrapped[p].withUnsafeBufferPointer { part in
          guard let source = part.baseAddress else { return }
          (out.wrapped! + starts[p]).initialize(from: source, count: part.count)
        }
      }
      initialized = starts[parts.count]
    }
  }
}
