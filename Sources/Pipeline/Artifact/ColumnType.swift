/// The fixed-width element types a column (or a list column's values) can hold; all little-endian.
public enum ElementType: String, Sendable, Codable, CaseIterable {
  case u8, u16, u32, u64, i8, i16, i32, i64, f32, f64

  public var byteWidth: Int {
    switch self {
    case .u8, .i8: 1
    case .u16, .i16: 2
    case .u32, .i32, .f32: 4
    case .u64, .i64, .f64: 8
    }
  }
}

/// What a column holds: one fixed-width value per row, a UTF-8 string per row, or a ragged list of
/// fixed-width values per row (CSR: offsets plus values).
public enum ColumnType: Sendable, Hashable, CustomStringConvertible {
  case scalar(ElementType)
  case string
  case list(ElementType)

  /// The spelling used in manifests and by `inspect`: `f32`, `string`, `list<u32>`.
  public var description: String {
    switch self {
    case .scalar(let e): e.rawValue
    case .string: "string"
    case .list(let e): "list<\(e.rawValue)>"
    }
  }

  public init?(_ text: String) {
    if text == "string" {
      self = .string
    } else if text.hasPrefix("list<"), text.hasSuffix(">"),
      let e = ElementType(rawValue: String(text.dropFirst(5).dropLast()))
    {
      self = .list(e)
    } else if let e = ElementType(rawValue: text) {
      self = .scalar(e)
    } else {
      return nil
    }
  }

  /// The element type of the values buffer (bytes for strings).
  public var valueType: ElementType {
    switch self {
    case .scalar(let e), .list(let e): e
    case .string: .u8
    }
  }

  public var isRagged: Bool {
    if case .scalar = self { return false }
    return true
  }
}

/// A Swift type that can be a column element.
public protocol ColumnElement: BitwiseCopyable, Comparable, Sendable {
  static var elementType: ElementType { get }
  /// For `inspect`'s statistics and CSV export.
  var doubleValue: Double { get }
}

extension UInt8: ColumnElement {
  public static var elementType: ElementType { .u8 }
  public var doubleValue: Double { Double(self) }
}
extension UInt16: ColumnElement {
  public static var elementType: ElementType { .u16 }
  public var doubleValue: Double { Double(self) }
}
extension UInt32: ColumnElement {
  public static var elementType: ElementType { .u32 }
  public var doubleValue: Double { Double(self) }
}
extension UInt64: ColumnElement {
  public static var elementType: ElementType { .u64 }
  public var doubleValue: Double { Double(self) }
}
extension Int8: ColumnElement {
  public static var elementType: ElementType { .i8 }
  public var doubleValue: Double { Double(self) }
}
extension Int16: ColumnElement {
  public static var elementType: ElementType { .i16 }
  public var doubleValue: Double { Double(self) }
}
extension Int32: ColumnElement {
  public static var elementType: ElementType { .i32 }
  public var doubleValue: Double { Double(self) }
}
extension Int64: ColumnElement {
  public static var elementType: ElementType { .i64 }
  public var doubleValue: Double { Double(self) }
}
extension Float: ColumnElement {
  public static var elementType: ElementType { .f32 }
  public var doubleValue: Double { Double(self) }
}
extension Double: ColumnElement {
  public static var elementType: ElementType { .f64 }
  public var doubleValue: Double { self }
}
