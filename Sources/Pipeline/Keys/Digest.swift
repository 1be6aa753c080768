import Crypto

/// A SHA-256 digest: what artifact ids, stage keys and file hashes are.
public struct Digest: Hashable, Sendable, Comparable, CustomStringConvertible {
  public let hex: String

  public init?(hex: String) {
    guard hex.utf8.count == 64, hex.utf8.allSatisfy({ Digest.isHexDigit($0) }) else { return nil }
    self.hex = hex.lowercased()
  }

  init(_ digest: SHA256.Digest) {
    hex = Digest.hexString(digest)
  }

  public var description: String { hex }
  /// The 12-character prefix printed to people.
  public var short: String { String(hex.prefix(12)) }
  public static func < (a: Digest, b: Digest) -> Bool { a.hex < b.hex }

  /// SHA-256 of a byte buffer.
  public static func of(_ bytes: UnsafeRawBufferPointer) -> Digest { Digest(SHA256.hash(data: bytes)) }
  public static func of(_ text: String) -> Digest { Digest(SHA256.hash(data: Array(text.utf8))) }

  static func hexString(_ bytes: some Sequence<UInt8>) -> String { HexText.string(bytes) }

  static func isHexDigit(_ c: UInt8) -> Bool {
    (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70)
  }
}

/// Incremental SHA-256, for content that arrives in pieces.
public struct DigestBuilder {
  private var hasher = SHA256()
  public init() {}
  public mutating func update(_ bytes: UnsafeRawBufferPointer) { hasher.update(bufferPointer: bytes) }
  public mutating func update(_ text: String) {
    var text = text
    text.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
  }
  public func finalize() -> Digest { Digest(hasher.finalize()) }
}

extension Digest {
  /// The 32 raw bytes of SHA-256 over `bytes`.
  static func rawSHA256(_ bytes: UnsafeRawBufferPointer) -> [UInt8] { Array(SHA256.hash(data: bytes)) }
}

extension Digest {
  /// SHA-256 of a byte array.
  public static func of(_ bytes: [UInt8]) -> Digest { bytes.withUnsafeBytes { of($0) } }
}
