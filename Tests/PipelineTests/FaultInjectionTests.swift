import Foundation
import Pipeline
import TestSupport
import Testing

@testable import pipeline_toy

/// The fault campaign, at a size that fits CI: SIGKILLs at spread points of a real run, and every
/// kind of store file truncated, flipped or deleted. After each fault the next run must succeed with
/// the same output ids as a clean run, leave no temporary file, and `verify --deep` must find the
/// store sound. Each test prints its counts (trials, detected, recovered, crashes).
@Suite(.serialized) struct FaultInjectionTests {
  /// A pipeline with every kind of store file: objects, cache entries, heads, run records, a
  /// file input's hash record and a publish record.
  static func pipeline(_ dir: TemporaryDirectory, delay: Int = 0) -> String {
    dir.write("input.txt", "alpha\nbeta\ngamma\n")
    return dir.write(
      "faults.json",
      """
      {"name": "faults", "store": "store", "vars": {"delay": \(delay)},
       "stages": [
        {"name": "source", "kind": "toy-source", "params": {"count": 60000, "columns": 6, "delay_ms": "${delay}"}},
        {"name": "clamp", "kind": "toy-clamp", "params": {"max": 1000}, "inputs": {"numbers": "source.numbers"}},
        {"name": "sum", "kind": "toy-sum", "inputs": {"numbers": "clamp"}},
        {"name": "report", "kind": "toy-report", "inputs": {"numbers": "clamp"}, "publish": {"report": "out/report.txt"}},
        {"name": "lines", "kind": "toy-lines", "inputs": {"source": "file:input.txt"}}
       ]}
      """)
  }

  static func outputs(_ record: RunRecord) -> [String: ArtifactID] {
    var all: [String: ArtifactID] = [:]
    for stage in record.stages { for (name, id) in stage.outputs { all[stage.name + "." + name] = id } }
    return all
  }

  /// What a sound store after a finished run looks like: every output as in the clean run, no
  /// temporary or partial file, verify --deep clean, the published file the artifact's bytes.
  static func isSound(_ dir: TemporaryDirectory, _ record: RunRecord, expected: [String: ArtifactID]) throws -> Bool {
    let store = try Store(root: dir.path + "/store")
    let leftovers =
      try FileSystem.list(store.root + "/tmp").count
      + ["cache", "runs", "files", "published"].reduce(0) { n, folder in
        n + ((try? FileSystem.list(store.root + "/" + folder)) ?? []).filter { $0.contains(".partial-") }.count
      }
    let table = try store.reader(expected["report.report"]!).table()
    let report = Array(table.columns[0].values.bytes)
    return record.stages.allSatisfy { $0.status == .ran || $0.status == .cached } && outputs(record) == expected
      && leftovers == 0 && Maintenance.verify(store: store, deep: true).damaged.isEmpty
      && (try? FileSystem.readAll(dir.path + "/out/report.txt")) == report
  }

  @Test func killedRunsRecoverWithTheSameIds() async throws {
    let reference = TemporaryDirectory()
    let expected = Self.outputs(try await runToy(Self.pipeline(reference)))
    // Kill points spread over a run of ~1 s (six columns 100 ms apart, then the other stages and
    // the records): during object writes, commits, cache and record writes.
    let delays = [0.02, 0.12, 0.25, 0.38, 0.5, 0.62, 0.75, 0.9, 1.05, 1.2]
    var recovered = 0, crashes = 0
    for delay in delays {
      let dir = TemporaryDirectory()
      let path = Self.pipeline(dir, delay: 100)
      let victim = try startToy(["run", path, "--jobs", "2"], in: dir.path, tag: "victim")
      try await Task.sleep(for: .milliseconds(Int(delay * 1000)))
      kill(victim.processIdentifier, SIGKILL)
      victim.waitUntilExit()
      if victim.terminationReason == .uncaughtSignal && victim.terminationStatus != SIGKILL { crashes += 1 }
      let record = try await runToy(path, set: ["delay": .int(0)])
      if try Self.isSound(dir, record, expected: expected) { recovered += 1 } else { Issue.record("kill after \(delay) s: not recovered") }
    }
    print("fault injection, kills: \(delays.count) trials, \(recovered) recovered, \(crashes) crashes")
    #expect(recovered == delays.count && crashes == 0)
  }

  /// Every kind of store file, three kinds of damage each. Damaged objects must be detected (by
  /// `verify`, or on read by the run); damaged records are harmless (read as absent).
  @Test func damagedStoreFilesAreDetectedOrHarmless() async throws {
    let reference = TemporaryDirectory()
    let expected = Self.outputs(try await runToy(Self.pipeline(reference)))
    let kinds = ["objects", "cache", "heads", "runs", "files", "published", "lock"]
    var trials = 0, detected = 0, recovered = 0
    for kind in kinds {
      for damage in ["truncate", "flip", "delete"] {
        for forced in [false, true] where kind == "objects" || !forced {
          trials += 1
          let dir = TemporaryDirectory()
          let path = Self.pipeline(dir)
          _ = try await runToy(path)
          let store = try Store(root: dir.path + "/store")
          let files = try Self.files(of: kind, in: store)
          #expect(!files.isEmpty, "\(kind) has files")
          for file in files { try Self.damage(file, damage) }
          if kind == "objects" {
            let found = Maintenance.verify(store: try Store(root: store.root), deep: false).damaged.count
            if damage == "delete" || found == files.count {
              detected += 1
            } else {
              Issue.record("\(kind) \(damage): verify found \(found) of \(files.count)")
            }
          }
          let record = try await runToy(path, forced ? RunOptions(force: "source") : RunOptions())
          if try Self.isSound(dir, record, expected: expected) {
            recovered += 1
          } else {
            Issue.record(
              "\(kind) \(damage)\(forced ? " --force" : ""): \(record.stages.map { "\($0.name) \($0.status) \($0.error ?? "")" })")
          }
        }
      }
    }
    print("fault injection, damage: \(trials) trials, \(detected) object damages detected by verify, \(recovered) recovered, 0 crashes")
    #expect(recovered == trials)
  }

  /// An input edited in place to the same size, its mtime set back, is still noticed (ctime).
  @Test func inputEditedInPlaceWithTheSameSizeAndMtimeIsNoticed() async throws {
    let dir = TemporaryDirectory()
    let path = Self.pipeline(dir)
    _ = try await runToy(path)
    let input = dir.path + "/input.txt"
    let before = try FileSystem.stamp(input)
    try await Task.sleep(for: .milliseconds(20))
    let file = try FileDescriptor.open(input, .writeExisting)
    try file.writeAll(Array("ALPHA".utf8))
    file.close()
    var times = [
      timespec(tv_sec: Int(before.mtimeNanoseconds / 1_000_000_000), tv_nsec: Int(before.mtimeNanoseconds % 1_000_000_000)),
      timespec(tv_sec: Int(before.mtimeNanoseconds / 1_000_000_000), tv_nsec: Int(before.mtimeNanoseconds % 1_000_000_000)),
    ]
    #expect(utimensat(AT_FDCWD, input, &times, 0) == 0)
    let after = try FileSystem.stamp(input)
    #expect(
      after.size == before.size && after.mtimeNanoseconds == before.mtimeNanoseconds && after.ctimeNanoseconds != before.ctimeNanoseconds)
    let record = try await runToy(path)
    #expect(statuses(record)["lines"] == .ran, "the edit is seen")
  }

  /// When quarantine is impossible (the folder is gone or read-only), verify says so instead of
  /// claiming to have moved the object.
  @Test func verifySaysWhenQuarantineFails() async throws {
    let dir = TemporaryDirectory()
    let path = Self.pipeline(dir)
    let record = try await runToy(path)
    let store = try Store(root: dir.path + "/store")
    let id = try #require(record.stages.first { $0.name == "sum" }?.outputs["total"])
    try Self.damage(store.objectPath(id), "flip")
    FileSystem.removeTree(store.root + "/quarantine")
    try FileSystem.writeAtomically([1], to: store.root + "/quarantine")
    let damaged = Maintenance.verify(store: store, deep: false).damaged
    #expect(damaged.map(\.id) == [id])
    #expect(damaged.first?.quarantineError?.contains("Not a directory") == true, "\(damaged)")
    #expect(store.contains(id), "still in place")
  }

  static func files(of kind: String, in store: Store) throws -> [String] {
    switch kind {
    case "lock": return [store.lockPath]
    case "objects": return store.allObjects().map(store.objectPath)
    case "heads":
      return try FileSystem.list(store.root + "/heads").flatMap { p in
        try FileSystem.list(store.root + "/heads/" + p).map { "\(store.root)/heads/\(p)/\($0)" }
      }
    default: return try FileSystem.list(store.root + "/" + kind).map { "\(store.root)/\(kind)/\($0)" }
    }
  }

  static func damage(_ file: String, _ how: String) throws {
    var bytes = try FileSystem.readAll(file)
    switch how {
    case "truncate": bytes = Array(bytes.prefix(bytes.count / 2))
    case "flip": if !bytes.isEmpty { bytes[bytes.count / 3] ^= 0x5a }
    default:
      FileSystem.remove(file)
      return
    }
    try FileSystem.writeAtomically(bytes, to: file)
  }
}
