import CSpawn
import Foundation

/// A program run to its end by a command stage: in its own process group under a supervisor that
/// kills the group when hmpipe dies or stops it, stdout and stderr read line by line as they come.
/// Runs on the calling thread, which must not be shared with other work (the supervisor follows its
/// life).
struct ChildProcess {
  enum Stream: Sendable { case stdout, stderr }

  /// How the program ended.
  struct Outcome: Sendable {
    /// The exit status; 128 + N when killed by signal N.
    var status: Int32
    var timedOut = false
    var cancelled = false
    /// The last lines it wrote to stderr (for the error message).
    var stderrTail: [String] = []
  }

  var arguments: [String]
  var environment: [String: String]
  var directory: String
  /// Seconds before the group is killed; 0: no limit.
  var timeout: Double = 0

  func run(cancellation: CancellationFlag, onLine: (Stream, String) -> Void) throws -> Outcome {
    var outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
    let made = hmpipe_pipe(&outPipe), alsoMade = hmpipe_pipe(&errPipe)
    guard made == 0, alsoMade == 0 else { throw SystemError(operation: "make a pipe for", path: directory, errno: -min(made, alsoMade)) }
    let supervisor = spawn(out: outPipe[1], err: errPipe[1])
    close(outPipe[1])
    close(errPipe[1])
    defer {
      close(outPipe[0])
      close(errPipe[0])
    }
    guard supervisor > 0 else { throw SystemError(operation: "start", path: arguments.first ?? "", errno: -supervisor) }
    var outcome = Outcome(status: 0)
    var readers = [LineReader(fd: outPipe[0], stream: .stdout), LineReader(fd: errPipe[0], stream: .stderr)]
    let started = ContinuousClock.now
    var stopping = false
    var status: Int32 = 0
    while true {
      var ended = hmpipe_wait(supervisor, 0, &status)
      pump(&readers, timeoutMilliseconds: 50, outcome: &outcome, onLine: onLine)
      if ended == 0 { ended = hmpipe_wait(supervisor, 0, &status) }
      if ended != 0 { break }
      if !stopping && cancellation.isCancelled {
        outcome.cancelled = true
        stopping = true
        _ = hmpipe_stop(supervisor)
      } else if !stopping && timeout > 0 && ContinuousClock.now - started > .seconds(timeout) {
        outcome.timedOut = true
        stopping = true
        _ = hmpipe_stop(supervisor)
      }
    }
    while readers.contains(where: { !$0.closed }) { pump(&readers, timeoutMilliseconds: 1000, outcome: &outcome, onLine: onLine) }
    outcome.status = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return outcome
  }

  private func spawn(out: Int32, err: Int32) -> pid_t {
    let argv = arguments.map { strdup($0) } + [nil]
    let envp = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { (argv + envp).forEach { free($0) } }
    return argv.map { UnsafePointer($0) }.withUnsafeBufferPointer { a in
      envp.map { UnsafePointer($0) }.withUnsafeBufferPointer { e in
        hmpipe_spawn_supervised(a.baseAddress, e.baseAddress, directory, out, err)
      }
    }
  }

  /// Reads what is ready on the open pipes (waiting up to the timeout for something) and hands
  /// over each whole line.
  private func pump(_ readers: inout [LineReader], timeoutMilliseconds: Int32, outcome: inout Outcome, onLine: (Stream, String) -> Void) {
    var fds = readers.filter { !$0.closed }.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
    guard !fds.isEmpty, poll(&fds, nfds_t(fds.count), timeoutMilliseconds) > 0 else { return }
    for i in readers.indices where !readers[i].closed {
      guard let ready = fds.first(where: { $0.fd == readers[i].fd }), ready.revents != 0 else { continue }
      for line in readers[i].read() {
        if readers[i].stream == .stderr {
          outcome.stderrTail.append(line)
          if outcome.stderrTail.count > 20 { outcome.stderrTail.removeFirst() }
        }
        onLine(readers[i].stream, line)
      }
    }
  }

  /// One pipe's bytes cut into lines (a last line without a newline is given when the pipe closes).
  struct LineReader {
    var fd: Int32
    var stream: Stream
    var pending: [UInt8] = []
    var closed = false

    mutating func read() -> [String] {
      var buffer = [UInt8](repeating: 0, count: 65536)
      let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
      if n <= 0 {
        if n < 0 && (errno == EINTR || errno == EAGAIN) { return [] }
        closed = true
        defer { pending = [] }
        return pending.isEmpty ? [] : [String(decoding: pending, as: UTF8.self)]
      }
      pending += buffer[0..<n]
      var lines: [String] = []
      while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
        lines.append(String(decoding: pending[..<newline], as: UTF8.self))
        pending.removeSubrange(...newline)
      }
      return lines
    }
  }
}
