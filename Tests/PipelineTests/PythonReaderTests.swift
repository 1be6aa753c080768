import Foundation
import Pipeline
import Testing

/// The Python reader printed in docs/artifact-format.md loads what the Swift writer wrote, and
/// computes the same content id: the spec and the code agree.
@Suite struct PythonReaderTests {
  static let hasPython: Bool = {
    let probe = Process()
    probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    probe.arguments = ["python3", "-c", "import numpy, zstandard"]
    probe.standardError = FileHandle.nullDevice
    guard (try? probe.run()) != nil else { return false }
    probe.waitUntilExit()
    return probe.terminationStatus == 0
  }()

  /// The first ```python block of the doc.
  static func readerSource() throws -> String {
    var dir = FileSystem.dirname(of: #filePath)
    while !FileSystem.exists(dir + "/docs/artifact-format.md") { dir = FileSystem.dirname(of: dir) }
    let doc = try String(contentsOfFile: dir + "/docs/artifact-format.md", encoding: .utf8)
    let start = try #require(doc.range(of: "```python\n"))
    let end = try #require(doc.range(of: "\n```", range: start.upperBound..<doc.endIndex))
    return String(doc[start.upperBound..<end.lowerBound])
  }

  @Test(.enabled(if: hasPython, "needs python3 with numpy and zstandard (.ci/run installs them)"))
  func documentedReaderLoadsEveryColumnType() throws {
    let dir = TemporaryDirectory()
    let store = try Store(root: dir.path + "/store")
    // 600,000 rows: the 8-byte columns span two chunks.
    let table = ArtifactTests.everyType(rows: 600_000, seed: 5)
    let manifest = try store.write(table)
    let script =
      try Self.readerSource().replacingOccurrences(of: "if __name__ == \"__main__\":", with: "if False:") + """

        m, cols = read_artifact(sys.argv[1])
        out = {"id": m["id"], "rows": m["rows"]}
        for name, v in cols.items():
            if name == "text": data = "\\n".join(v).encode()
            elif name == "list": data = b"".join(r.tobytes() for r in v) + str([len(r) for r in v]).encode()
            else: data = v.tobytes()
            out[name] = hashlib.sha256(data).hexdigest()
        print(json.dumps(out))
        """
    dir.write("reader.py", script)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", dir.path + "/reader.py", store.objectPath(manifest.id)]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
    let parsed = try #require(try JSONSerialization.jsonObject(with: output) as? [String: Any])
    #expect(parsed["id"] as? String == manifest.id.description)
    #expect(parsed["rows"] as? Int == table.rowCount)
    for column in table.columns {
      let expected: Digest
      switch column.type {
      case .string:
        expected = Digest.of((0..<table.rowCount).map { column.string(at: $0) }.joined(separator: "\n"))
      case .list:
        let lengths = "[" + (0..<table.rowCount).map { String(column.range(of: $0).count) }.joined(separator: ", ") + "]"
        expected = Digest.of(Array(column.values.bytes) + Array(lengths.utf8))
      case .scalar:
        expected = Digest.of(Array(column.values.bytes))
      }
      #expect(parsed[column.name] as? String == expected.hex, "\(column.name)")
    }
  }
}
