import Foundation
import Pipeline
import TestSupport
import Testing

/// Objects made by someone hostile (a manifest whose numbers lie, offsets that jump backwards, a
/// decompression bomb) are "damaged: why" for `verify` and readers, never a crash, and one of them
/// never hides an ordinary damaged object beside it.
@Suite struct HostileObjectTests {
  /// A store holding `table` and an ordinary object beside it; returns the first's path.
  static func store(with table: Table, in dir: TemporaryDirectory) throws -> (Store, ArtifactID, ArtifactID) {
    let store = try Store(root: dir.path + "/store")
    let hostile = try store.write(table).id
    let ordinary = try store.write(Table([Column("n", (0..<1000).map { UInt32($0) })])).id
    return (store, hostile, ordinary)
  }

  static let kinds = [
    "huge row count", "chunk beyond the file", "chunk offsets backwards", "raw size lie", "footer overflow",
    "offsets backwards", "unknown type", "buffer count overflow",
  ]

  @Test(arguments: kinds)
  func hostileObjectIsOneDamagedLineAndTheRestAreStillChecked(kind: String) throws {
    let dir = TemporaryDirectory()
    let twoChunks = Table([Column("v", [UInt8](repeating: 7, count: Manifest.chunkBytes + 10))])
    let strings = Table([Column("s", strings: ["a", "bb", "ccc"])])
    let (store, hostile, ordinary) = try Self.store(with: kind == "offsets backwards" ? strings : twoChunks, in: dir)
    let path = store.objectPath(hostile)
    var surgery = try ObjectSurgery(path)
    switch kind {
    case "huge row count": surgery.manifest["rows"] = 1 << 50
    case "chunk beyond the file":
      surgery.chunks = surgery.chunks.map {
        var c = $0
        c["offset"] = (c["offset"] as! Int) + 1_000_000
        return c
      }
    case "chunk offsets backwards": surgery.chunks = [surgery.chunks[1], surgery.chunks[0]]
    case "raw size lie":
      surgery.chunks = surgery.chunks.map {
        var c = $0
        c["rawSize"] = 1 << 40
        return c
      }
    case "unknown type":
      var columns = surgery.manifest["columns"] as! [[String: Any]]
      columns[0]["type"] = "complex128"
      surgery.manifest["columns"] = columns
    case "buffer count overflow": surgery.setBuffer(0, "count", Int.max / 2)
    case "offsets backwards":
      // A conforming object (chunks, checksums, SHA-256s and id all agree) whose offsets fall back.
      let bad = Column(
        name: "s", type: .string, rowCount: 3, values: ByteStorage(copying: Array("abbccc".utf8)),
        offsets: ByteStorage(copying: [0, 3, 1, 6] as [UInt64]))
      FileSystem.remove(path)
      let id = try store.write(Table([bad])).id
      try FileSystem.rename(store.objectPath(id), to: path)
      surgery = try ObjectSurgery(path)
      surgery.manifest["id"] = hostile.description
    default: break
    }
    if kind == "footer overflow" {
      var bytes = try FileSystem.readAll(path)
      for i in 0..<8 { bytes[bytes.count - 56 + i] = 0xff }
      try FileSystem.writeAtomically(bytes, to: path)
    } else {
      try surgery.write(to: path)
    }
    // An ordinary flipped byte beside it must still be found.
    var plain = try FileSystem.readAll(store.objectPath(ordinary))
    plain[12] ^= 0xff
    try FileSystem.writeAtomically(plain, to: store.objectPath(ordinary))

    #expect(throws: CorruptObjectError.self, "\(kind): a reader refuses it") { _ = try store.reader(hostile).table() }
    let (checked, damaged) = Maintenance.verify(store: store, deep: false)
    #expect(checked == 2)
    #expect(Set(damaged.map(\.id)) == [hostile, ordinary], "\(kind): \(damaged.map(\.problem))")
    #expect(!store.contains(hostile) && !store.contains(ordinary), "both quarantined")
  }
}
