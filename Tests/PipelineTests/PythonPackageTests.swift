import Foundation
import Pipeline
import Testing

/// The Python package (python/hmpipe) against the Swift reader and writer: it reads every column
/// type the Swift writer writes, recomputes the content id, writes the same table back, and the
/// Swift reader reads that file as the same table with the same id.
@Suite struct PythonPackageTests {
  static let hasPython: Bool = {
    let probe = Process()
    probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    probe.arguments = ["python3", "-c", "import numpy, zstandard"]
    probe.standardError = FileHandle.nullDevice
    guard (try? probe.run()) != nil else { return false }
    probe.waitUntilExit()
    return probe.terminationStatus == 0
  }()

  /// The repository's python/ folder (what `pip install ./python` installs).
  static var packageFolder: String {
    var dir = FileSystem.dirname(of: #filePath)
    while !FileSystem.exists(dir + "/python/hmpipe/__init__.py") { dir = FileSystem.dirname(of: dir) }
    return dir + "/python"
  }

  @Test(.enabled(if: hasPython, "needs python3 with numpy and zstandard (scripts/setup.sh installs them)"))
  func roundTripsEveryColumnTypeWithTheSameID() throws {
    let dir = TemporaryDirectory()
    let store = try Store(root: dir.path + "/store")
    // 600,000 rows: the 8-byte columns span two chunks.
    let table = ArtifactTests.everyType(rows: 600_000, seed: 5)
    let manifest = try store.write(table)
    dir.write(
      "roundtrip.py",
      """
      import json, sys
      sys.path.insert(0, sys.argv[3])
      import hmpipe
      source, target = sys.argv[1:3]
      a = hmpipe.open_artifact(source)
      verified = hmpipe.verify(source)
      columns, sentinels = {}, {}
      for name, c in a.columns.items():
          raw = a.raw_column(name)
          if c["type"] == "string":
              columns[name] = a.column(name)
          elif "offsets" in raw:
              columns[name] = (raw["offsets"], raw["values"])
          else:
              columns[name] = a.column(name)
          if c.get("nullSentinel") is not None:
              sentinels[name] = c["nullSentinel"]
      written = hmpipe.write_table(target, columns, metadata=a.metadata, null_sentinels=sentinels)
      print(json.dumps({"read": a.id, "verified": verified, "written": written, "rows": a.rows,
                        "masked": int(a.column("i32").mask.sum())}))
      """)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [
      "python3", dir.path + "/roundtrip.py", store.objectPath(manifest.id), dir.path + "/python.hma", Self.packageFolder,
    ]
    let out = Pipe()
    process.standardOutput = out
    try process.run()
    let output = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
    let facts = try #require(try JSONSerialization.jsonObject(with: output) as? [String: Any])
    let id = manifest.id.description
    #expect(facts["read"] as? String == id && facts["verified"] as? String == id, "Python recomputes the id")
    #expect(facts["written"] as? String == id, "the same content written from Python has the same id")
    let i32 = try table.column("i32").values(Int32.self)
    #expect(facts["masked"] as? Int == i32.filter { $0 == -1 }.count, "nulls masked")
    let back = try ArtifactReader(path: dir.path + "/python.hma")
    #expect(back.manifest.id == manifest.id)
    ArtifactTests.assertEqual(try back.table(verifyHashes: true), table)
  }
}
