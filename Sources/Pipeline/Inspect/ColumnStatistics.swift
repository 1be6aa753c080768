/// Per-column figures `inspect` shows: min, max and null count (NaN, or the column's null
/// sentinel). For string and list columns, over their lengths.
public struct ColumnStatistics: Sendable {
  public var name: String
  public var type: ColumnType
  public var min: Double?
  public var max: Double?
  public var nulls: Int
  /// For string and list columns: the total number of values (bytes for strings).
  public var valueCount: Int?

  /// Computes the statistics of one column.
  /// - Complexity: O(rows), one sequential pass (inspect reads one artifact; it is never the bottleneck).
  public init(_ column: Column) {
    name = column.name
    type = column.type
    nulls = 0
    if column.type.isRagged {
      let o = column.offsetBuffer
      valueCount = Int(o.last ?? 0)
      var lo = Int.max, hi = Int.min
      for r in 0..<column.rowCount {
        let length = Int(o[r + 1] - o[r])
        lo = Swift.min(lo, length)
        hi = Swift.max(hi, length)
      }
      if column.rowCount > 0 { (min, max) = (Double(lo), Double(hi)) }
      return
    }
    (min, max, nulls) = ColumnStatistics.scan(column)
  }

  private static func scan(_ column: Column) -> (Double?, Double?, Int) {
    switch column.type.valueType {
    case .u8: scan(column, UInt8.self)
    case .u16: scan(column, UInt16.self)
    case .u32: scan(column, UInt32.self)
    case .u64: scan(column, UInt64.self)
    case .i8: scan(column, Int8.self)
    case .i16: scan(column, Int16.self)
    case .i32: scan(column, Int32.self)
    case .i64: scan(column, Int64.self)
    case .f32: scan(column, Float.self)
    case .f64: scan(column, Double.self)
    }
  }

  private static func scan<T: ColumnElement>(_ column: Column, _: T.Type) -> (Double?, Double?, Int) {
    guard let values = try? column.values(T.self) else { return (nil, nil, 0) }
    let sentinel = column.nullSentinel.map(Double.init)
    var lo: Double?, hi: Double?, nulls = 0
    for v in values {
      let d = v.doubleValue
      if d.isNaN || d == sentinel {
        nulls += 1
        continue
      }
      lo = Swift.min(lo ?? d, d)
      hi = Swift.max(hi ?? d, d)
    }
    return (lo, hi, nulls)
  }
}

/// Renders cells of a table as text, for `inspect`'s head and CSV export.
public enum CellFormatter {
  /// The text of `row` in `column`; list values are space-separated, null is empty. Integers are
  /// zero-padded to `width` digits when the table's metadata says `zero_pad.<column>` (ids such as
  /// H&M's article numbers, whose leading zero is part of their printed form).
  public static func text(_ column: Column, row: Int, maxListItems: Int = .max, width: Int = 0) -> String {
    let text = plainText(column, row: row, maxListItems: maxListItems)
    guard width > 0, text.count < width, !text.isEmpty, text.allSatisfy(\.isNumber) else { return text }
    return String(repeating: "0", count: width - text.count) + text
  }

  /// The zero-padding width a table's metadata asks for a column.
  public static func width(of column: String, in table: Table) -> Int {
    table.metadata["zero_pad.\(column)"].flatMap { Int($0) } ?? 0
  }

  static func plainText(_ column: Column, row: Int, maxListItems: Int) -> String {
    switch column.type {
    case .string:
      return column.string(at: row)
    case .scalar(let e):
      return scalarText(column, e, index: row, nullable: true)
    case .list(let e):
      let range = column.range(of: row)
      var parts = range.prefix(maxListItems).map { scalarText(column, e, index: $0, nullable: false) }
      if range.count > maxListItems { parts.append("…(\(range.count))") }
      return parts.joined(separator: " ")
    }
  }

  private static func scalarText(_ column: Column, _ e: ElementType, index: Int, nullable: Bool) -> String {
    func text<T: ColumnElement & CustomStringConvertible>(_: T.Type) -> String {
      let v = column.values.elements(as: T.self)[index]
      if nullable, let s = column.nullSentinel, v.doubleValue == Double(s) { return "" }
      if v.doubleValue.isNaN { return "" }
      return v.description
    }
    switch e {
    case .u8: return text(UInt8.self)
    case .u16: return text(UInt16.self)
    case .u32: return text(UInt32.self)
    case .u64: return text(UInt64.self)
    case .i8: return text(Int8.self)
    case .i16: return text(Int16.self)
    case .i32: return text(Int32.self)
    case .i64: return text(Int64.self)
    case .f32: return text(Float.self)
    case .f64: return text(Double.self)
    }
  }
}
