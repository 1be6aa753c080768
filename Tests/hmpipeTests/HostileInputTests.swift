import Foundation
import Pipeline
import TestSupport
import Testing

/// What a hostile or unlucky user hands the command: each gets one sentence and a usage (64) or
/// failure (1) exit, never a crash, a hang or a write outside the store.
@Suite struct HostileInputTests {
  static func shell(_ script: String, in directory: String) throws -> CLITests.Result {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/bash")
    process.arguments = ["-c", script]
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    process.environment = ProcessInfo.processInfo.environment.merging(["HMPIPE": CLITests.executable()]) { _, new in new }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile(), stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return CLITests.Result(
      status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
  }

  /// 2 GiB of zeros in under 200 KB: `verify --deep` checks it with 1 GB of address space, one
  /// chunk at a time (reading it whole would need the 2 GiB), and still finds the flipped object.
  @Test func decompressionBombIsVerifiedInBoundedMemory() throws {
    let dir = CLITests.project()
    #expect(try CLITests.hmpipe(["run", "p.json"], in: dir.path).status == 0)
    let store = try Store(root: dir.path + "/artifacts")
    let one = try store.write(Table([Column("z", [UInt8](repeating: 0, count: Manifest.chunkBytes))])).id
    var surgery = try ObjectSurgery(store.objectPath(one))
    let frame = Array(surgery.data[8...]), copies = 512
    surgery.data = Array(surgery.data[0..<8]) + (0..<copies).flatMap { _ in frame }
    let template = surgery.chunks[0]
    surgery.chunks = (0..<copies).map { n in
      var chunk = template
      chunk["offset"] = 8 + n * frame.count
      return chunk
    }
    surgery.setBuffer(0, "count", copies * Manifest.chunkBytes)
    surgery.manifest["rows"] = copies * Manifest.chunkBytes
    try surgery.write(to: store.objectPath(one))
    #expect(try FileSystem.readAll(store.objectPath(one)).count < 200_000)
    let victim = try #require(store.allObjects().first { $0 != one })
    var bytes = try FileSystem.readAll(store.objectPath(victim))
    bytes[bytes.count / 2] ^= 0x40
    try FileSystem.writeAtomically(bytes, to: store.objectPath(victim))

    let verify = try Self.shell("ulimit -v 1000000; exec \"$HMPIPE\" verify --deep --store artifacts", in: dir.path)
    #expect(verify.status == 1, "\(verify.stderr)")
    #expect(verify.stdout.contains("damaged: \(one.short): ") && verify.stdout.contains("content id recomputes"), "\(verify.stdout)")
    #expect(verify.stdout.contains("damaged: \(victim.short): "), "the ordinary damage is still found")
  }

  /// Links planted in the store never make a run delete or write what they point to.
  @Test(arguments: ["tmp/x", "tmp", "lock"])
  func plantedLinksTouchNothingOutside(link: String) throws {
    let dir = CLITests.project()
    #expect(try CLITests.hmpipe(["run", "p.json"], in: dir.path).status == 0)
    let outside = TemporaryDirectory()
    let precious = outside.write("precious.txt", "keep me")
    let target = link == "lock" ? precious : outside.path
    if link == "tmp" { FileSystem.removeTree(dir.path + "/artifacts/tmp") }
    if link == "lock" { FileSystem.remove(dir.path + "/artifacts/lock") }
    #expect(symlink(target, dir.path + "/artifacts/" + link) == 0)
    let run = try CLITests.hmpipe(["run", "p.json"], in: dir.path)
    #expect(try String(contentsOfFile: precious, encoding: .utf8) == "keep me", "\(link): \(run.stderr)")
    if link != "tmp/x" {
      #expect(run.status == 1)
      #expect(run.stderr.contains(link == "tmp" ? "tmp/ is a symbolic link" : "lock"), "\(run.stderr)")
    } else {
      #expect(run.status == 0, "\(run.stderr)")
      #expect(!FileSystem.exists(dir.path + "/artifacts/tmp/x"), "the link itself is cleared")
    }
  }

  /// Files that never end, or are not files: refused in one sentence, at once.
  @Test func nonRegularFilesAreRefused() throws {
    let dir = CLITests.project()
    let zero = try CLITests.hmpipe(["run", "/dev/zero"], in: dir.path)
    #expect(zero.status == 1 && zero.stderr.contains("/dev/zero: is not a regular file"), "\(zero.stderr)")
    dir.write("extends.json", #"{"extends": "/dev/zero", "stages": []}"#)
    let extends = try CLITests.hmpipe(["run", "extends.json"], in: dir.path)
    #expect(extends.status == 1 && extends.stderr.contains("is not a regular file"), "\(extends.stderr)")
    dir.write(
      "input.json",
      """
      {"stages": [{"name": "ingest", "kind": "ingest", "inputs": {"articles": "file:/dev/zero", "customers": "file:/dev/zero",
        "transactions": "file:/dev/zero"}}]}
      """)
    let input = try CLITests.hmpipe(["run", "input.json"], in: dir.path)
    #expect(input.status == 1 && input.stderr.contains("/dev/zero is not a regular file"), "\(input.stderr)")
    try FileSystem.writeAtomically([UInt8](repeating: 0x20, count: 17 << 20), to: dir.path + "/huge.json")
    let huge = try CLITests.hmpipe(["run", "huge.json"], in: dir.path)
    #expect(huge.status == 1 && huge.stderr.contains("a pipeline file is at most 16 MiB"), "\(huge.stderr)")
  }

  /// A misspelt name of 30,000 characters gets its error at once, with no suggestion search.
  @Test func longMisspeltNamesAreAnsweredAtOnce() throws {
    let dir = CLITests.project()
    let long = String(repeating: "x", count: 30_000)
    dir.write(
      "long.json",
      #"{"stages": [{"name": "\#(long)", "kind": "synth"}, {"name": "b", "kind": "ingest", "inputs": {"articles": "\#(long)y.articles", "customers": "\#(long).customers", "transactions": "\#(long).transactions"}}]}"#
    )
    let started = Date()
    let run = try CLITests.hmpipe(["status", "long.json"], in: dir.path)
    #expect(run.status == 1, "\(run.stderr.prefix(300))")
    #expect(Date().timeIntervalSince(started) < 5)
  }

  /// The command line at fault is a usage error (64), not a failed run (1).
  @Test func unknownNamesOnTheCommandLineAreUsageErrors() throws {
    let dir = CLITests.project()
    let set = try CLITests.hmpipe(["run", "p.json", "--set", "nope=1"], in: dir.path)
    #expect(set.status == 64 && set.stderr.contains("--set names 'nope'"), "\(set.stderr)")
    let stage = try CLITests.hmpipe(["run", "p.json", "--stage", "nope"], in: dir.path)
    #expect(stage.status == 64 && stage.stderr.contains("--stage names 'nope', which is not a stage"), "\(stage.stderr)")
    let gc = try CLITests.hmpipe(["gc", "p.json", "--set", "nope=1", "--dry-run"], in: dir.path)
    #expect(gc.status == 64, "\(gc.stderr)")
  }

  /// gc with the --set of a variant keeps that variant's outputs, which status calls fresh.
  @Test func gcWithSetKeepsTheVariant() throws {
    let dir = CLITests.project()
    #expect(try CLITests.hmpipe(["run", "p.json", "--set", "seed=4"], in: dir.path).status == 0)
    let gc = try CLITests.hmpipe(["gc", "p.json", "--set", "seed=4", "--keep-runs", "0"], in: dir.path)
    #expect(gc.status == 0 && gc.stdout.contains("deleted 0 artifacts"), "\(gc.stdout) \(gc.stderr)")
    let status = try CLITests.hmpipe(["status", "p.json", "--set", "seed=4", "--json"], in: dir.path)
    #expect(status.stdout.contains(#""state":"fresh""#), "\(status.stdout)")
    let plain = try CLITests.hmpipe(["gc", "p.json", "--keep-runs", "0"], in: dir.path)
    #expect(plain.stdout.contains("deleted 6 artifacts"), "without --set the variant is not kept: \(plain.stdout)")
  }

  /// Read-only commands pointed at a folder that is not a store create nothing in it.
  @Test func inspectAndVerifyRefuseAFolderThatIsNotAStore() throws {
    let dir = TemporaryDirectory()
    dir.write("notes.txt", "mine")
    for command in [["verify", "--store", dir.path], ["inspect", "abcd1234", "--store", dir.path]] {
      let result = try CLITests.hmpipe(command, in: dir.path)
      #expect(result.status != 0 && result.stderr.contains("is not an hmpipe store"), "\(command[0]): \(result.stderr)")
    }
    #expect(try FileSystem.list(dir.path) == ["notes.txt"])
  }

  /// Leftovers of writes killed half-way are removed by the next run; a lock record naming a live
  /// process that does not hold the lock is not reported as a crashed run.
  @Test func partialFilesAreClearedAndALiveStrangerIsNotACrash() throws {
    let dir = CLITests.project()
    #expect(try CLITests.hmpipe(["run", "p.json"], in: dir.path).status == 0)
    let partial = dir.write("artifacts/runs/x.json.partial-999999-0", "{")
    dir.write("artifacts/cache/y.json.partial-999999-1", "{")
    dir.write("artifacts/lock", #"{"pid": 1, "command": "init", "since": 0}"#)
    let run = try CLITests.hmpipe(["run", "p.json"], in: dir.path)
    #expect(run.status == 0, "\(run.stderr)")
    #expect(!FileSystem.exists(partial) && !FileSystem.exists(dir.path + "/artifacts/cache/y.json.partial-999999-1"))
    #expect(!run.stderr.contains("no longer running"), "\(run.stderr)")
  }

  /// A pipeline file cannot make publish write outside its project unless it says so.
  @Test func publishStaysInsideTheProjectUnlessTheFileSaysOtherwise() throws {
    let dir = CLITests.project()
    let outside = TemporaryDirectory()
    let stages =
      #"[{"name": "data", "kind": "synth", "params": {"scale": 0.0005, "seed": 3, "embedding_dims": 8}, "publish": {"sample_submission": "\#(outside.path)/evil.csv"}}]"#
    dir.write("evil.json", #"{"stages": \#(stages)}"#)
    let refused = try CLITests.hmpipe(["run", "evil.json"], in: dir.path)
    #expect(refused.status == 1 && refused.stderr.contains("is outside the project (\(dir.path))"), "\(refused.stderr)")
    #expect(try FileSystem.list(outside.path).isEmpty)
    dir.write("meant.json", #"{"publish_outside_project": true, "stages": \#(stages)}"#)
    #expect(try CLITests.hmpipe(["run", "meant.json"], in: dir.path).status == 0)
    #expect(FileSystem.exists(outside.path + "/evil.csv"))
  }

  /// A `.npy` header that claims an enormous shape is a sentence about the file, not an overflow.
  @Test func npyWithAHugeShapeIsRefused() throws {
    let dir = CLITests.project()
    let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775807, 4), }"
    var padded = header
    while (10 + padded.utf8.count + 1) % 64 != 0 { padded += " " }
    padded += "\n"
    let npy =
      [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(padded.utf8.count & 0xff), UInt8(padded.utf8.count >> 8)] + Array(padded.utf8) + [
        0, 0, 0, 0,
      ]
    try FileSystem.writeAtomically(npy, to: dir.path + "/emb.npy")
    dir.write(
      "knn.json",
      """
      {"stages": [{"name": "data", "kind": "synth", "params": {"scale": 0.0005, "seed": 3, "embedding_dims": 8}},
        {"name": "ingest", "kind": "ingest", "inputs": {"articles": "data.articles", "customers": "data.customers", "transactions": "data.transactions"}},
        {"name": "knn", "kind": "embed-neighbours", "inputs": {"articles": "ingest.articles", "embeddings": "file:emb.npy", "embedding_ids": "data.image_embeddings_ids"}}]}
      """)
    let run = try CLITests.hmpipe(["run", "knn.json"], in: dir.path)
    #expect(
      run.status == 1 && run.stderr.contains("emb.npy: holds 4 data bytes, its shape (9223372036854775807, 4) needs more than exist"),
      "\(run.stderr)")
  }
}
