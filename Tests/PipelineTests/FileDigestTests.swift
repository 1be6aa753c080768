import Foundation
import Pipeline
import Testing

/// Input files are hashed in 64 MiB pieces on all cores: the digest is the documented two-level
/// SHA-256, remembered by the file's stamp; a record of the old one-level digest is not trusted.
@Suite struct FileDigestTests {
  @Test func twoLevelDigestAsDocumentedAndCached() throws {
    let dir = TemporaryDirectory()
    let size = (64 << 20) + 3
    var bytes = [UInt8](repeating: 0, count: size)
    for i in stride(from: 0, to: size, by: 4096) { bytes[i] = UInt8(truncatingIfNeeded: i / 4096) }
    let path = dir.path + "/input.bin"
    try FileSystem.writeAtomically(bytes, to: path)
    let pieces = [bytes[0..<(64 << 20)], bytes[(64 << 20)...]].map { piece in piece.withUnsafeBytes { Digest.of($0).hex } }
    let expected = Digest.of("hmpipe-file-v2\n\(size)\n" + pieces.map { $0 + "\n" }.joined())
    let store = try Store(root: dir.path + "/store")
    #expect(try store.fileDigest(path) == expected)

    // A record from before (no scheme) with a wrong digest is recomputed, not trusted.
    let record = dir.path + "/store/files/" + Digest.of(FileSystem.absolute(path)).hex + ".json"
    let text = String(decoding: try FileSystem.readAll(record), as: UTF8.self)
    let old = text.replacingOccurrences(of: expected.hex, with: String(repeating: "0", count: 64))
      .replacingOccurrences(of: "\"scheme\" : 2", with: "\"scheme\" : null")
    try FileSystem.writeAtomically(Array(old.utf8), to: record)
    #expect(try store.fileDigest(path) == expected)
  }
}
