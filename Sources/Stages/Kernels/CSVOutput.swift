import Pipeline

/// Builds CSV text as bytes, with RFC 4180 quoting where a field needs it.
struct CSVOutput {
  var bytes: [UInt8] = []

  init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

  mutating func field(_ text: String, last: Bool = false) {
    if text.utf8.contains(where: { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 10 || $0 == 13 }) {
      bytes.append(UInt8(ascii: "\""))
      for b in text.utf8 {
        if b == UInt8(ascii: "\"") { bytes.append(b) }
        bytes.append(b)
      }
      bytes.append(UInt8(ascii: "\""))
    } else {
      bytes.append(contentsOf: text.utf8)
    }
    bytes.append(last ? 10 : UInt8(ascii: ","))
  }

  mutating func raw(_ b: some Sequence<UInt8>) { bytes.append(contentsOf: b) }

  mutating func field(_ value: Int, last: Bool = false) { field(String(value), last: last) }

  /// A 10-digit zero-padded article id.
  mutating func articleID(_ number: Int64) {
    var digits = [UInt8](repeating: 48, count: 10)
    var n = number
    for i in stride(from: 9, through: 0, by: -1) {
      digits[i] = 48 + UInt8(n % 10)
      n /= 10
    }
    bytes.append(contentsOf: digits)
  }
}
