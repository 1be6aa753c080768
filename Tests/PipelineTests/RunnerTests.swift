import Foundation
import Pipeline
import Testing

@testable import pipeline_toy

@Suite struct RunnerTests {
  @Test func unchangedPipelineRunsNothingTheSecondTime() async throws {
    let dir = TemporaryDirectory()
    let path = dir.write("toy.json", toyPipeline())
    let first = try await runToy(path)
    #expect(first.stages.allSatisfy { $0.status == .ran })
    let second = try await runToy(path)
    #expect(second.stages.allSatisfy { $0.status == .cached })
    #expect(second.stages.map(\.outputs) == first.stages.map(\.outputs))
  }

  @Test func changedParamRerunsExactlyThatStageAndItsDependents() async throws {
    let dir = TemporaryDirectory()
    let path = dir.write("toy.json", toyPipeline(max: 50))
    _ = try await runToy(path)
    let record = try await runToy(path, set: ["max": .int(60)])
    #expect(statuses(record) == ["source": .cached, "clamp": .ran, "sum": .ran, "scale": .cached])
    #expect(record.stages.first { $0.name == "clamp" }?.reason == "params changed: max (50 → 60)")
  }

  @Test func earlyCutoffStopsPropagationWhenTheOutputIsUnchanged() async throws {
    let dir = TemporaryDirectory()
    let path = dir.write("toy.json", toyPipeline(count: 100, max: 1000))
    _ = try await runToy(path)
    // Every value is below both caps, so clamp's output (and id) stay the same.
    let record = try await runToy(path, set: ["max": .int(2000)])
    #expect(statuses(record) == ["source": .cached, "clamp": .ran, "sum": .cached, "scale": .cached])
  }

  @Test func stageRerunsOnlyThatStage() async throws {
    let dir = TemporaryDirectory()
    let path = dir.write("toy.json", toyPipeline())
    _ = try await runToy(path)
    let record = try await runToy(path, RunOptions(rerun: "clamp"))
    #expect(statuses(record) == ["source": .cached, "clamp": .ran])
  }

  @Test func forceRerunsTheStageAndWhatChangesDownstream() async throws {
    let dir = TemporaryDirectory()
    let path = dir.write("toy.json", toyPipeline())
    _ = try await runToy(path)
    let record = try await runToy(path, RunOptions(force: "source"))
    // source recomputes the same output, so everything below it stays cached.
    #expect(statuses(record) == ["source": .ran, "clamp": .cached, "sum": .cached, "scale": .cached])
  }

  @Test func untilStopsAfterTheStage() async throws {
    let dir = TemporaryDirectory()
    let path = dir.write("toy.json", toyPipeline())
    let record = try await runToy(path, RunOptions(until: "clamp"))
    #expect(statuses(record) == ["source": .ran, "clamp": .ran])
  }

  @Test func unknownStageNamesAreRejectedWithASuggestion() async throws {
    let dir = TemporaryDirectory()
    let path = dir.write("toy.json", toyPipeline())
    await #expect { try await runToy(path, RunOptions(rerun: "clmap")) } throws: { error in
      "\(error)".contains("no stage 'clmap' (did you mean 'clamp'?)")
    }
  }

  @Test func failureStopsDependentsAndKeepsFinishedResults() async throws {
    let dir = TemporaryDirectory()
    let path = dir.write(
      "fail.json",
      """
      {"store": "store", "stages": [
        {"name": "source", "kind": "toy-source"},
        {"name": "broken", "kind": "toy-fail", "inputs": {"numbers": "source"}},
        {"name": "after", "kind": "toy-sum", "inputs": {"numbers": "broken.nothing"}},
        {"name": "sum", "kind": "toy-sum", "inputs": {"numbers": "source"}}
      ]}
      """)
    let record = try await runToy(path)
    #expect(statuses(record) == ["source": .ran, "broken": .failed, "after": .skipped, "sum": .ran])
    #expect(record.stages.first { $0.name == "broken" }?.error == "toy-fail always fails")
    let again = try await runToy(path)
    #expect(statuses(again) == ["source": .cached, "broken": .failed, "after": .skipped, "sum": .cached])
  }

  @Test func statusSaysWhichPartOfTheKeyChanged() async throws {
    let dir = TemporaryDirectory()
    let path = dir.write("toy.json", toyPipeline(count: 10))
    _ = try await runToy(path)
    let spec = try PipelineLoader(registry: ToyStages.registry, overrides: ["count": .int(11)]).load(path)
    let states = try Runner(spec: spec, store: try Store(root: spec.storePath), options: RunOptions()).status()
    let byName = Dictionary(uniqueKeysWithValues: states.map { ($0.name, $0) })
    #expect(byName["source"]?.state == .stale)
    #expect(byName["source"]?.reason == "params changed: count (10 → 11)")
    #expect(byName["clamp"]?.reason == "upstream stage 'source' is stale")
  }

  @Test func externalFilesEnterTheKeyByContent() async throws {
    let dir = TemporaryDirectory()
    let data = dir.write("data.txt", "one\ntwo\n")
    let path = dir.write(
      "lines.json",
      """
      {"store": "store", "stages": [{"name": "lines", "kind": "toy-lines", "inputs": {"source": "file:data.txt"}}]}
      """)
    #expect(statuses(try await runToy(path)) == ["lines": .ran])
    #expect(statuses(try await runToy(path)) == ["lines": .cached])
    // Same content, new mtime: still cached.
    try FileSystem.writeAtomically(Array("one\ntwo\n".utf8), to: data)
    #expect(statuses(try await runToy(path)) == ["lines": .cached])
    try FileSystem.writeAtomically(Array("one\ntwo\nthree\n".utf8), to: data)
    let changed = try await runToy(path)
    #expect(statuses(changed) == ["lines": .ran])
    #expect(changed.stages[0].reason == "input changed: source")
  }

  @Test func independentStagesRunInParallelAndResultsDoNotDependOnJobs() async throws {
    let one = TemporaryDirectory(), two = TemporaryDirectory()
    let a = try await runToy(one.write("toy.json", toyPipeline(columns: 3)), RunOptions(jobs: 1))
    let b = try await runToy(two.write("toy.json", toyPipeline(columns: 3)), RunOptions(jobs: 4))
    #expect(a.stages.map(\.outputs) == b.stages.map(\.outputs))
  }

  /// Any `ArtifactStore` can be the remote cache, the local disk store too: a second store takes
  /// every stage from it, fetches (checked) what a changed stage reads, and puts back what it ran.
  @Test func aLocalStoreServesAsAnotherStoresRemoteCache() async throws {
    let a = TemporaryDirectory(), b = TemporaryDirectory()
    let first = try await runToy(a.write("toy.json", toyPipeline()))
    let shared = try Store(root: a.path + "/store")
    let spec = try PipelineLoader(registry: ToyStages.registry).load(b.write("toy.json", toyPipeline()))
    let local = try Store(root: spec.storePath, remote: RemoteCache(store: shared))
    let second = try await Runner(spec: spec, store: local, options: RunOptions(jobs: 2)).run()
    #expect(second.stages.allSatisfy { $0.status == .cached && $0.from == "remote" })
    #expect(second.stages.map(\.outputs) == first.stages.map(\.outputs))
    #expect(local.allObjects().isEmpty, "nothing read, nothing fetched")

    let changed = try PipelineLoader(registry: ToyStages.registry, overrides: ["max": .int(10)]).load(spec.path)
    let third = try await Runner(spec: changed, store: local, options: RunOptions(jobs: 2)).run()
    #expect(statuses(third) == ["source": .cached, "clamp": .ran, "sum": .ran, "scale": .cached])
    let source = try #require(first.stages.first { $0.name == "source" }?.outputs["numbers"])
    #expect(local.storedSize(source) == shared.storedSize(source), "clamp's input came from the remote")
    for stage in third.stages where stage.status == .ran {
      for id in stage.outputs.values { #expect(shared.storedSize(id) == local.storedSize(id), "\(stage.name) went up") }
    }
  }

  /// Two stages at once get half the threads each (other tests' stages can only lower it further).
  @Test func stagesRunningTogetherShareTheCores() {
    Parallel.asStage {
      Parallel.asStage {
        #expect(Parallel.share <= max(1, Parallel.coreCount / 2))
        #expect(Parallel.map(chunks: 8) { $0 * $0 } == (0..<8).map { $0 * $0 })
      }
    }
  }

  /// A loop begun beside another stage holds one of two threads; when that stage ends, its thread
  /// joins the loop rather than idling until the loop ends. In a process of its own, so that no other
  /// test's stages change the share.
  @Test func threadOfAStageThatEndsJoinsALoopStillRunning() throws {
    let dir = TemporaryDirectory()
    let path = dir.write(
      "spread.json",
      """
      {"name": "spread", "store": "store", "stages": [
        {"name": "source", "kind": "toy-source", "params": {"columns": 3, "delay_ms": 100}},
        {"name": "spread", "kind": "toy-spread", "params": {"chunks": 400, "chunk_ms": 2}}
      ]}
      """)
    let run = try startToy(["run", path, "--jobs", "2"], in: dir.path, tag: "run", environment: ["HMPIPE_THREADS": "2"])
    run.waitUntilExit()
    let log = contents(dir.path + "/run.err")
    #expect(run.terminationStatus == 0, "\(log)")
    #expect(log.contains("spread: began at a share of 1 of 2 threads"), "\(log)")
    #expect(log.contains("spread: ran on 2 threads, at most 2 at once"), "\(log)")
  }

  @Test func damagedInputIsRecomputedByItsProducer() async throws {
    let dir = TemporaryDirectory()
    let path = dir.write("toy.json", toyPipeline(count: 5000))
    let first = try await runToy(path)
    let source = try #require(first.stages.first { $0.name == "source" }?.outputs["numbers"])
    let store = try Store(root: dir.path + "/store")
    let object = store.objectPath(source)
    var bytes = try FileSystem.readAll(object)
    bytes[20] ^= 0xff
    try FileSystem.writeAtomically(bytes, to: object)
    let record = try await runToy(path, RunOptions(rerun: "clamp"))
    #expect(statuses(record) == ["source": .ran, "clamp": .ran])
    #expect(try store.reader(source).manifest.id == source)
  }

  @Test func verifyFindsDamageAndTheNextRunRecomputesIt() async throws {
    let dir = TemporaryDirectory()
    let path = dir.write("toy.json", toyPipeline(count: 5000))
    let first = try await runToy(path)
    let store = try Store(root: dir.path + "/store")
    let sum = try #require(first.stages.first { $0.name == "sum" }?.outputs["total"])
    let scaled = try #require(first.stages.first { $0.name == "scale" }?.outputs["scaled"])
    var bytes = try FileSystem.readAll(store.objectPath(sum))
    bytes[10] ^= 1
    try FileSystem.writeAtomically(bytes, to: store.objectPath(sum))
    let truncated = try FileSystem.readAll(store.objectPath(scaled))
    try FileSystem.writeAtomically(Array(truncated.dropLast(7)), to: store.objectPath(scaled))
    let (checked, damaged) = Maintenance.verify(store: store, deep: true)
    #expect(checked == Set(first.stages.flatMap(\.outputs.values)).count)
    #expect(Set(damaged.map(\.id)) == [sum, scaled])
    let record = try await runToy(path)
    #expect(statuses(record) == ["source": .cached, "clamp": .cached, "sum": .ran, "scale": .ran])
    #expect(Maintenance.verify(store: store, deep: true).damaged.isEmpty)
  }

  /// A rerun that produces an object already in the store replaces the file there: it may be a
  /// damaged copy (truncated and noticed by size, or flipped and rerun by --force).
  @Test(arguments: ["truncate", "flip"])
  func recomputedObjectReplacesADamagedCopy(damage: String) async throws {
    let dir = TemporaryDirectory()
    let path = dir.write("toy.json", toyPipeline(count: 5000))
    let first = try await runToy(path)
    let store = try Store(root: dir.path + "/store")
    let scaled = try #require(first.stages.first { $0.name == "scale" }?.outputs["scaled"])
    var bytes = try FileSystem.readAll(store.objectPath(scaled))
    if damage == "truncate" { bytes.removeLast(9) } else { bytes[bytes.count / 2] ^= 0x10 }
    try FileSystem.writeAtomically(bytes, to: store.objectPath(scaled))
    let record = try await runToy(path, damage == "truncate" ? RunOptions() : RunOptions(force: "scale"))
    #expect(statuses(record)["scale"] == .ran)
    #expect(record.stages.first { $0.name == "scale" }?.outputs["scaled"] == scaled)
    #expect(Maintenance.verify(store: store, deep: true).damaged.isEmpty, "the damaged copy was replaced")
    let again = try await runToy(path)
    #expect(again.stages.allSatisfy { $0.status == .cached }, "\(again.stages.map { ($0.name, $0.status, $0.reason) })")
  }

  @Test func gcKeepsCurrentOutputsAndDropsTheRest() async throws {
    let dir = TemporaryDirectory()
    let path = dir.write("toy.json", toyPipeline(count: 10))
    _ = try await runToy(path)
    _ = try await runToy(path, set: ["count": .int(20)])
    let store = try Store(root: dir.path + "/store")
    let spec = try PipelineLoader(registry: ToyStages.registry).load(path)
    let before = store.allObjects().count
    let report = try Maintenance.collect(store: store, pipelines: [spec], recentRuns: 0, dryRun: false)
    #expect(report.removed.count > 0)
    #expect(store.allObjects().count == before - report.removed.count)
    let again = try await runToy(path)
    #expect(again.stages.allSatisfy { $0.status == .cached }, "\(again.stages.map { ($0.name, $0.status, $0.reason) })")
  }

  /// A published file output is copied out after the stage runs, copied again when it goes missing
  /// though the stage is cached, and a table output cannot be published.
  @Test func publishCopiesFileOutputsOutEvenWhenCached() async throws {
    let dir = TemporaryDirectory()
    let file = dir.write(
      "p.json",
      """
      {"store": "store", "stages": [
        {"name": "source", "kind": "toy-source", "params": {"count": 3}},
        {"name": "report", "kind": "toy-report", "inputs": {"numbers": "source"}, "publish": {"report": "out/report.txt"}}]}
      """)
    let first = try await runToy(file)
    #expect(statuses(first) == ["source": .ran, "report": .ran])
    #expect(try String(contentsOfFile: dir.path + "/out/report.txt", encoding: .utf8) == "0\n1\n2\n")
    FileSystem.remove(dir.path + "/out/report.txt")
    let second = try await runToy(file)
    #expect(statuses(second) == ["source": .cached, "report": .cached])
    #expect(FileSystem.exists(dir.path + "/out/report.txt"), "a cached stage publishes again")
    let table = dir.write(
      "t.json",
      """
      {"store": "store", "stages": [
        {"name": "source", "kind": "toy-source", "params": {"count": 3}},
        {"name": "report", "kind": "toy-report", "inputs": {"numbers": "source"}, "publish": {"count": "out/count"}}]}
      """)
    let third = try await runToy(table)
    #expect(third.stages[1].status == .failed)
    #expect(
      third.stages[1].error?.contains("cannot publish 'count'") == true && third.stages[1].error?.contains("is a table, not a file") == true
    )
  }
}

/// A run with other `--set` values publishes to the same path only when the path names them:
/// otherwise it would silently replace another variant's file, so it fails and says what to do,
/// unless the run overwrites on purpose.
@Suite struct PublishedVariantTests {
  @Test func anotherVariantDoesNotOverwriteAPublishedFile() async throws {
    let dir = TemporaryDirectory()
    let file = dir.write(
      "p.json",
      """
      {"store": "store", "vars": {"count": 3, "name": "a"}, "stages": [
        {"name": "source", "kind": "toy-source", "params": {"count": "${count}"}},
        {"name": "report", "kind": "toy-report", "inputs": {"numbers": "source"}, "publish": {"report": "out/${name}.txt"}}]}
      """)
    let published = { (name: String) in try String(contentsOfFile: dir.path + "/out/\(name).txt", encoding: .utf8) }
    _ = try await runToy(file)
    #expect(try published("a") == "0\n1\n2\n")
    let other = try await runToy(file, set: ["count": .int(2)])
    #expect(statuses(other)["report"] == .failed)
    let error = other.stages[1].error ?? ""
    #expect(error.contains("holds the output of a run with the pipeline file's own values, and this run has count=2"), "\(error)")
    #expect(try published("a") == "0\n1\n2\n", "the default's file is untouched")
    // A variable the path names makes a file of its own, which a later run of that variant may replace.
    _ = try await runToy(file, set: ["count": .int(2), "name": .string("b")])
    #expect(try published("b") == "0\n1\n")
    let replaced = try await runToy(file, set: ["count": .int(1), "name": .string("b")])
    #expect(statuses(replaced)["report"] == .failed, "count=1 and count=2 are different variants of b.txt")
    // On purpose, another variant may replace a file.
    var spec = try PipelineLoader(registry: ToyStages.registry, overrides: ["count": .int(2)]).load(file)
    spec.overwritePublished = true
    let forced = try await Runner(spec: spec, store: try Store(root: spec.storePath), options: RunOptions(jobs: 2)).run()
    #expect(statuses(forced)["report"] == .cached)
    #expect(try published("a") == "0\n1\n")
    // And then the pipeline file's own values need the same to come back.
    #expect(statuses(try await runToy(file))["report"] == .failed)
  }
}

/// `run --dry-run`: what a run with the same options would do to each stage, and nothing run.
@Suite struct DryRunTests {
  static func plan(_ file: String, _ options: RunOptions, set overrides: [String: JSONValue] = [:]) throws -> [String: PlannedStage] {
    let spec = try PipelineLoader(registry: ToyStages.registry, overrides: overrides).load(file)
    let plan = try Runner(spec: spec, store: try Store(root: spec.storePath), options: options).plan()
    return Dictionary(uniqueKeysWithValues: plan.map { ($0.name, $0) })
  }

  @Test func thePlanFollowsTheOptionsAndRunsNothing() async throws {
    let dir = TemporaryDirectory()
    let file = dir.write("p.json", toyPipeline())
    let fresh = try Self.plan(file, RunOptions())
    #expect(fresh.values.allSatisfy { $0.action == .run && $0.reason.hasPrefix("never ran") }, "a new store runs everything")
    _ = try await runToy(file)
    let keys = try Store(root: dir.path + "/store").allCacheKeys().count
    #expect(try Self.plan(file, RunOptions()).values.allSatisfy { $0.action == .cached })
    // A param of the first stage: it runs; the rest run only if its output changes.
    let changed = try Self.plan(file, RunOptions(), set: ["count": .int(5)])
    #expect(changed["source"]?.action == .run && changed["source"]?.reason == "params changed: count (100 → 5)")
    #expect(["clamp", "sum", "scale"].allSatisfy { changed[$0]?.action == .maybe })
    // A downstream param too: that stage runs whatever its upstream gives.
    let both = try Self.plan(file, RunOptions(), set: ["count": .int(5), "max": .int(7)])
    #expect(both["clamp"]?.action == .run && both["clamp"]?.reason.hasPrefix("params changed: max (1000000 → 7)") == true)
    let until = try Self.plan(file, RunOptions(until: "clamp"), set: ["count": .int(5)])
    #expect(until["sum"]?.action == .skip && until["scale"]?.action == .skip && until["source"]?.action == .run)
    let rerun = try Self.plan(file, RunOptions(rerun: "clamp"))
    #expect(rerun["clamp"]?.action == .run && rerun["source"]?.action == .cached && rerun["sum"]?.action == .skip)
    let force = try Self.plan(file, RunOptions(force: "source"))
    #expect(force["source"]?.action == .run && force["clamp"]?.action == .maybe && force["sum"]?.action == .maybe)
    #expect(try Store(root: dir.path + "/store").allCacheKeys().count == keys, "a plan runs nothing")
  }
}

/// A run record says which variant ran, from which file at which commit, on what machine.
@Suite struct RunRecordFactsTests {
  @Test func theRecordHoldsTheSetValuesTheFileHashTheCommitAndTheMachine() async throws {
    let dir = TemporaryDirectory()
    let commit = String(repeating: "ab12", count: 10)
    try FileSystem.makeDirectories(dir.path + "/.git/refs/heads")
    dir.write(".git/HEAD", "ref: refs/heads/main\n")
    dir.write(".git/refs/heads/main", commit + "\n")
    try FileSystem.makeDirectories(dir.path + "/pipelines")
    let file = dir.write("pipelines/p.json", toyPipeline())
    _ = try await runToy(file, set: ["count": .int(5)])
    let record = try #require(try Store(root: dir.path + "/pipelines/store").runRecords().first)
    #expect(record.variables == ["count": "5"])
    #expect(record.pipelineHash == Digest.of(try FileSystem.readAll(file)).hex)
    #expect(record.gitCommit == commit)
    #expect(record.environment["cores"] == String(Parallel.coreCount) && record.environment["cpu"]?.isEmpty == false)
    // A branch found only in packed-refs, and a detached HEAD.
    FileSystem.remove(dir.path + "/.git/refs/heads/main")
    dir.write(".git/packed-refs", "# pack-refs with: peeled\n\(commit) refs/heads/main\n")
    #expect(GitCommit.of(dir.path + "/pipelines") == commit)
    let detached = String(repeating: "cd34", count: 10)
    dir.write(".git/HEAD", detached + "\n")
    #expect(GitCommit.of(dir.path + "/pipelines") == detached)
    let outside = TemporaryDirectory()
    #expect(GitCommit.of(outside.path) == nil || FileSystem.exists("/.git"))
  }
}
