/// Lowercase hexadecimal text, appended to byte buffers without a String per value: digests, and
/// the stages' 64-digit customer ids.
public enum HexText {
  /// The digit of a nibble, computed: a table would be a global, checked for initialisation on
  /// every use in the hot loops that write ids.
  @inlinable @inline(__always)
  public static func digit(_ nibble: UInt8) -> UInt8 { nibble < 10 ? 48 &+ nibble : 87 &+ nibble }

  /// Appends the 16 digits of `word`, most significant first.
  @inlinable
  public static func append(_ word: UInt64, to out: inout [UInt8]) {
    for shift in stride(from: 60, through: 0, by: -4) { out.append(digit(UInt8(truncatingIfNeeded: word >> UInt64(shift)) & 0xF)) }
  }

  /// Appends two digits per byte.
  @inlinable
  public static func append(bytes: some Sequence<UInt8>, to out: inout [UInt8]) {
    for b in bytes {
      out.append(digit(b >> 4))
      out.append(digit(b & 15))
    }
  }

  /// The digits of `bytes` as a String.
  public static func string(_ bytes: some Sequence<UInt8>) -> String {
    var out: [UInt8] = []
    append(bytes: bytes, to: &out)
    return String(decoding: out, as: UTF8.self)
  }
}
