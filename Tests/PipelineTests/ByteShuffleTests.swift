import Testing

@testable import Pipeline

/// The byte transposition under every stored column: the sixteen-at-a-time paths for 2-, 4- and
/// 8-byte elements against the byte-by-byte definition, tails included.
@Suite struct ByteShuffleTests {
  @Test(arguments: [1, 2, 3, 4, 8])
  func shufflesByTheDefinitionAndBack(width: Int) {
    for count in [0, 1, 15, 16, 17, 100] {
      let source = (0..<(count * width)).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ $0 >> 3) }
      var shuffled = [UInt8](repeating: 0, count: source.count), restored = shuffled
      source.withUnsafeBytes { s in shuffled.withUnsafeMutableBytes { ByteShuffle.shuffle(s, width: width, into: $0) } }
      let expected = (0..<width).flatMap { b in (0..<count).map { source[$0 * width + b] } }
      #expect(shuffled == expected, "\(count) elements of \(width) bytes")
      shuffled.withUnsafeBytes { s in restored.withUnsafeMutableBytes { ByteShuffle.unshuffle(s, width: width, into: $0) } }
      #expect(restored == source, "\(count) elements of \(width) bytes")
    }
  }
}
