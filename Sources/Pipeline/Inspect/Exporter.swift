/// Writes an artifact out of the store: a table as CSV, numeric columns as a NumPy `.npy` matrix,
/// a file artifact as its bytes.
public enum Exporter {
  public enum Format: String, Sendable, CaseIterable { case csv, npy }

  public struct ExportError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
  }

  /// Writes `table` to `path` and returns the paths written: a table of id columns beside one
  /// fixed-width list column (a factor matrix) gives the matrix at `path` and the ids at
  /// `<path without .npy>_ids.npy`, the way image embeddings arrive.
  @discardableResult
  public static func export(_ table: Table, as format: Format, to path: String) throws -> [String] {
    if table.kind == .file {
      let bytes = try table.column("bytes").values.bytes
      if format == .npy && !bytes.starts(with: NumpyFormat.magic) {
        let name = table.metadata["filename"].map { " (\($0))" } ?? ""
        throw ExportError(
          message: "this output is a file\(name), not a NumPy array: export it without --format npy to write its bytes as they are")
      }
      try FileSystem.writeAtomically(bytes, to: path)
      return [path]
    }
    if format == .npy, let (matrix, ids) = try factorMatrix(table) {
      let idsPath = (path.hasSuffix(".npy") ? String(path.dropLast(4)) : path) + "_ids.npy"
      try FileSystem.writeAtomically(matrix, to: path)
      try FileSystem.writeAtomically(ids, to: idsPath)
      return [path, idsPath]
    }
    try FileSystem.writeAtomically(format == .csv ? csv(table) : try npy(table), to: path)
    return [path]
  }

  /// A table of one list column whose lists all have one length (ALS `users` / `items`) and one
  /// numeric id column, as a rows × length matrix and the ids; nil for any other table.
  static func factorMatrix(_ table: Table) throws -> (matrix: [UInt8], ids: [UInt8])? {
    let lists = table.columns.filter { if case .list = $0.type { true } else { false } }
    let scalars = table.columns.filter { if case .scalar = $0.type { true } else { false } }
    guard lists.count == 1, scalars.count == 1, table.columns.count == 2, case .list(let element) = lists[0].type else { return nil }
    let list = lists[0], offsets = list.offsetBuffer
    let width = table.rowCount == 0 ? 0 : Int(offsets[1] - offsets[0])
    guard (0..<table.rowCount).allSatisfy({ Int(offsets[$0 + 1] - offsets[$0]) == width }) else {
      throw ExportError(message: "npy export needs lists of one length in '\(list.name)'; they differ: use --format csv")
    }
    var matrix = NumpyFormat.header(descr: descr(element), shape: [table.rowCount, width])
    matrix += list.values.bytes
    return (matrix, try npy(Table([scalars[0]])))
  }

  static func descr(_ element: ElementType) -> String {
    switch element {
    case .u8: "|u1"
    case .i8: "|i1"
    case .f32: "<f4"
    case .f64: "<f8"
    default: "<" + (element.rawValue.hasPrefix("u") ? "u" : "i") + String(element.byteWidth)
    }
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
          "npy export needs numeric columns of one type (or ids beside one list column of fixed length); this artifact has \(table.columns.map { "\($0.name): \($0.type)" }.joined(separator: ", ")); use --format csv"
      )
    }
    var out = NumpyFormat.header(
      descr: descr(element), shape: table.columns.count == 1 ? [table.rowCount] : [table.rowCount, table.columns.count])
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
  /// The first six bytes of every `.npy` file.
  public static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

  /// The magic, version and header of an `.npy` file holding a C-order array of `descr`
  /// (`<f4`, `<i8`, …) and `shape`; the raw little-endian data follows it.
  public static func header(descr: String, shape: [Int]) -> [UInt8] {
    let dims = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    var text = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(dims), }"
    let unpadded = 10 + text.utf8.count + 1
    text += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
    var out = magic + [1, 0]
    out.append(UInt8(text.utf8.count & 0xff))
    out.append(UInt8(text.utf8.count >> 8))
    out.append(contentsOf: text.utf8)
    return out
  }
}
