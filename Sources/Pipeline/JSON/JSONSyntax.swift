/// Where a JSON text first breaks the grammar, as a line and column and what was expected there.
/// Foundation's parser on Linux says only "The given data was not valid JSON."; this scanner runs
/// after it fails, to tell a user which line of their pipeline file to fix. It checks syntax only
/// (RFC 8259, with the trailing commas Foundation tolerates) and builds nothing.
public enum JSONSyntax {
  /// A syntax error: 1-based line and column (in bytes) and a short reason.
  public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var reason: String
    public var description: String { "line \(line), column \(column): \(reason)" }
  }

  /// The first syntax error of `bytes`, or nil when the scanner finds none.
  public static func firstProblem(_ bytes: [UInt8]) -> Problem? {
    var scanner = Scanner(bytes: bytes)
    do throws(Problem) {
      scanner.skipSpace()
      try scanner.value(depth: 0)
      scanner.skipSpace()
      if scanner.at < bytes.count { throw scanner.problem("expected the end of the text after the top-level value") }
      return nil
    } catch {
      return error
    }
  }

  struct Scanner {
    let bytes: [UInt8]
    var at = 0

    func problem(_ reason: String) -> Problem {
      var line = 1, lineStart = 0
      for i in 0..<min(at, bytes.count) where bytes[i] == UInt8(ascii: "\n") {
        line += 1
        lineStart = i + 1
      }
      let found =
        switch at < bytes.count ? bytes[at] : nil {
        case nil: " (found the end of the text)"
        case UInt8(ascii: "\n"): " (found a line break)"
        case let c? where c < 0x20 || c >= 0x7F: " (found byte 0x\(String(c, radix: 16, uppercase: true)))"
        case let c?: " (found '\(Character(Unicode.Scalar(c)))')"
        }
      return Problem(line: line, column: at - lineStart + 1, reason: reason + found)
    }

    var current: UInt8? { at < bytes.count ? bytes[at] : nil }

    mutating func skipSpace() {
      while let c = current, c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { at += 1 }
    }

    mutating func expect(_ c: Character, _ reason: String) throws(Problem) {
      guard current == c.asciiValue else { throw problem(reason) }
      at += 1
    }

    mutating func value(depth: Int) throws(Problem) {
      guard depth < 512 else { throw problem("nested too deeply") }
      switch current {
      case UInt8(ascii: "{"): try container(close: "}", depth: depth, keyed: true)
      case UInt8(ascii: "["): try container(close: "]", depth: depth, keyed: false)
      case UInt8(ascii: "\""): try string()
      case UInt8(ascii: "t"): try word("true")
      case UInt8(ascii: "f"): try word("false")
      case UInt8(ascii: "n"): try word("null")
      case let c? where c == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c): try number()
      default: throw problem("expected a value (an object, array, string, number, true, false or null)")
      }
    }

    mutating func container(close: Character, depth: Int, keyed: Bool) throws(Problem) {
      at += 1
      skipSpace()
      if current == close.asciiValue {
        at += 1
        return
      }
      while true {
        if keyed {
          guard current == UInt8(ascii: "\"") else { throw problem("expected a member name in double quotes") }
          try string()
          skipSpace()
          try expect(":", "expected ':' after the member name")
          skipSpace()
        }
        try value(depth: depth + 1)
        skipSpace()
        if current == close.asciiValue {
          at += 1
          return
        }
        try expect(",", "expected ',' or '\(close)' after the value")
        skipSpace()
        if current == close.asciiValue {  // a trailing comma, which Foundation accepts
          at += 1
          return
        }
      }
    }

    mutating func string() throws(Problem) {
      at += 1
      while let c = current {
        switch c {
        case UInt8(ascii: "\""):
          at += 1
          return
        case UInt8(ascii: "\\"):
          at += 1
          guard let e = current, Array("\"\\/bfnrtu".utf8).contains(e) else { throw problem("an unknown escape in a string") }
          at += 1
          if e == UInt8(ascii: "u") {
            for _ in 0..<4 {
              guard let h = current, Character(Unicode.Scalar(h)).isHexDigit else { throw problem("expected four hex digits after \\u") }
              at += 1
            }
          }
        case 0..<0x20: throw problem("a control character inside a string (a line break needs \\n)")
        default: at += 1
        }
      }
      throw problem("a string without its closing double quote")
    }

    mutating func word(_ w: String) throws(Problem) {
      for c in w.utf8 {
        guard current == c else { throw problem("expected '\(w)'") }
        at += 1
      }
    }

    mutating func number() throws(Problem) {
      let digits = UInt8(ascii: "0")...UInt8(ascii: "9")
      if current == UInt8(ascii: "-") { at += 1 }
      guard let first = current, digits.contains(first) else { throw problem("expected a digit") }
      while let c = current, digits.contains(c) { at += 1 }
      if current == UInt8(ascii: ".") {
        at += 1
        guard let c = current, digits.contains(c) else { throw problem("expected a digit after the decimal point") }
        while let c = current, digits.contains(c) { at += 1 }
      }
      if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
        at += 1
        if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { at += 1 }
        guard let c = current, digits.contains(c) else { throw problem("expected a digit in the exponent") }
        while let c = current, digits.contains(c) { at += 1 }
      }
    }
  }
}
