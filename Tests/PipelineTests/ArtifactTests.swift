import Foundation
import Pipeline
import Testing

@Suite struct ArtifactTests {
  /// One column of every type, including empty strings and empty lists.
  static func everyType(rows: Int, seed: Int) -> Table {
    let r = (0..<rows).map { ($0 &* 2_654_435_761 &+ seed) & 0xffff }
    var listOffsets: [UInt64] = [0]
    var listValues: [UInt32] = []
    for i in 0..<rows {
      for j in 0..<(r[i] % 4) { listValues.append(UInt32(i * 10 + j)) }
      listOffsets.append(UInt64(listValues.count))
    }
    return Table(
      [
        Column("u8", r.map { UInt8(truncatingIfNeeded: $0) }),
        Column("u16", r.map { UInt16(truncatingIfNeeded: $0) }),
        Column("u32", r.map { UInt32($0) * 65_537 }),
        Column("u64", r.map { UInt64($0) << 40 }),
        Column("i8", r.map { Int8(truncatingIfNeeded: $0) }),
        Column("i16", r.map { Int16(truncatingIfNeeded: $0) }),
        Column("i32", r.map { -Int32($0) }, nullSentinel: -1),
        Column("i64", r.map { Int64($0) - 30_000 }),
        Column("f32", r.map { Float($0) / 7 }),
        Column("f64", r.map { Double($0).squareRoot() }),
        Column("text", strings: r.map { $0 % 5 == 0 ? "" : "row \($0), \"quoted\"\n" }),
        Column("list", offsets: listOffsets, values: listValues),
      ], metadata: ["purpose": "round trip"])
  }

  static func assertEqual(_ a: Table, _ b: Table) {
    #expect(a.columns.map(\.name) == b.columns.map(\.name))
    #expect(a.rowCount == b.rowCount)
    #expect(a.metadata == b.metadata)
    for (x, y) in zip(a.columns, b.columns) {
      #expect(x.type == y.type, "\(x.name)")
      #expect(Array(x.values.bytes) == Array(y.values.bytes), "\(x.name) values")
      #expect(x.offsets.map { Array($0.bytes) } == y.offsets.map { Array($0.bytes) }, "\(x.name) offsets")
      #expect(x.nullSentinel == y.nullSentinel)
    }
  }

  @Test(arguments: [0, 1, 1000, 300_000])
  func roundTripsEveryColumnType(rows: Int) throws {
    let dir = TemporaryDirectory()
    let store = try Store(root: dir.path)
    let table = Self.everyType(rows: rows, seed: rows)
    let manifest = try store.write(table)
    let back = try store.reader(manifest.id).table()
    Self.assertEqual(table, back)
    #expect(manifest.rows == rows)
  }

  /// Selecting rows (gathered, or a consecutive run copied in one piece) keeps every value of
  /// every column type, offsets of strings and lists included.
  @Test func selectedRowsKeepEveryValue() {
    let table = Self.everyType(rows: 3000, seed: 9)
    let picked = (0..<3000).filter { $0 % 7 == 3 || $0 > 2990 }
    for (selected, rows) in [
      (table.filter { $0 % 7 == 3 || $0 > 2990 }, picked), (table.filter { $0 >= 100 && $0 < 300 }, Array(100..<300)),
    ] {
      #expect(selected.rowCount == rows.count && selected.metadata == table.metadata)
      for (column, original) in zip(selected.columns, table.columns) {
        #expect(column.nullSentinel == original.nullSentinel)
        let same = rows.indices.allSatisfy { CellFormatter.text(column, row: $0) == CellFormatter.text(original, row: rows[$0]) }
        #expect(same, "\(column.name)")
      }
    }
    #expect(table.rows(0..<0).rowCount == 0 && table.rows(2999..<3000).columns.allSatisfy { $0.rowCount == 1 })
  }

  @Test func emptyTableWithNoColumns() throws {
    let dir = TemporaryDirectory()
    let store = try Store(root: dir.path)
    let manifest = try store.write(Table([]))
    let back = try store.reader(manifest.id).table()
    #expect(back.columns.isEmpty && back.rowCount == 0)
  }

  @Test func readsOneColumnAlone() throws {
    let dir = TemporaryDirectory()
    let store = try Store(root: dir.path)
    let manifest = try store.write(Self.everyType(rows: 5000, seed: 3))
    let f64 = try store.reader(manifest.id).column("f64")
    #expect(try f64.array(Double.self) == Self.everyType(rows: 5000, seed: 3).column("f64").array(Double.self))
    #expect(throws: MissingColumnError.self) { try store.reader(manifest.id).column("nope") }
  }

  /// A list column whose values span many chunks: offsets far past one chunk, rows split across
  /// chunk boundaries.
  @Test func largeOffsetsAcrossChunks() throws {
    let dir = TemporaryDirectory()
    let store = try Store(root: dir.path)
    let rows = 3000
    var offsets: [UInt64] = [0]
    for r in 0..<rows { offsets.append(offsets.last! + UInt64(1000 + r % 777)) }
    let values = (0..<Int(offsets.last!)).map { UInt32(truncatingIfNeeded: $0 &* 40503) }
    let manifest = try store.write(Table([Column("list", offsets: offsets, values: values)]))
    let column = manifest.columns[0]
    #expect(column.buffers[0].chunks.count > 1, "values should span several chunks")
    let back = try store.reader(manifest.id).column("list")
    #expect(Array(back.offsetBuffer) == offsets)
    #expect(Array(try back.values(UInt32.self)) == values)
    #expect(back.range(of: rows - 1).upperBound == values.count)
  }

  @Test func idsIgnoreCompressionLevelAndThreads() throws {
    let table = Self.everyType(rows: 150_000, seed: 9)
    var ids: Set<ArtifactID> = []
    var sizes: Set<Int> = []
    for (level, workers) in [(1, 1), (3, 2), (9, 4)] {
      let dir = TemporaryDirectory()
      let writer = try ArtifactWriter(path: dir.path + "/object", level: Int32(level), workers: workers)
      for column in table.columns { try writer.append(column) }
      let manifest = try writer.finish(metadata: table.metadata)
      ids.insert(manifest.id)
      sizes.insert(manifest.compressedBytes)
      let back = try ArtifactReader(path: dir.path + "/object").table(workers: workers)
      Self.assertEqual(table, back)
    }
    #expect(ids.count == 1)
    #expect(sizes.count > 1, "levels should change the stored size, not the id")
  }

  /// Leading rows copied by chunk (the cut before, at and after an 8-byte column's chunk boundary,
  /// none and all) are the artifact that writing those rows gives: the same id, the same table.
  @Test(arguments: [0, 1, 524_288, 524_289, 600_000])
  func leadingRowsCopiedByChunkAreTheSameArtifact(rows: Int) throws {
    let r = (0..<600_000).map { ($0 &* 2_654_435_761) & 0xffff }, dir = TemporaryDirectory()
    let table = Table(
      [
        Column("u64", r.map { UInt64($0) << 40 }), Column("u8", r.map { UInt8(truncatingIfNeeded: $0) }),
        Column("f32", r.map { Float($0) / 7 }, nullSentinel: nil), Column("text", strings: r.map { $0 % 3 == 0 ? "" : "r\($0 % 10)" }),
      ], metadata: ["purpose": "leading rows"])
    let full = try ArtifactWriter(path: dir.path + "/full", level: 1)
    for column in table.columns { try full.append(column) }
    _ = try full.finish(metadata: table.metadata)
    let source = try ArtifactReader(path: dir.path + "/full")
    let copied = try ArtifactWriter(path: dir.path + "/copied", level: 1)
    for entry in source.manifest.columns {
      if entry.columnType?.isRagged == false {
        try copied.appendLeadingRows(of: entry, rows: rows, from: source)
      } else {
        try copied.append(try source.column(entry.name).rows(0..<rows))
      }
    }
    let manifest = try copied.finish(metadata: table.metadata)
    let expected = table.rows(0..<rows), written = try ArtifactWriter(path: dir.path + "/written", level: 1)
    for column in expected.columns { try written.append(column) }
    #expect(manifest.id == (try written.finish(metadata: table.metadata)).id)
    Self.assertEqual(expected, try ArtifactReader(path: dir.path + "/copied").table())
    try ArtifactReader(path: dir.path + "/copied").verify(as: manifest.id, deep: true)
  }

  @Test func sameBytesWhateverTheThreadCount() throws {
    let table = Self.everyType(rows: 200_000, seed: 1)
    var files: Set<[UInt8]> = []
    for workers in [1, 2, 8] {
      let dir = TemporaryDirectory()
      let writer = try ArtifactWriter(path: dir.path + "/object", level: 3, workers: workers)
      for column in table.columns { try writer.append(column) }
      _ = try writer.finish()
      files.insert(try FileSystem.readAll(dir.path + "/object"))
    }
    #expect(files.count == 1)
  }

  /// Columns appended together (their chunks compressed in parallel across columns, batches
  /// spanning columns) make the file that appending them one by one makes, whatever the threads.
  @Test func columnsAppendedTogetherMakeTheSameFile() throws {
    let rows = 600_000
    let wide = Column("wide", (0..<rows).map { UInt64($0) &* 0x9E37_79B9_7F4A_7C15 })
    let table = Table(
      [
        Column("u8", (0..<rows).map { UInt8(truncatingIfNeeded: $0 / 3) }), wide,
        Column("list", offsets: (0...rows).map { UInt64($0 / 2) }, values: (0..<(rows / 2)).map { UInt32($0) }),
        Column("f32", (0..<rows).map { Float($0 % 1000) / 7 }),
      ], metadata: ["purpose": "together"])
    #expect(wide.values.count > Manifest.chunkBytes, "a column should span two chunks")
    var files: Set<[UInt8]> = []
    for (workers, together) in [(1, false), (1, true), (2, true), (3, true)] {
      let dir = TemporaryDirectory()
      let writer = try ArtifactWriter(path: dir.path + "/object", level: 1, workers: workers)
      if together { try writer.append(table.columns) } else { for column in table.columns { try writer.append(column) } }
      _ = try writer.finish(metadata: table.metadata)
      files.insert(try FileSystem.readAll(dir.path + "/object"))
    }
    #expect(files.count == 1)
    let dir = TemporaryDirectory(), writer = try ArtifactWriter(path: dir.path + "/object", level: 1, workers: 2)
    try writer.append(table.columns)
    _ = try writer.finish(metadata: table.metadata)
    Self.assertEqual(table, try ArtifactReader(path: dir.path + "/object").table())
  }

  @Test func aNameTwiceInOneAppendIsRefusedBeforeAnythingIsWritten() throws {
    let dir = TemporaryDirectory()
    let writer = try ArtifactWriter(path: dir.path + "/object", level: 1)
    #expect(throws: ArtifactWriteError.self) {
      try writer.append([Column("x", [1, 2] as [Int32]), Column("y", [3, 4] as [Int32]), Column("x", [5, 6] as [Int32])])
    }
    writer.abandon()
    #expect(!FileSystem.exists(dir.path + "/object"))
  }

  @Test func contentChangesChangeTheID() throws {
    let dir = TemporaryDirectory()
    let store = try Store(root: dir.path)
    let a = try store.write(Table([Column("x", [1, 2, 3] as [Int32])]))
    let b = try store.write(Table([Column("x", [1, 2, 4] as [Int32])]))
    let c = try store.write(Table([Column("y", [1, 2, 3] as [Int32])]))
    let d = try store.write(Table([Column("x", [1, 2, 3] as [Int64])]))
    #expect(Set([a.id, b.id, c.id, d.id]).count == 4)
  }

  @Test func flippedByteIsCaughtOnRead() throws {
    let dir = TemporaryDirectory()
    let store = try Store(root: dir.path)
    let manifest = try store.write(Self.everyType(rows: 50_000, seed: 2))
    let path = store.objectPath(manifest.id)
    var bytes = try FileSystem.readAll(path)
    bytes[manifest.columns[3].buffers[0].chunks[0].offset + 20] ^= 0x40
    try FileSystem.writeAtomically(bytes, to: path)
    #expect(throws: CorruptObjectError.self) { try store.reader(manifest.id).table() }
  }

  @Test func truncatedObjectIsCaughtOnOpen() throws {
    let dir = TemporaryDirectory()
    let store = try Store(root: dir.path)
    let manifest = try store.write(Self.everyType(rows: 1000, seed: 2))
    let path = store.objectPath(manifest.id)
    let bytes = try FileSystem.readAll(path)
    for cut in [bytes.count - 1, bytes.count / 2, 10, 0] {
      try FileSystem.writeAtomically(Array(bytes.prefix(cut)), to: path)
      #expect(throws: CorruptObjectError.self) { try store.reader(manifest.id) }
    }
  }

  @Test func fileArtifactsKeepTheirBytesAndName() throws {
    let dir = TemporaryDirectory()
    let store = try Store(root: dir.path)
    let manifest = try store.write(Table.file(named: "out.csv", bytes: Array("a,b\n1,2\n".utf8)))
    let back = try store.reader(manifest.id).table()
    #expect(back.kind == .file)
    #expect(back.metadata["filename"] == "out.csv")
    #expect(String(decoding: try back.column("bytes").values(UInt8.self), as: UTF8.self) == "a,b\n1,2\n")
  }

  /// A file of several batches of chunks and a short last chunk comes out whole; a damaged chunk
  /// leaves nothing at the path.
  @Test func fileArtifactsAreWrittenOutAFewChunksAtATime() throws {
    let dir = TemporaryDirectory()
    let store = try Store(root: dir.path)
    let count = 5 * Manifest.chunkBytes + 12_345
    let bytes = [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
      var state: UInt64 = 7
      for i in 0..<count {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        out[i] = UInt8(truncatingIfNeeded: state >> 58)
      }
      initialized = count
    }
    let manifest = try store.write(Table.file(named: "big.bin", bytes: bytes))
    for workers in [1, 2] {
      try store.reader(manifest.id).writeFile(to: dir.path + "/out\(workers).bin", workers: workers)
      #expect(try FileSystem.readAll(dir.path + "/out\(workers).bin") == bytes)
    }
    let object = store.objectPath(manifest.id)
    var damaged = try FileSystem.readAll(object)
    damaged[manifest.columns[0].buffers[0].chunks[3].offset + 100] ^= 0x40
    try FileSystem.writeAtomically(damaged, to: object)
    #expect(throws: CorruptObjectError.self) { try store.reader(manifest.id).writeFile(to: dir.path + "/damaged.bin", workers: 1) }
    #expect(try FileSystem.list(dir.path).filter { $0.hasPrefix("damaged") }.isEmpty)
  }
}
