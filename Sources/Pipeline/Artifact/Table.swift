/// What a stage output is: a table of equal-length typed columns, or an opaque file (a CSV a stage
/// emits) stored as a single `u8` column named `bytes`.
public struct Table: Sendable {
  public enum Kind: String, Sendable, Codable { case table, file }

  public var kind: Kind
  public var columns: [Column]
  /// Small descriptive strings that are part of the content (and so of the id): a file's name,
  /// a table's id format.
  public var metadata: [String: String]

  public init(_ columns: [Column], metadata: [String: String] = [:]) {
    self.kind = .table
    self.columns = columns
    self.metadata = metadata
  }

  /// Columns the table holds only as nulls because its source lacked them (metadata
  /// `absent_columns`, comma-separated). A stage that names one when reading is told so.
  public var absentColumns: [String] {
    get { metadata["absent_columns"].map { $0.split(separator: ",").map(String.init) } ?? [] }
    set { metadata["absent_columns"] = newValue.isEmpty ? nil : newValue.joined(separator: ",") }
  }

  /// An opaque file artifact; `filename` is the name it is materialised under.
  public static func file(named filename: String, bytes: some Collection<UInt8>) -> Table {
    var table = Table([Column("bytes", bytes)], metadata: ["filename": filename])
    table.kind = .file
    return table
  }

  /// An opaque file artifact holding the bytes of the file at `path`.
  public static func file(named filename: String, contentsOfFile path: String) throws -> Table {
    let file = try FileDescriptor.open(path, .read)
    defer { file.close() }
    let size = try file.size()
    let storage = try ByteStorage(count: size) { buffer in
      guard try file.read(into: buffer, at: 0) == size else {
        throw SystemError(operation: "read all of", path: path, errno: 5)
      }
    }
    var table = Table(
      [Column(name: "bytes", type: .scalar(.u8), rowCount: size, values: storage, offsets: nil)],
      metadata: ["filename": filename])
    table.kind = .file
    return table
  }

  /// Rows of the table: every column's row count (0 for a table with no columns).
  public var rowCount: Int { columns.first?.rowCount ?? 0 }

  public func column(_ name: String) throws(MissingColumnError) -> Column {
    guard let column = columns.first(where: { $0.name == name }) else {
      throw MissingColumnError(column: name, available: columns.map(\.name))
    }
    return column
  }
}

/// A stage asked for a column its input does not have.
public struct MissingColumnError: Error, Sendable, CustomStringConvertible {
  public var column: String
  public var available: [String]
  public var description: String {
    "no column '\(column)' (the artifact has \(available.joined(separator: ", ")))"
  }
}

extension Table {
  /// The rows for which `keep(row)` holds, in order, every column (scalar, string and list) kept.
  /// - Complexity: O(rows + values).
  public func filter(_ keep: (Int) -> Bool) -> Table {
    var rows: [Int] = []
    rows.reserveCapacity(rowCount)
    for row in 0..<rowCount where keep(row) { rows.append(row) }
    if let first = rows.first, rows.last! - first + 1 == rows.count { return self.rows(first..<(first + rows.count)) }
    var out = Table(columns.map { $0.selecting(rows) }, metadata: metadata)
    out.kind = kind
    return out
  }

  /// The named columns (all when nil), in the order asked, as `ArtifactReader.table(columns:)`
  /// reads them from the stored object.
  public func selecting(_ names: [String]?) throws -> Table {
    guard let names else { return self }
    var out = Table(
      try names.map { name in
        guard let column = columns.first(where: { $0.name == name }) else {
          throw MissingColumnError(column: name, available: columns.map(\.name))
        }
        return column
      }, metadata: metadata)
    out.kind = kind
    return out
  }

  /// A run of consecutive rows: each buffer copied in one piece.
  public func rows(_ range: Range<Int>) -> Table {
    var out = Table(columns.map { $0.rows(range) }, metadata: metadata)
    out.kind = kind
    return out
  }
}

extension Column {
  /// The given rows of this column, in the given order.
  public func selecting(_ rows: [Int]) -> Column {
    let width = type.valueType.byteWidth
    guard type.isRagged else {
      let storage = ByteStorage(count: rows.count * width) { out in
        switch width {
        case 1: Self.gather(UInt8.self, from: values.base, rows, into: out)
        case 2: Self.gather(UInt16.self, from: values.base, rows, into: out)
        case 4: Self.gather(UInt32.self, from: values.base, rows, into: out)
        default: Self.gather(UInt64.self, from: values.base, rows, into: out)
        }
      }
      return Column(name: name, type: type, rowCount: rows.count, values: storage, offsets: nil, nullSentinel: nullSentinel)
    }
    let o = offsetBuffer
    var newOffsets: [UInt64] = [0]
    newOffsets.reserveCapacity(rows.count + 1)
    for r in rows { newOffsets.append(newOffsets.last! + o[r + 1] - o[r]) }
    let storage = ByteStorage(count: Int(newOffsets.last!) * width) { out in
      for (n, r) in rows.enumerated() {
        let count = Int(o[r + 1] - o[r]) * width
        out.baseAddress!.advanced(by: Int(newOffsets[n]) * width)
          .copyMemory(from: values.base.advanced(by: Int(o[r]) * width), byteCount: count)
      }
    }
    return Column(
      name: name, type: type, rowCount: rows.count, values: storage, offsets: ByteStorage(copying: newOffsets),
      nullSentinel: nullSentinel)
  }

  /// Copies the values of `rows` as `T` (a fixed width), in parallel over chunks of rows.
  private static func gather<T: BitwiseCopyable>(
    _: T.Type, from base: UnsafeMutableRawPointer, _ rows: [Int], into out: UnsafeMutableRawBufferPointer
  ) {
    let source = UnsafeTransfer(UnsafePointer(base.assumingMemoryBound(to: T.self)))
    let target = UnsafeTransfer(out.baseAddress!.assumingMemoryBound(to: T.self))
    let chunks = max(1, min(64, rows.count / 1_000_000))
    rows.withUnsafeBufferPointer { rows in
      let rows = UnsafeTransfer(rows)
      Parallel.forEach(chunks: chunks) { chunk in
        for n in Parallel.range(chunk, of: chunks, count: rows.wrapped.count) { target.wrapped[n] = source.wrapped[rows.wrapped[n]] }
      }
    }
  }

  /// A run of consecutive rows, each buffer copied in one piece.
  public func rows(_ range: Range<Int>) -> Column {
    let width = type.valueType.byteWidth
    guard type.isRagged else {
      let storage = ByteStorage(count: range.count * width) { out in
        out.baseAddress!.copyMemory(from: values.base.advanced(by: range.lowerBound * width), byteCount: range.count * width)
      }
      return Column(name: name, type: type, rowCount: range.count, values: storage, offsets: nil, nullSentinel: nullSentinel)
    }
    let o = offsetBuffer
    let first = range.isEmpty ? 0 : o[range.lowerBound], last = range.isEmpty ? 0 : o[range.upperBound]
    let storage = ByteStorage(count: Int(last - first) * width) { out in
      if last > first {
        out.baseAddress!.copyMemory(from: values.base.advanced(by: Int(first) * width), byteCount: Int(last - first) * width)
      }
    }
    let offsets = ByteStorage(count: (range.count + 1) * 8) { out in
      let typed = out.bindMemory(to: UInt64.self)
      typed[0] = 0
      for (n, r) in range.enumerated() { typed[n + 1] = o[r + 1] - first }
    }
    return Column(name: name, type: type, rowCount: range.count, values: storage, offsets: offsets, nullSentinel: nullSentinel)
  }
}
