/// Lowercase hexadecimal text, appended to byte buffers without a String per value: digests, and
/// the stages' 64-digit customer ids.
public enum HexText {
  @usableFromInline static let digits: [UInt8] = Array("0123456789abcdef".utf8)

  /// Appends the 16 digits of `word`, most significant first.
  @inlinable
  public static func append(_ word: UInt64, to out: inout [UInt8]) {
    for shift in stride(from: 60, through: 0, by: -4) { out.append(digits[Int((word >> UInt64(shift)) & 0xF)]) }
  }

  /// Appends two digits per byte.
  @inlinable
  public static func append(bytes: some Sequence<UInt8>, to out: inout [UInt8]) {
    for b in bytes {
      out.append(digits[Int(b >> 4)])
      out.append(digits[Int(b & 15)])
    }
  }

  /// The digits of `bytes` as a String.
  public static func string(_ bytes: some Sequence<UInt8>) -> String {
    var out: [UInt8] = []
    append(bytes: bytes, to: &out)
    return String(decoding: out, as: UTF8.self)
  }
}
