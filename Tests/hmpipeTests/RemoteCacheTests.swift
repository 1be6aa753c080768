import Foundation
import Pipeline
import TestSupport
import Testing

@testable import S3Remote

/// The team cache against a real S3 server (SeaweedFS with authentication on): two "machines" (two
/// copies of the repository's pipelines, two empty stores) share results through a bucket.
@Suite(.serialized) struct RemoteCacheTests {
  static let server = Result { try S3Server() }

  /// A fresh copy of the demo pipeline (a clone of the repository as far as a run cares), with
  /// an empty store.
  static func machine() throws -> TemporaryDirectory {
    let dir = TemporaryDirectory()
    let pipelines = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../pipelines")
      .standardizedFileURL.path
    try FileManager.default.createDirectory(atPath: dir.path + "/pipelines", withIntermediateDirectories: true)
    for name in ["demo.json", "hm.json"] {
      try FileManager.default.copyItem(atPath: "\(pipelines)/\(name)", toPath: "\(dir.path)/pipelines/\(name)")
    }
    return dir
  }

  /// A prefix of its own in the tests' bucket, for one test.
  static func remote(_ prefix: String, _ server: S3Server) throws -> S3ArtifactStore {
    let store = try S3ArtifactStore(url: "s3://tests/\(prefix)", environment: server.environment)
    try store.createBucket()
    return store
  }

  static func run(_ machine: TemporaryDirectory, _ arguments: [String], _ environment: [String: String]) throws -> CLITests.Result {
    try CLITests.hmpipe(["run", "pipelines/demo.json"] + arguments, in: machine.path, environment: environment)
  }

  /// The `run --json` stages by name.
  static func stages(_ result: CLITests.Result) throws -> [String: [String: Any]] {
    let json = try #require(result.stdout.split(separator: "\n").last.map { Data($0.utf8) })
    let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
    let stages = try #require(object["stages"] as? [[String: Any]])
    return Dictionary(uniqueKeysWithValues: stages.map { ($0["name"] as! String, $0) })
  }

  static let submission = "output/demo/submission-holdout7.csv"

  @Test func secondMachineComputesNothingAndAChangedStageIsComputedOnceForEveryone() throws {
    let server = try Self.server.get()
    _ = try Self.remote("machines", server)
    let environment = server.environment.merging(["HMPIPE_REMOTE": "s3://tests/machines"]) { a, _ in a }
    let a = try Self.machine(), b = try Self.machine(), c = try Self.machine()

    let first = try Self.run(a, ["--json"], environment)
    #expect(first.status == 0, "\(first.stderr)")
    #expect(try Self.stages(first).values.allSatisfy { $0["status"] as? String == "ran" })

    let second = try Self.run(b, ["--json"], environment)
    #expect(second.status == 0, "\(second.stderr)")
    let onB = try Self.stages(second)
    #expect(onB.count == 11 && onB.values.allSatisfy { $0["status"] as? String == "cached" && $0["from"] as? String == "remote" }, "\(onB)")
    #expect(second.stderr.contains("11 cached (11 remotely)"), "\(second.stderr)")
    #expect(
      try Data(contentsOf: URL(fileURLWithPath: b.path + "/" + Self.submission))
        == Data(contentsOf: URL(fileURLWithPath: a.path + "/" + Self.submission)))
    let status = try CLITests.hmpipe(["status", "pipelines/demo.json"], in: c.path, environment: environment)
    #expect(
      status.stdout.split(separator: "\n").dropFirst().allSatisfy { $0.contains("fresh") && $0.contains("cached remotely") },
      "\(status.stdout)")

    // B changes a param: only what it changes runs, and its results reach the bucket for C.
    let variant = ["--json", "--set", "factors=16", "--set", "output=../output/f16"]
    let changed = try Self.run(b, variant, environment)
    #expect(changed.status == 0, "\(changed.stderr)")
    let ran = Set(try Self.stages(changed).filter { $0.value["status"] as? String == "ran" }.map(\.key))
    #expect(ran.contains("als") && ran.isSubset(of: ["als", "rank", "fill", "fallback", "submit", "evaluate"]), "\(ran)")
    let onC = try Self.stages(try Self.run(c, variant, environment))
    #expect(onC.values.allSatisfy { $0["status"] as? String == "cached" && $0["from"] as? String == "remote" }, "\(onC)")
    let f16 = "output/f16/submission-holdout7.csv"
    #expect(try Data(contentsOf: URL(fileURLWithPath: c.path + "/" + f16)) == Data(contentsOf: URL(fileURLWithPath: b.path + "/" + f16)))
  }

  @Test func aDamagedRemoteObjectIsRefusedRecomputedAndRepaired() throws {
    let server = try Self.server.get()
    let bucket = try Self.remote("damage", server)
    let environment = server.environment.merging(["HMPIPE_REMOTE": "s3://tests/damage"]) { a, _ in a }
    let a = try Self.machine(), d = try Self.machine()
    let first = try Self.run(a, ["--json"], environment)
    #expect(first.status == 0, "\(first.stderr)")
    // The submission's object, which a second machine downloads to publish it: one byte flipped.
    let id = try #require((try Self.stages(first)["submit"]?["outputs"] as? [String: String])?["submission"].flatMap(ArtifactID.init(hex:)))
    let local = try Store(root: a.path + "/artifacts")
    var bytes = try FileSystem.readAll(local.objectPath(id))
    bytes[bytes.count / 3] ^= 0x5A
    let damaged = a.path + "/damaged"
    try FileSystem.writeAtomically(bytes, to: damaged)
    try bucket.putObject(id, from: damaged) { _ in }

    let second = try Self.run(d, ["--json"], environment)
    #expect(second.status == 0, "\(second.stderr)")
    let onD = try Self.stages(second)
    #expect(onD["submit"]?["status"] as? String == "ran", "\(onD["submit"] ?? [:])")
    #expect((onD["submit"]?["outputs"] as? [String: String])?["submission"] == id.description)
    #expect(second.stderr.contains("copy of artifact \(id.short) is damaged"), "\(second.stderr)")
    #expect(
      try Data(contentsOf: URL(fileURLWithPath: d.path + "/" + Self.submission))
        == Data(contentsOf: URL(fileURLWithPath: a.path + "/" + Self.submission)))
    // The good copy went up over the bad one.
    let check = TemporaryDirectory()
    let scratch = try Store(root: check.path + "/store")
    try bucket.getObject(id, to: check.path + "/store/tmp/fetched") { _ in }
    try scratch.adopt(id, file: check.path + "/store/tmp/fetched")
  }

  /// A bucket whose entries name an object it no longer holds (a lifecycle rule removed it): the
  /// stage that makes it is computed here, also with `--require-remote`, and the object goes back.
  @Test func anObjectGoneFromTheBucketIsComputedHereAndPutBack() throws {
    let server = try Self.server.get()
    let bucket = try Self.remote("gone", server)
    let a = try Self.machine(), d = try Self.machine()
    let first = try Self.run(a, ["--json"], server.environment)
    #expect(first.status == 0, "\(first.stderr)")
    // Gone: the submission (published, so fetched at once) and fallback's predictions (fetched
    // only when submit, recomputed, reads them).
    let outputs = try Self.stages(first).mapValues { ($0["outputs"] as? [String: String] ?? [:]).compactMapValues(ArtifactID.init(hex:)) }
    let id = try #require(outputs["submit"]?["submission"]), predictions = try #require(outputs["fallback"]?["predictions"])
    let local = try Store(root: a.path + "/artifacts")
    for key in local.allCacheKeys() {
      let entry = try #require(local.cacheEntry(key))
      for output in entry.outputs.values where output.id != id && output.id != predictions {
        try bucket.putObject(output.id, from: local.objectPath(output.id)) { _ in }
      }
      try bucket.putCacheEntry(entry)
    }
    let second = try Self.run(d, ["--json", "--remote", "s3://tests/gone", "--require-remote"], server.environment)
    #expect(second.status == 0, "\(second.stderr)")
    let onD = try Self.stages(second)
    #expect(onD["submit"]?["status"] as? String == "ran" && onD["fallback"]?["status"] as? String == "ran", "\(onD)")
    #expect(second.stderr.contains("does not hold it"), "\(second.stderr)")
    #expect(try bucket.objectSize(id) == local.storedSize(id) && bucket.objectSize(predictions) == local.storedSize(predictions))
    #expect(
      try Data(contentsOf: URL(fileURLWithPath: d.path + "/" + Self.submission))
        == Data(contentsOf: URL(fileURLWithPath: a.path + "/" + Self.submission)))
  }

  @Test func wrongCredentialsMissingBucketAndNoServerAreOneSentenceAndRunsCarryOn() throws {
    let server = try Self.server.get()
    _ = try Self.remote("failures", server)
    let a = try Self.machine()
    let good = try Self.run(a, [], server.environment)
    #expect(good.status == 0, "\(good.stderr)")
    let cases: [(String, [String: String], String)] = [
      ("s3://tests/failures", ["AWS_SECRET_ACCESS_KEY": "wrong"], "refused the credentials (SignatureDoesNotMatch)"),
      ("s3://no-such-bucket/demo", [:], "the bucket 'no-such-bucket' does not exist"),
      ("s3://tests/failures", ["AWS_ENDPOINT_URL": "http://127.0.0.1:1"], "cannot reach http://127.0.0.1:1 (connection refused)"),
    ]
    for (remote, change, sentence) in cases {
      let environment = server.environment.merging(change) { _, new in new }
      let push = try CLITests.hmpipe(["push", "pipelines/demo.json", "--remote", remote], in: a.path, environment: environment)
      let lines = push.stderr.split(separator: "\n")
      #expect(push.status != 0 && lines.count == 1 && lines[0].contains(sentence), "\(push.stderr)")
      // A run treats the remote as a cache: it says why once and carries on locally.
      let run = try Self.run(a, ["--remote", remote], environment)
      #expect(
        run.status == 0 && run.stderr.contains(sentence) && run.stderr.contains("carrying on without the remote cache"), "\(run.stderr)")
      let required = try Self.run(a, ["--remote", remote, "--require-remote"], environment)
      #expect(required.status != 0 && required.stderr.contains(sentence), "\(required.stderr)")
    }
    let verify = try CLITests.hmpipe(["verify", "--deep"], in: a.path)
    #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
  }

  @Test func pushesOfTheSameResultsAtOnceLeaveOneSoundCopy() throws {
    let server = try Self.server.get()
    _ = try Self.remote("race", server)
    let a = try Self.machine(), b = try Self.machine(), c = try Self.machine()
    for machine in [a, b] { #expect(try Self.run(machine, [], server.environment).status == 0) }
    let results = ConcurrentResults()
    let threads = [a, b].map { machine in
      Thread {
        results.add(
          try? CLITests.hmpipe(
            ["push", "pipelines/demo.json", "--remote", "s3://tests/race"], in: machine.path, environment: server.environment))
      }
    }
    threads.forEach { $0.start() }
    while results.count < 2 { Thread.sleep(forTimeInterval: 0.05) }
    #expect(results.all.allSatisfy { $0?.status == 0 }, "\(results.all.map { $0?.stderr ?? "" })")
    let pull = try CLITests.hmpipe(
      ["pull", "pipelines/demo.json", "--remote", "s3://tests/race"], in: c.path, environment: server.environment)
    #expect(pull.status == 0 && pull.stdout.contains("11 stage results copied"), "\(pull.stdout)\(pull.stderr)")
    let offline = try Self.stages(try Self.run(c, ["--json", "--remote", "none"], server.environment))
    #expect(offline.values.allSatisfy { $0["status"] as? String == "cached" && $0["from"] == nil })
  }

  @Test func aServerKilledMidUploadLeavesNoHalfObjectAndThePushAfterCompletes() throws {
    let server = try S3Server()
    var bucket = try Self.remote("killed", server)
    bucket.client.partBytes = 5 << 20
    // An incompressible 48 MB object: ten parts.
    let dir = TemporaryDirectory()
    let local = try Store(root: dir.path + "/store")
    var generator = SystemRandomNumberGenerator()
    let manifest = try local.write(
      Table([Column("noise", (0..<6_000_000).map { _ in UInt64.random(in: 0...UInt64.max, using: &generator) })]))
    let path = local.objectPath(manifest.id)
    let sent = Counter()
    #expect(throws: S3Error.self) {
      try bucket.putObject(manifest.id, from: path) { bytes in
        if sent.add(bytes) == bytes { server.kill() }
      }
    }
    try server.start()
    #expect(try bucket.objectSize(manifest.id) == nil, "a half-uploaded object must not be visible")
    try bucket.putObject(manifest.id, from: path) { _ in }
    let copy = dir.path + "/store/tmp/copy"
    try bucket.getObject(manifest.id, to: copy) { _ in }
    try local.adopt(manifest.id, file: copy)
    #expect(try local.reader(manifest.id).table().columns[0].rowCount == 6_000_000)
  }

  /// AWS's published example of a signed GET (Signature Version 4, "GET Object"), and of a listing
  /// with a query string.
  @Test func signaturesMatchAWSPublishedExamples() throws {
    let signer = SigV4(
      credentials: AWSCredentials(accessKey: "AKIAIOSFODNN7EXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
      region: "us-east-1")
    let date = Timestamp.date("2013-05-24T00:00:00Z")!
    let get = signer.sign(
      method: "GET", path: "/test.txt", query: [], headers: ["host": "examplebucket.s3.amazonaws.com", "range": "bytes=0-9"],
      payloadHash: SigV4.emptyPayload, date: date)
    #expect(get["authorization"]?.hasSuffix("Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41") == true, "\(get)")
    #expect(get["authorization"]?.contains("SignedHeaders=host;range;x-amz-content-sha256;x-amz-date") == true)
    let list = signer.sign(
      method: "GET", path: "/", query: [("max-keys", "2"), ("prefix", "J")], headers: ["host": "examplebucket.s3.amazonaws.com"],
      payloadHash: SigV4.emptyPayload, date: date)
    #expect(
      list["authorization"]?.hasSuffix("Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7") == true, "\(list)")
  }
}

/// Results gathered from threads.
final class ConcurrentResults: @unchecked Sendable {
  private let lock = NSLock()
  private var results: [CLITests.Result?] = []
  func add(_ result: CLITests.Result?) { lock.withLock { results.append(result) } }
  var count: Int { lock.withLock { results.count } }
  var all: [CLITests.Result?] { lock.withLock { results } }
}

/// A running total shared with a callback.
final class Counter: @unchecked Sendable {
  private let lock = NSLock()
  private var total = 0
  /// Adds `n`; returns the new total.
  func add(_ n: Int) -> Int {
    lock.withLock {
      total += n
      return total
    }
  }
}
