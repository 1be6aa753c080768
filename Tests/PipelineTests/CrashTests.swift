import Foundation
import Pipeline
import Testing

/// Kills, stale locks and concurrent runs, with real processes (`pipeline-toy`).
@Suite(.serialized) struct CrashTests {
  /// A slow pipeline: the source writes 12 columns, 150 ms apart.
  static func slowPipeline(_ dir: TemporaryDirectory) -> String {
    dir.write("slow.json", toyPipeline(count: 200_000, columns: 12, delay: 150))
  }

  @Test func killMidWriteLeavesNoObjectNoCacheEntryAndTheNextRunRecovers() async throws {
    let dir = TemporaryDirectory()
    let path = Self.slowPipeline(dir)
    let victim = try startToy(["run", path, "--jobs", "1"], in: dir.path, tag: "victim")
    #expect(waitUntil(seconds: 30) { contents(dir.path + "/victim.err").contains("writing column 3") })
    kill(victim.processIdentifier, SIGKILL)
    victim.waitUntilExit()
    let store = try Store(root: dir.path + "/store")
    #expect(store.allObjects().isEmpty)
    #expect(store.allCacheKeys().isEmpty)
    #expect(try FileSystem.list(store.root + "/tmp").count == 1, "the unfinished object stays in tmp/")

    let next = try startToy(["run", path, "--jobs", "2", "--set", "delay=0"], in: dir.path, tag: "next")
    next.waitUntilExit()
    let log = contents(dir.path + "/next.err")
    #expect(next.terminationStatus == 0, "\(log)")
    #expect(log.contains("cleared a stale lock left by pid \(victim.processIdentifier)"))
    #expect(log.contains("removed 1 unfinished files"))
    #expect(try FileSystem.list(store.root + "/tmp").isEmpty)
    #expect(Maintenance.verify(store: store, deep: true).damaged.isEmpty)
  }

  @Test func lockLeftByADeadProcessIsCleared() async throws {
    let dir = TemporaryDirectory()
    let path = dir.write("toy.json", toyPipeline())
    try FileSystem.makeDirectories(dir.path + "/store")
    dir.write("store/lock", #"{"pid": 999999, "command": "hmpipe run ghost.json", "since": 0}"#)
    let run = try startToy(["run", path], in: dir.path, tag: "run")
    run.waitUntilExit()
    #expect(run.terminationStatus == 0)
    #expect(contents(dir.path + "/run.err").contains("cleared a stale lock left by pid 999999"))
    #expect(try FileSystem.readAll(dir.path + "/store/lock").isEmpty, "a finished run leaves the lock file empty")
  }

  @Test func concurrentRunsWaitAndNeverCorruptTheStore() async throws {
    let dir = TemporaryDirectory()
    let path = Self.slowPipeline(dir)
    let first = try startToy(["run", path], in: dir.path, tag: "first")
    #expect(waitUntil(seconds: 30) { contents(dir.path + "/first.err").contains("source: started") })
    let second = try startToy(["run", path], in: dir.path, tag: "second")
    first.waitUntilExit()
    second.waitUntilExit()
    #expect(first.terminationStatus == 0)
    #expect(second.terminationStatus == 0)
    #expect(contents(dir.path + "/second.err").contains("waiting for the store lock held by pid \(first.processIdentifier)"))
    #expect(contents(dir.path + "/first.out").contains("source ran"))
    #expect(contents(dir.path + "/second.out").split(separator: "\n").allSatisfy { $0.hasSuffix(" cached") })
    #expect(Maintenance.verify(store: try Store(root: dir.path + "/store"), deep: true).damaged.isEmpty)
  }
}
