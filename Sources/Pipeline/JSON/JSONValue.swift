import Foundation

/// A JSON document as a value: pipeline files, params and provenance. Its canonical form (sorted
/// keys, no spaces, integers without a fraction) is what stage keys hash.
public enum JSONValue: Sendable, Hashable, Codable, CustomStringConvertible {
  case null
  case bool(Bool)
  case int(Int64)
  case double(Double)
  case string(String)
  case array([JSONValue])
  case object([String: JSONValue])

  public init(from decoder: any Decoder) throws {
    let c = try decoder.singleValueContainer()
    if c.decodeNil() {
      self = .null
    } else if let b = try? c.decode(Bool.self) {
      self = .bool(b)
    } else if let i = try? c.decode(Int64.self) {
      self = .int(i)
    } else if let d = try? c.decode(Double.self) {
      self = .double(d)
    } else if let s = try? c.decode(String.self) {
      self = .string(s)
    } else if let a = try? c.decode([JSONValue].self) {
      self = .array(a)
    } else {
      self = .object(try c.decode([String: JSONValue].self))
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.singleValueContainer()
    switch self {
    case .null: try c.encodeNil()
    case .bool(let b): try c.encode(b)
    case .int(let i): try c.encode(i)
    case .double(let d): try c.encode(d)
    case .string(let s): try c.encode(s)
    case .array(let a): try c.encode(a)
    case .object(let o): try c.encode(o)
    }
  }

  /// Parses a JSON document.
  public static func parse(_ data: Data) throws -> JSONValue {
    try JSONDecoder().decode(JSONValue.self, from: data)
  }

  /// Converts any Encodable value (a stage's params) to a JSON value.
  public static func from(_ value: some Encodable) throws -> JSONValue {
    try parse(JSONEncoder().encode(value))
  }

  /// Decodes this value as `T` (a stage's params).
  public func decode<T: Decodable>(_: T.Type) throws -> T {
    try JSONDecoder().decode(T.self, from: Data(canonical.utf8))
  }

  /// Sorted keys, no whitespace: equal values always give equal text.
  public var canonical: String {
    var out = ""
    write(to: &out, indent: nil, level: 0)
    return out
  }

  /// Indented, sorted keys: for people.
  public var pretty: String {
    var out = ""
    write(to: &out, indent: "  ", level: 0)
    return out
  }

  public var description: String { canonical }

  public subscript(key: String) -> JSONValue? {
    if case .object(let o) = self { return o[key] }
    return nil
  }

  private func write(to out: inout String, indent: String?, level: Int) {
    let newline = indent.map { "\n" + String(repeating: $0, count: level + 1) } ?? ""
    let close = indent.map { "\n" + String(repeating: $0, count: level) } ?? ""
    let colon = indent == nil ? ":" : ": "
    switch self {
    case .null: out += "null"
    case .bool(let b): out += b ? "true" : "false"
    case .int(let i): out += String(i)
    case .double(let d): out += JSONValue.format(d)
    case .string(let s): JSONValue.quote(s, into: &out)
    case .array(let a):
      if a.isEmpty {
        out += "[]"
        return
      }
      out += "["
      for (n, v) in a.enumerated() {
        out += (n == 0 ? "" : ",") + newline
        v.write(to: &out, indent: indent, level: level + 1)
      }
      out += close + "]"
    case .object(let o):
      if o.isEmpty {
        out += "{}"
        return
      }
      out += "{"
      for (n, key) in o.keys.sorted().enumerated() {
        out += (n == 0 ? "" : ",") + newline
        JSONValue.quote(key, into: &out)
        out += colon
        o[key]!.write(to: &out, indent: indent, level: level + 1)
      }
      out += close + "}"
    }
  }

  /// Integral doubles print without a fraction so that `1` and `1.0` hash alike.
  static func format(_ d: Double) -> String {
    if d.isFinite, d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
    return d.isFinite ? "\(d)" : "null"
  }

  static func quote(_ s: String, into out: inout String) {
    out += "\""
    for scalar in s.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      case _ where scalar.value < 0x20:
        out +=
          "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
          + String(scalar.value, radix: 16)
      default: out.unicodeScalars.append(scalar)
      }
    }
    out += "\""
  }

  /// A short name of the value's JSON type, for error messages.
  public var typeName: String {
    switch self {
    case .null: "null"
    case .bool: "a boolean"
    case .int: "an integer"
    case .double: "a number"
    case .string: "a string"
    case .array: "an array"
    case .object: "an object"
    }
  }
}
