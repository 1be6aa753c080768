import Foundation
import Pipeline
import TestSupport
import Testing

/// The `hmpipe` command as a user types it: spawned as a process, its exit status, stdout and
/// stderr checked.
@Suite struct CLITests {
  struct Result {
    var status: Int32
    var stdout: String
    var stderr: String
  }

  static func hmpipe(_ arguments: [String], in directory: String, environment: [String: String] = [:]) throws -> Result {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable())
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Result(
      status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
      stderr: String(decoding: stderr, as: UTF8.self))
  }

  static func executable() -> String { builtExecutable("hmpipe") }

  /// A folder with a small synthetic pipeline in it.
  static func project(scale: Double = 0.0005) -> TemporaryDirectory {
    let dir = TemporaryDirectory()
    dir.write(
      "p.json",
      """
      {"name": "tiny", "vars": {"scale": \(scale), "seed": 3},
       "stages": [{"name": "data", "kind": "synth", "params": {"scale": "${scale}", "seed": "${seed}", "embedding_dims": 8}}]}
      """)
    return dir
  }

  static func json(_ text: String) throws -> [String: Any] {
    let line = try #require(text.split(separator: "\n").last)
    return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
  }

  static func stages(_ object: [String: Any]) -> [[String: Any]] { object["stages"] as? [[String: Any]] ?? [] }

  @Test func runThenRerunExecutesNothing() throws {
    let dir = Self.project()
    let first = try Self.hmpipe(["run", "p.json", "--json"], in: dir.path)
    #expect(first.status == 0, "\(first.stderr)")
    let ran = Self.stages(try Self.json(first.stdout))
    #expect(ran.map { $0["status"] as? String } == ["ran"])
    let outputs = try #require(ran[0]["outputs"] as? [String: String])
    #expect(
      outputs.keys.sorted() == ["articles", "customers", "image_embeddings", "image_embeddings_ids", "sample_submission", "transactions"])
    #expect(ran[0]["seconds"] is Double)
    let second = try Self.hmpipe(["run", "p.json", "--json"], in: dir.path)
    #expect(Self.stages(try Self.json(second.stdout)).map { $0["status"] as? String } == ["cached"])
    let status = try Self.json(try Self.hmpipe(["status", "p.json", "--json"], in: dir.path).stdout)
    #expect(Self.stages(status).map { $0["state"] as? String } == ["fresh"])
  }

  /// The run record names the BLAS kernel: hmpipe's own choice for this processor, or the user's.
  @Test func runRecordNamesTheBLASKernelAndKeepsTheUsersChoice() throws {
    let dir = Self.project()
    for (environment, expected) in [([String: String](), nil), (["OPENBLAS_CORETYPE": "Prescott"], "Prescott")] {
      let run = try Self.hmpipe(["run", "p.json"], in: dir.path, environment: environment)
      #expect(run.status == 0)
      let runs = try FileSystem.list(dir.path + "/artifacts/runs").sorted()
      let record =
        try JSONSerialization.jsonObject(with: Data(try FileSystem.readAll(dir.path + "/artifacts/runs/" + runs.last!))) as? [String: Any]
      let facts = try #require(record?["environment"] as? [String: String])
      #expect(!(facts["openblas_core"] ?? "").isEmpty)
      if let expected { #expect(facts["openblas_core"] == expected && facts["openblas_coretype_env"] == expected) }
    }
  }

  @Test func statusSaysWhyAStageIsStale() throws {
    let dir = Self.project()
    _ = try Self.hmpipe(["run", "p.json"], in: dir.path)
    let status = try Self.hmpipe(["status", "p.json", "--set", "seed=4", "--json"], in: dir.path)
    let stage = try #require(Self.stages(try Self.json(status.stdout)).first)
    #expect(stage["state"] as? String == "stale")
    #expect(stage["reason"] as? String == "params changed: seed (3 → 4)")
    let rerun = try Self.hmpipe(["run", "p.json", "--set", "seed=4", "--json"], in: dir.path)
    #expect(Self.stages(try Self.json(rerun.stdout)).first?["status"] as? String == "ran")
  }

  @Test func inspectShowsSchemaSizesProvenanceAndHead() throws {
    let dir = Self.project()
    let run = try Self.json(try Self.hmpipe(["run", "p.json", "--json"], in: dir.path).stdout)
    let byStage = try Self.hmpipe(["inspect", "p.json", "data.customers"], in: dir.path)
    #expect(byStage.status == 0, "\(byStage.stderr)")
    for words in ["kind     file", "metadata filename=customers.csv", "made by  stage data (synth@3)", "COLUMN", "bytes", "u8", "figures"] {
      #expect(byStage.stdout.contains(words), "\(words)")
    }
    let id = try #require((Self.stages(run)[0]["outputs"] as? [String: String])?["customers"])
    let byID = try Self.hmpipe(["inspect", String(id.prefix(10))], in: dir.path)
    #expect(byID.status == 0)
    #expect(byID.stdout.contains("artifact \(id)"))
    let missing = try Self.hmpipe(["inspect", "p.json", "data.nothing"], in: dir.path)
    #expect(missing.status != 0 && missing.stderr.contains("stage 'data' has outputs"))
  }

  @Test func dagInThreeFormats() throws {
    let dir = Self.project()
    #expect(try Self.hmpipe(["dag", "p.json"], in: dir.path).stdout.contains("data [synth]"))
    #expect(try Self.hmpipe(["dag", "p.json", "--format", "dot"], in: dir.path).stdout.hasPrefix("digraph"))
    #expect(try Self.hmpipe(["dag", "p.json", "--format", "mermaid"], in: dir.path).stdout.hasPrefix("flowchart LR"))
  }

  /// The shell completion scripts ask the binary for the stage names of the pipeline file on the
  /// command line (`---completion` is how swift-argument-parser's scripts call back).
  @Test func shellCompletionKnowsTheStageNames() throws {
    let dir = Self.project()
    let script = try Self.hmpipe(["--generate-completion-script", "bash"], in: dir.path)
    #expect(script.stdout.contains("---completion run -- --stage"))
    let stages = try Self.hmpipe(
      ["---completion", "run", "--", "--stage", "4", "0", "hmpipe", "run", "p.json", "--stage", ""], in: dir.path)
    let names = Set(stages.stdout.split(separator: "\n").map(String.init))
    let spec = try Self.json(try Self.hmpipe(["status", "p.json", "--json"], in: dir.path).stdout)
    #expect(!names.isEmpty && names == Set(Self.stages(spec).map { $0["name"] as! String }), "\(stages.stdout)")
    let outputs = try Self.hmpipe(
      ["---completion", "export", "--", "positional@1", "3", "0", "hmpipe", "export", "p.json", ""], in: dir.path)
    #expect(outputs.stdout.split(separator: "\n").contains("data.customers"), "\(outputs.stdout)")
  }

  /// `runs` lists a pipeline's runs newest first, with what ran and each run's --set variant.
  @Test func runsListsTheHistoryWithVariants() throws {
    let dir = Self.project()
    _ = try Self.hmpipe(["run", "p.json"], in: dir.path)
    _ = try Self.hmpipe(["run", "p.json", "--set", "seed=4"], in: dir.path)
    _ = try Self.hmpipe(["run", "p.json", "--set", "seed=4"], in: dir.path)
    let table = try Self.hmpipe(["runs", "p.json"], in: dir.path)
    #expect(table.status == 0, "\(table.stderr)")
    let lines = table.stdout.split(separator: "\n").map(String.init)
    #expect(lines.count == 4 && lines[0].hasPrefix("WHEN"), "\(table.stdout)")
    // Newest first: cached seed=4, ran seed=4, ran with the file's values.
    #expect(lines[1].contains("seed=4") && lines[2].contains("seed=4") && lines[3].hasSuffix("-"), "\(table.stdout)")
    let json = try JSONSerialization.jsonObject(
      with: Data(try Self.hmpipe(["runs", "p.json", "--json", "--limit", "2"], in: dir.path).stdout.utf8))
    let runs = try #require((json as? [String: Any])?["runs"] as? [[String: Any]])
    #expect(runs.count == 2 && (runs[0]["variables"] as? [String: String]) == ["seed": "4"])
    #expect(
      Self.stages(runs[0]).map { $0["status"] as? String } == ["cached"] && Self.stages(runs[1]).map { $0["status"] as? String } == ["ran"])
  }

  /// `diff` sets two runs side by side: the --set value that changed, the outputs it changed, and
  /// the figures that moved.
  @Test func diffShowsWhatChangedBetweenTwoRuns() throws {
    let dir = Self.project()
    _ = try Self.hmpipe(["run", "p.json"], in: dir.path)
    _ = try Self.hmpipe(["run", "p.json", "--set", "scale=0.0006"], in: dir.path)
    let result = try Self.hmpipe(["diff", "p.json", "--json"], in: dir.path)
    #expect(result.status == 0, "\(result.stderr)")
    let diff = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    let variables = try #require(diff["variables"] as? [[String: Any]])
    #expect(variables.count == 1 && variables[0]["name"] as? String == "scale" && variables[0]["b"] as? String == "0.0006")
    #expect(variables[0]["a"] is NSNull)
    let stages = try #require(diff["stages"] as? [[String: Any]])
    #expect(stages.map { $0["outputs"] as? String } == ["changed"])
    let figures = try #require(diff["figures"] as? [[String: Any]])
    #expect(figures.contains { $0["stage"] as? String == "data" && $0["figure"] as? String == "transactions" }, "\(result.stdout)")
    let same = try Self.hmpipe(["diff", "p.json", "--a", "1", "--b", "1"], in: dir.path)
    #expect(same.stdout.contains("same --set values, pipeline file and machine") && same.stdout.contains("no figure changed"))
    let missing = try Self.hmpipe(["diff", "p.json", "--a", "5"], in: dir.path)
    #expect(missing.status == 64 && missing.stderr.contains("--a 5: p.json has 2 recorded runs"), "\(missing.stderr)")
  }

  @Test func exportWritesAFileArtifactsBytes() throws {
    let dir = Self.project()
    _ = try Self.hmpipe(["run", "p.json"], in: dir.path)
    let csv = try Self.hmpipe(["export", "p.json", "data.articles", "--out", "articles.csv"], in: dir.path)
    #expect(csv.status == 0, "\(csv.stderr)")
    let text = try String(contentsOfFile: dir.path + "/articles.csv", encoding: .utf8)
    #expect(text.hasPrefix("article_id,product_code,prod_name"))
    _ = try Self.hmpipe(["export", "p.json", "data.image_embeddings", "--format", "npy", "--out", "e.npy"], in: dir.path)
    #expect(try FileSystem.readAll(dir.path + "/e.npy").starts(with: [0x93] + Array("NUMPY".utf8)))
  }

  @Test func verifyCatchesAFlippedByteAndTheNextRunRecomputes() throws {
    let dir = Self.project()
    let run = try Self.json(try Self.hmpipe(["run", "p.json", "--json"], in: dir.path).stdout)
    #expect(try Self.hmpipe(["verify", "--deep"], in: dir.path).stdout.contains("all sound"))
    let id = try #require((Self.stages(run)[0]["outputs"] as? [String: String])?["transactions"])
    let path = "\(dir.path)/artifacts/objects/\(id.prefix(2))/\(id)"
    var bytes = try FileSystem.readAll(path)
    bytes[bytes.count / 3] ^= 0x10
    try FileSystem.writeAtomically(bytes, to: path)
    let verify = try Self.hmpipe(["verify"], in: dir.path)
    #expect(verify.status == 1)
    #expect(verify.stdout.contains("damaged: \(id.prefix(12))"))
    let again = try Self.json(try Self.hmpipe(["run", "p.json", "--json"], in: dir.path).stdout)
    #expect(Self.stages(again).first?["status"] as? String == "ran")
    #expect(try Self.hmpipe(["verify", "--deep"], in: dir.path).status == 0)
  }

  @Test func gcDryRunKeepsEverything() throws {
    let dir = Self.project()
    _ = try Self.hmpipe(["run", "p.json"], in: dir.path)
    _ = try Self.hmpipe(["run", "p.json", "--set", "seed=5"], in: dir.path)
    let dry = try Self.hmpipe(["gc", "p.json", "--keep-runs", "0", "--dry-run"], in: dir.path)
    #expect(dry.stdout.contains("would delete 6 artifacts"), "\(dry.stdout)")
    let real = try Self.hmpipe(["gc", "p.json", "--keep-runs", "0"], in: dir.path)
    #expect(real.stdout.contains("deleted 6 artifacts"))
    #expect(try Self.hmpipe(["status", "p.json"], in: dir.path).stdout.contains("fresh"))
  }

  @Test func badPipelineFileIsOneClearSentenceAndAFailure() throws {
    let dir = TemporaryDirectory()
    dir.write("bad.json", #"{"stages": [{"name": "data", "kind": "synth", "params": {"scale": "big"}}]}"#)
    let result = try Self.hmpipe(["run", "bad.json"], in: dir.path)
    #expect(result.status != 0)
    #expect(result.stderr.contains("bad.json: stages[0].params.scale: must be a number but is a string (\"big\")"))
    #expect(!FileSystem.exists(dir.path + "/artifacts/objects"), "nothing is written for a bad file")
  }

  @Test func synthIsByteIdenticalWhateverTheThreadCount() throws {
    let dir = TemporaryDirectory()
    for threads in ["1", "2"] {
      let result = try Self.hmpipe(
        ["synth", "out\(threads)", "--scale", "0.002", "--embedding-dims", "16"], in: dir.path,
        environment: ["HMPIPE_THREADS": threads])
      #expect(result.status == 0, "\(result.stderr)")
    }
    for name in [
      "articles.csv", "customers.csv", "transactions_train.csv", "sample_submission.csv", "image_embeddings.npy",
      "image_embeddings_ids.npy",
    ] {
      #expect(try FileSystem.readAll("\(dir.path)/out1/\(name)") == FileSystem.readAll("\(dir.path)/out2/\(name)"), "\(name)")
    }
  }

  /// The shipped demo pipelines, synth to submission, with 1 and with 2 threads (ours and
  /// OpenBLAS's; XGBoost's are a stage param): every stage's every output has the same content id.
  @Test(arguments: [("demo.json", 11, "submission-holdout7.csv"), ("demo-ranker.json", 41, "submission-ranker-holdout7.csv")])
  func demoPipelineIsIdenticalWhateverTheThreadCount(file: String, stageCount: Int, submission: String) throws {
    let dir = TemporaryDirectory()
    let demo = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .appendingPathComponent("../../pipelines/" + file).standardizedFileURL.path
    var outputs: [[String: [String: String]]] = []
    for threads in ["1", "2"] {
      let result = try Self.hmpipe(
        ["run", demo, "--store", "store\(threads)", "--set", "output=\(dir.path)/out\(threads)", "--publish-outside-project", "--json"],
        in: dir.path, environment: ["HMPIPE_THREADS": threads, "OPENBLAS_NUM_THREADS": threads])
      #expect(result.status == 0, "\(result.stderr)")
      let stages = Self.stages(try Self.json(result.stdout))
      #expect(stages.count == stageCount)
      outputs.append(Dictionary(uniqueKeysWithValues: stages.map { ($0["name"] as! String, $0["outputs"] as! [String: String]) }))
    }
    #expect(outputs[0] == outputs[1])
    #expect(
      try FileSystem.readAll(dir.path + "/out1/" + submission) == FileSystem.readAll(dir.path + "/out2/" + submission))
    // Run again, all cached: the closing lines still give the result and its verdict.
    let again = try Self.hmpipe(
      ["run", demo, "--store", "store1", "--set", "output=\(dir.path)/out1", "--publish-outside-project"], in: dir.path,
      environment: ["HMPIPE_THREADS": "1"])
    #expect(again.stderr.contains("0 ran, \(stageCount) cached"), "\(again.stderr)")
    #expect(again.stderr.contains("× popularity (") && again.stderr.contains(" customers: "), "\(again.stderr)")
  }

  @Test func interruptLeavesTheStoreConsistent() throws {
    let dir = Self.project(scale: 0.05)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Self.executable())
    process.arguments = ["run", "p.json"]
    process.currentDirectoryURL = URL(fileURLWithPath: dir.path)
    let log = dir.path + "/stderr.txt"
    _ = FileManager.default.createFile(atPath: log, contents: nil)
    process.standardError = FileHandle(forWritingAtPath: log)
    try process.run()
    // Let it get into the stage, then Ctrl-C.
    var waited = 0
    while waited < 200 && !FileSystem.exists(dir.path + "/artifacts/tmp") {
      usleep(20_000)
      waited += 1
    }
    usleep(800_000)
    kill(process.processIdentifier, SIGINT)
    process.waitUntilExit()
    #expect(process.terminationStatus == 130 || process.terminationStatus == 0)
    let store = try Store(root: dir.path + "/artifacts")
    if process.terminationStatus == 130 {
      #expect(store.allCacheKeys().isEmpty)
      // What it says is what it does: the stage in flight stops, and is reported as interrupted.
      let said = String(decoding: try FileSystem.readAll(log), as: UTF8.self)
      #expect(said.contains("each running stage stops at its next checkpoint"), "\(said)")
      #expect(said.contains("interrupted: stopped before finishing") && !said.contains("FAILED"), "\(said)")
      #expect(said.contains("cached, 1 interrupted") && !said.contains(" failed"), "\(said)")
    }
    #expect(Maintenance.verify(store: store, deep: false).damaged.isEmpty)
    let lock = try FileSystem.readAll(dir.path + "/artifacts/lock")
    #expect(lock.isEmpty, "an interrupted run releases the lock")
  }
}
