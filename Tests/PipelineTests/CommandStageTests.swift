import Foundation
import Pipeline
import Testing

@testable import pipeline_toy

/// The `command` stage kind: a program (here `sh`) as a cached stage with all of hmpipe's
/// guarantees: cache, deps in the key, early cutoff, nothing kept from a failure, no stray process.
@Suite struct CommandStageTests {
  /// `make` writes its dep script's output; `copy` copies make's file (downstream, for cutoff).
  static func pipeline(_ make: String, extra: String = "") -> String {
    """
    {"name": "cmd", "store": "store",
     "stages": [
      {"name": "make", "kind": "command",
       "params": {"run": ["sh", "${deps.script}", "${outputs.out}"], "deps": {"script": "make.sh"}, "outputs": {"out": "file"}\(extra)}},
      {"name": "copy", "kind": "command", "inputs": {"text": "make.out"},
       "params": {"run": ["sh", "-c", "cp \\"$0\\" \\"$1\\"", "${inputs.text}", "${outputs.copy}"], "outputs": {"copy": "file"}}}
     ]}
    """
  }

  /// Whether `condition` comes true within `seconds`, polled without blocking a thread.
  static func eventually(seconds: Double, _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < deadline {
      if condition() { return true }
      try? await Task.sleep(for: .milliseconds(20))
    }
    return condition()
  }

  static func objects(_ dir: TemporaryDirectory) -> [ArtifactID] { (try? Store(root: dir.path + "/store").allObjects()) ?? [] }

  @Test func cachedOnTheSecondRunRerunByADepAndCutOffByAnIdenticalOutput() async throws {
    let dir = TemporaryDirectory()
    dir.write("make.sh", "echo one > \"$1\"\n")
    let path = dir.write("p.json", Self.pipeline(""))
    let first = try await runToy(path)
    #expect(statuses(first) == ["make": .ran, "copy": .ran], "\(first.stages.map { $0.error ?? "" })")
    #expect(statuses(try await runToy(path)) == ["make": .cached, "copy": .cached])
    // A comment changes the script, not what it writes: make reruns, copy is cut off.
    dir.write("make.sh", "# a comment\necho one > \"$1\"\n")
    let edited = try await runToy(path)
    #expect(statuses(edited) == ["make": .ran, "copy": .cached])
    #expect(edited.stages[0].reason == "input changed: deps.script")
    dir.write("make.sh", "echo two > \"$1\"\n")
    #expect(statuses(try await runToy(path)) == ["make": .ran, "copy": .ran])
  }

  @Test func aFailedCommandKeepsNothingAndSaysWhy() async throws {
    for (script, message) in [
      ("echo bad input >&2; exit 3", "exited with status 3; its last stderr lines: bad input"),
      ("echo fine", "did not write it"),
    ] {
      let dir = TemporaryDirectory()
      dir.write("make.sh", script + "\n")
      let path = dir.write("p.json", Self.pipeline(""))
      let record = try await runToy(path)
      #expect(statuses(record) == ["make": .failed, "copy": .skipped])
      #expect(record.stages[0].error?.contains(message) == true, "\(record.stages[0].error ?? "")")
      #expect(record.stages[0].log?.contains(script.hasPrefix("echo bad") ? "stderr: bad input" : "fine") == true, "kept in the run record")
      #expect(Self.objects(dir).isEmpty, "no object")
      #expect(try Store(root: dir.path + "/store").allCacheKeys().isEmpty, "no cache entry")
      #expect((try FileSystem.list(dir.path + "/store/tmp")).isEmpty, "the working folder is gone")
    }
  }

  @Test func aTimeoutKillsTheWholeProcessGroup() async throws {
    let dir = TemporaryDirectory()
    // The script starts a background sleeper, records its pid, and waits.
    dir.write("make.sh", "sleep 60 & echo $! > \(dir.path)/sleeper.pid; wait\n")
    let path = dir.write("p.json", Self.pipeline("", extra: ", \"timeout\": 1"))
    let record = try await runToy(path)
    #expect(record.stages[0].error?.contains("was stopped after its timeout of 1.00s") == true, "\(record.stages[0].error ?? "")")
    let sleeper = try #require(Int32(contents(dir.path + "/sleeper.pid").trimmingCharacters(in: .whitespacesAndNewlines)))
    #expect(await Self.eventually(seconds: 5) { kill(sleeper, 0) != 0 }, "the background process is killed with its group")
    #expect(Self.objects(dir).isEmpty)
  }

  @Test func interruptionStopsTheCommandAndKeepsNothing() async throws {
    let dir = TemporaryDirectory()
    dir.write("make.sh", "sleep 60 & echo $! > \(dir.path)/sleeper.pid; wait\n")
    let path = dir.write("p.json", Self.pipeline(""))
    let spec = try PipelineLoader(registry: ToyStages.registry).load(path)
    let cancellation = CancellationFlag()
    let runner = Runner(spec: spec, store: try Store(root: spec.storePath), options: RunOptions(jobs: 2), cancellation: cancellation)
    // A thread of its own presses Ctrl-C once the command runs: the run itself needs the
    // cooperative threads, which other tests may hold for a while.
    let pidFile = dir.path + "/sleeper.pid"
    Thread {
      if waitUntil(seconds: 600, { !contents(pidFile).isEmpty }) { cancellation.cancel() }
    }.start()
    let record = try await runner.run()
    #expect(record.stages[0].status == .failed && record.stages[0].error == CancelledError().description)
    let sleeper = try #require(Int32(contents(dir.path + "/sleeper.pid").trimmingCharacters(in: .whitespacesAndNewlines)))
    #expect(await Self.eventually(seconds: 5) { kill(sleeper, 0) != 0 }, "Ctrl-C kills the command's group")
    #expect(Self.objects(dir).isEmpty)
  }

  @Test func killingHmpipeMidCommandLeavesNoProcessNoObjectNoEntry() throws {
    let dir = TemporaryDirectory()
    dir.write("make.sh", "sleep 60 & echo $! > \(dir.path)/sleeper.pid; echo $$ > \(dir.path)/shell.pid; wait\n")
    let path = dir.write("p.json", Self.pipeline(""))
    let toy = try startToy(["run", path], in: dir.path, tag: "run")
    #expect(waitUntil(seconds: 20) { !contents(dir.path + "/sleeper.pid").isEmpty && !contents(dir.path + "/shell.pid").isEmpty })
    kill(toy.processIdentifier, SIGKILL)
    toy.waitUntilExit()
    for file in ["sleeper.pid", "shell.pid"] {
      let pid = try #require(Int32(contents(dir.path + "/" + file).trimmingCharacters(in: .whitespacesAndNewlines)))
      #expect(waitUntil(seconds: 5) { kill(pid, 0) != 0 }, "\(file): still running after hmpipe was killed")
    }
    #expect(Self.objects(dir).isEmpty)
    #expect(try Store(root: dir.path + "/store").allCacheKeys().isEmpty)
  }

  @Test func onlyDeclaredOutputsAreKeptAndInputsAreReadOnly() async throws {
    let dir = TemporaryDirectory()
    dir.write("make.sh", "echo extra > stray.txt; mkdir -p junk; echo x > junk/y; echo kept > \"$1\"\n")
    let path = dir.write("p.json", Self.pipeline(""))
    let record = try await runToy(path)
    #expect(statuses(record) == ["make": .ran, "copy": .ran])
    let made = try #require(record.stages[0].outputs["out"])
    #expect(Self.objects(dir).count == 2, "make's and copy's outputs; the stray files are not kept")
    #expect((try FileSystem.list(dir.path + "/store/tmp")).isEmpty)

    // A downstream command gets a file artifact as its bytes under its name, not the object.
    #expect(
      String(
        decoding: try Store(root: dir.path + "/store").reader(try #require(record.stages[1].outputs["copy"])).table()
          .column("bytes").values(UInt8.self), as: UTF8.self) == "kept\n")

    // A command that writes into a table input (the store's object) fails, and the damaged object
    // leaves the store.
    let vandal = dir.write(
      "vandal.json",
      """
      {"name": "vandal", "store": "store", "stages": [
        {"name": "source", "kind": "toy-source", "params": {"count": 10}},
        {"name": "scribble", "kind": "command", "inputs": {"numbers": "source.numbers"},
         "params": {"run": ["sh", "-c", "echo more >> \\"$0\\"; : > \\"$1\\"", "${inputs.numbers}", "${outputs.o}"], "outputs": {"o": "file"}}}]}
      """)
    let damaged = try await runToy(vandal)
    #expect(statuses(damaged)["scribble"] == .failed)
    #expect(damaged.stages[1].error?.contains("changed this input in place") == true, "\(damaged.stages[1].error ?? "")")
    let source = try #require(damaged.stages[0].outputs["numbers"])
    #expect(!Self.objects(dir).contains(source), "the changed object was quarantined")
    #expect(statuses(try await runToy(vandal))["source"] == .ran, "and its producer runs again")
    _ = made
  }

  /// A folder output is a tar archive of exactly its files, the same bytes whenever the files are
  /// the same, handed to a downstream command as a `.tar` that `tar` unpacks.
  @Test func aFolderOutputIsADeterministicTarArchive() async throws {
    let dir = TemporaryDirectory()
    let pipeline = #"""
      {"name": "folder", "store": "store", "stages": [
        {"name": "make", "kind": "command",
         "params": {"run": ["sh", "-c", "mkdir -p \"$0/b\" && echo one > \"$0/b/c.txt\" && printf two > \"$0/a.txt\" && sleep $1", "${outputs.dir}", "SLEEP"],
                    "outputs": {"dir": "folder"}}},
        {"name": "unpack", "kind": "command", "inputs": {"dir": "make.dir"},
         "params": {"run": ["sh", "-c", "tar -xf \"$0\" && cat a.txt b/c.txt > \"$1\" && tar -tf \"$0\" >> \"$1\"", "${inputs.dir}", "${outputs.listing}"],
                    "outputs": {"listing": "file"}}}]}
      """#
    let first = try await runToy(dir.write("p.json", pipeline.replacingOccurrences(of: "SLEEP", with: "0")))
    #expect(statuses(first) == ["make": .ran, "unpack": .ran], "\(first.stages.map { $0.error ?? "" })")
    let listing = try Store(root: dir.path + "/store").reader(try #require(first.stages[1].outputs["listing"])).table()
    #expect(String(decoding: try listing.column("bytes").values(UInt8.self), as: UTF8.self) == "twoone\na.txt\nb/\nb/c.txt\n")
    // Written again a second later (other file times): the same archive, so unpack is cut off.
    let second = try await runToy(dir.write("p.json", pipeline.replacingOccurrences(of: "SLEEP", with: "1")))
    #expect(statuses(second) == ["make": .ran, "unpack": .cached])
    #expect(second.stages[0].outputs == first.stages[0].outputs)
  }

  @Test func badDeclarationsAreOneSentenceNamingTheParam() throws {
    let dir = TemporaryDirectory()
    for (params, message) in [
      (#"{"outputs": {"o": "file"}}"#, "params.run: must name the program"),
      (#"{"run": ["true"]}"#, "params.outputs: must declare at least one output"),
      (#"{"run": ["true"], "outputs": {"o": "parquet"}}"#, #"must be "table", "file" or "folder", not "parquet""#),
      (
        #"{"run": ["x ${inputs.nope}"], "outputs": {"o": "file"}, "timeout": -1}"#,
        "params.timeout: must be 0 (none) or a number of seconds"
      ),
    ] {
      let path = dir.write(
        "bad.json", #"{"name": "b", "store": "store", "stages": [{"name": "c", "kind": "command", "params": \#(params)}]}"#)
      #expect(throws: PipelineFileError.self) { try PipelineLoader(registry: ToyStages.registry).load(path) }
      do { _ = try PipelineLoader(registry: ToyStages.registry).load(path) } catch {
        #expect("\(error)".contains(message), "\(error)")
      }
    }
  }
}
