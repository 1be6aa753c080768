import Foundation
import Pipeline
import Testing

@testable import pipeline_toy

/// The Python package (python/hmpipe) against the Swift reader and writer: it reads every column
/// type the Swift writer writes, recomputes the content id, writes the same table back, and the
/// Swift reader reads that file as the same table with the same id.
@Suite struct PythonPackageTests {
  @Test(.enabled(if: Python.isAvailable, "needs python3 with numpy and zstandard (scripts/setup.sh installs them)"))
  func roundTripsEveryColumnTypeWithTheSameID() throws {
    let dir = TemporaryDirectory()
    let store = try Store(root: dir.path + "/store")
    // 600,000 rows: the 8-byte columns span two chunks.
    let table = ArtifactTests.everyType(rows: 600_000, seed: 5)
    let manifest = try store.write(table)
    let script = """
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
      """
    let result = try Python.run(script, [store.objectPath(manifest.id), dir.path + "/python.hma", Python.packageFolder])
    #expect(result.status == 0)
    let facts = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
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

/// A table a command stage writes with the Python package is checked whole and kept with its id;
/// a damaged one fails the stage.
@Suite struct CommandTableOutputTests {
  static func pipeline(corrupt: Bool) -> String {
    let script = """
      import sys; sys.path.insert(0, sys.argv[2])
      import numpy as np, hmpipe
      print(hmpipe.write_table(sys.argv[1], {"value": np.arange(1_500_000, dtype=np.int64), "name": ["x%d" % i for i in range(1_500_000)]}))
      if \(corrupt ? "True" : "False"):
          with open(sys.argv[1], "r+b") as f:
              f.seek(5000); b = f.read(1); f.seek(5000); f.write(bytes([b[0] ^ 1]))
      """
    return """
      {"name": "py", "store": "store", "stages": [
        {"name": "make", "kind": "command",
         "params": {"run": ["python3", "-c", \(JSONValue.string(script).canonical), "${outputs.table}", "\(Python.packageFolder)"],
                    "outputs": {"table": "table"}}}]}
      """
  }

  @Test(.enabled(if: Python.isAvailable, "needs python3 with numpy and zstandard"))
  func aPythonTableIsKeptWithItsIdAndADamagedOneFails() async throws {
    let dir = TemporaryDirectory()
    let record = try await runToy(dir.write("p.json", Self.pipeline(corrupt: false)))
    #expect(statuses(record) == ["make": .ran], "\(record.stages[0].error ?? "")")
    let id = try #require(record.stages[0].outputs["table"])
    #expect(record.stages[0].log?.first == id.description, "the id Python computed is the stored object's")
    let reader = try Store(root: dir.path + "/store").reader(id)
    #expect(reader.manifest.provenance?.stage == "make" && reader.manifest.rows == 1_500_000)
    #expect(try reader.table().column("name").string(at: 1_499_999) == "x1499999")

    let damaged = try await runToy(dir.write("p.json", Self.pipeline(corrupt: true)))
    #expect(statuses(damaged) == ["make": .failed])
    #expect(damaged.stages[0].error?.contains("'table' is a damaged hmpipe table") == true, "\(damaged.stages[0].error ?? "")")
  }
}
