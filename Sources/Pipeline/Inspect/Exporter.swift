/// Writes an artifact out of the store: a table as CSV, numeric columns as a NumPy `.npy` matrix,
/// a file artifact as its bytes.
public enum Exporter {
  public enum Format: String, Sendable, CaseIterable { case csv, npy }

  public struct ExportError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
  }

  public static func export(_ table: Table, as format: Format, to path: String) throws {
    let bytes: [UInt8]
    if table.kind == .file {
      bytes = Array(try table.column("bytes").values(UInt8.self))
    } else {
      bytes = format == .csv ? csv(table) : try npy(table)
    }
    try FileSystem.writeAtomically(bytes, to: path)
  }

  /// A header line, then one line per row; fields with commas, quotes or newlines are quoted.
  static func csv(_ table: Table) -> [UInt8] {
    var out = table.columns.map { quote($0.name) }.joined(separator: ",") + "\n"
    for row in 0..<table.rowCount {
      out += table.columns.map { quote(CellFormatter.text($0, row: row, width: CellFormatter.width(of: $0.name, in: table))) }
        .joined(separator: ",")
      out += "\n"
    }
    return Array(out.utf8)
  }

  static func quote(_ field: String) -> String {
    guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
    return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
  }

  /// NumPy format 1.0: one column gives a vector, several columns of one type a rows × columns
  /// matrix (C order). String and list columns have no `.npy` form.
  static func npy(_ table: Table) throws -> [UInt8] {
    guard let first = table.columns.first else { throw ExportError(message: "the artifact has no columns") }
    guard case .scalar(let element) = first.type, table.columns.allSatisfy({ $0.type == first.type }) else {
      throw ExportError(
        message:
          "npy export needs numeric columns of one type; this artifact has \(table.columns.map { "\($0.name): \($0.type)" }.joined(separator: ", ")); use --format csv"
      )
    }
    let descr: String
    switch element {
    case .u8: descr = "|u1"
    case .i8: descr = "|i1"
    case .f32: descr = "<f4"
    case .f64: descr = "<f8"
    default: descr = "<" + (element.rawValue.hasPrefix("u") ? "u" : "i") + String(element.byteWidth)
    }
    var out = NumpyFormat.header(descr: descr, shape: table.columns.count == 1 ? [table.rowCount] : [table.rowCount, table.columns.count])
    let width = element.byteWidth
    let columns = table.columns.map { $0.values.bytes }
    out.reserveCapacity(out.count + table.rowCount * width * columns.count)
    for row in 0..<table.rowCount {
      for c in columns { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: c[(row * width)..<((row + 1) * width)])) }
    }
    return out
  }
}

/// The NumPy `.npy` format, version 1.0.
public enum NumpyFormat {
  /// The magic, version and header of an `.npy` file holding a C-order array of `descr`
  /// (`<f4`, `<i8`, …) and `shape`; the raw little-endian data follows it.
  public static func header(descr: String, shape: [Int]) -> [UInt8] {
    let dims = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    var text = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(dims), }"
    let unpadded = 10 + text.utf8.count + 1
    text += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
    var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
    out.append(UInt8(text.utf8.count & 0xff))
    out.append(UInt8(text.utf8.count >> 8))
    out.append(contentsOf: text.utf8)
    return out
  }
}
