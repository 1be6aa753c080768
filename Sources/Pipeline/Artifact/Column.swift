/// One named, typed column of a table: the values buffer, plus an offsets buffer (`UInt64`, one more
/// than the row count) for string and list columns.
///
/// Integer columns may name a null sentinel; floating-point columns use NaN for null.
public struct Column: Sendable {
  public let name: String
  public let type: ColumnType
  public let rowCount: Int
  public let values: ByteStorage
  public let offsets: ByteStorage?
  public let nullSentinel: Int64?

  /// Wraps buffers that already hold a column's bytes; checks that their sizes agree.
  public init(
    name: String, type: ColumnType, rowCount: Int, values: ByteStorage, offsets: ByteStorage?,
    nullSentinel: Int64? = nil
  ) {
    precondition(type.isRagged == (offsets != nil), "offsets go with string and list columns only")
    if let offsets {
      precondition(offsets.count == (rowCount + 1) * 8, "offsets must hold rowCount + 1 values")
    } else {
      precondition(values.count == rowCount * type.valueType.byteWidth, "values must hold rowCount values")
    }
    self.name = name
    self.type = type
    self.rowCount = rowCount
    self.values = values
    self.offsets = offsets
    self.nullSentinel = nullSentinel
  }

  /// A scalar column holding a copy of `values`.
  public init<T: ColumnElement>(_ name: String, _ values: some Collection<T>, nullSentinel: Int64? = nil) {
    self.init(
      name: name, type: .scalar(T.elementType), rowCount: values.count,
      values: ByteStorage(copying: values), offsets: nil, nullSentinel: nullSentinel)
  }

  /// A list column: row `r` holds `values[offsets[r]..<offsets[r+1]]`.
  public init<T: ColumnElement>(_ name: String, offsets: [UInt64], values: some Collection<T>) {
    precondition(offsets.first == 0 && offsets.last == UInt64(values.count), "offsets must span the values")
    self.init(
      name: name, type: .list(T.elementType), rowCount: offsets.count - 1,
      values: ByteStorage(copying: values), offsets: ByteStorage(copying: offsets))
  }

  /// A string column holding the UTF-8 bytes of `strings`.
  public init(_ name: String, strings: some Collection<String>) {
    var offsets: [UInt64] = [0]
    offsets.reserveCapacity(strings.count + 1)
    var bytes: [UInt8] = []
    for s in strings {
      bytes.append(contentsOf: s.utf8)
      offsets.append(UInt64(bytes.count))
    }
    self.init(
      name: name, type: .string, rowCount: strings.count,
      values: ByteStorage(copying: bytes), offsets: ByteStorage(copying: offsets))
  }

  /// The values buffer as `T`: the rows of a scalar column, the flattened values of a list column.
  /// - Throws: `ColumnTypeError` when the column's element type is not `T`.
  public func values<T: ColumnElement>(_: T.Type) throws(ColumnTypeError) -> TypedValues<T> {
    guard type.valueType == T.elementType, type != .string || T.self == UInt8.self else {
      throw ColumnTypeError(column: name, actual: type, requested: "\(T.elementType.rawValue)")
    }
    return TypedValues(values)
  }

  /// Row boundaries of a string or list column (`rowCount + 1` values); empty for scalar columns.
  public var offsetBuffer: TypedValues<UInt64> {
    TypedValues(offsets ?? Column.noOffsets)
  }

  private static let noOffsets = ByteStorage(count: 0) { _ in }

  /// A copy of a scalar column's values as an array.
  public func array<T: ColumnElement>(_: T.Type) throws(ColumnTypeError) -> [T] {
    Array(try values(T.self))
  }

  /// The string in `row` of a string column.
  public func string(at row: Int) -> String {
    let o = offsetBuffer
    return withExtendedLifetime(values) {
      String(decoding: UnsafeRawBufferPointer(rebasing: values.bytes[Int(o[row])..<Int(o[row + 1])]), as: UTF8.self)
    }
  }

  /// The value range of `row` in a list or string column.
  public func range(of row: Int) -> Range<Int> {
    let o = offsetBuffer
    return Int(o[row])..<Int(o[row + 1])
  }
}

/// A stage asked a column for a type it does not hold.
public struct ColumnTypeError: Error, Sendable, CustomStringConvertible {
  public var column: String
  public var actual: ColumnType
  public var requested: String
  public var description: String { "column '\(column)' holds \(actual), not \(requested)" }
}
