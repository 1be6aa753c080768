import Foundation
import Pipeline
import Synchronization

/// Shows a run on stderr: on a terminal, a live progress bar per running stage; elsewhere (logs,
/// CI), one plain line per event worth keeping.
final class ProgressView: Sendable {
  private struct State {
    var active: [String: (fraction: Double, detail: String, started: Date)] = [:]
    var order: [String] = []
    var drawnLines = 0
  }

  private let interactive = isatty(2) != 0
  private let state = Mutex(State())
  private let width: Int

  private let definitions: [String: StageDefinition]

  /// A view of a pipeline's run, which knows each stage's kind (for its headline).
  init(stages: [StageSpec]) {
    width = max(8, (stages.map(\.name.count).max() ?? 8))
    definitions = Dictionary(uniqueKeysWithValues: stages.map { ($0.name, $0.definition) })
  }

  /// A view of named tasks outside a pipeline (synth).
  init(names: [String]) {
    width = max(8, (names.map(\.count).max() ?? 8))
    definitions = [:]
  }

  func handle(_ event: RunEvent) {
    state.withLock { s in
      switch event {
      case .waitingForLock(let holder):
        line(&s, "waiting for the store lock, held by \(holder.map { "pid \($0.pid) (\($0.command))" } ?? "another process")…")
      case .clearedStaleLock(let holder):
        line(&s, "cleared a stale store lock left by pid \(holder.pid) (\(holder.command)), which is no longer running")
      case .removedTemporaryFiles(let count):
        line(&s, "removed \(count) unfinished file\(count == 1 ? "" : "s") left by an interrupted run")
      case .stageStarted(let stage, let reason):
        s.active[stage] = (0, "", Date())
        s.order.append(stage)
        if !interactive { line(&s, "\(pad(stage))  running: \(reason)") }
      case .stageProgress(let stage, let fraction, let detail):
        if s.active[stage] == nil {
          s.active[stage] = (0, "", Date())
          s.order.append(stage)
        }
        s.active[stage]?.fraction = fraction
        s.active[stage]?.detail = detail
      case .stageMessage(let stage, let message):
        for text in message.split(separator: "\n", omittingEmptySubsequences: false) { line(&s, "\(pad(stage))  \(text)") }
      case .stageFinished(let record):
        s.active[record.name] = nil
        s.order.removeAll { $0 == record.name }
        line(&s, summary(record))
      case .recovered(let stage, let message):
        line(&s, "\(pad(stage))  \(message)")
      case .remote(let message):
        line(&s, message)
      }
      redraw(&s)
    }
  }

  func note(_ message: String) {
    state.withLock {
      line(&$0, message)
      redraw(&$0)
    }
  }

  /// Clears the bars and prints the closing summary: what ran (the longest first) and what came
  /// from the cache, then each result with its verdict, also when everything was cached.
  func finish(_ record: RunRecord, pipeline: String) {
    state.withLock { s in
      s.active = [:]
      s.order = []
      redraw(&s)
      for text in Self.closing(record, headlines: headlines(record), pipeline: pipeline) { line(&s, text) }
    }
  }

  /// The closing lines: "done in 1m02s: 3 ran (als 40.12s, rank 10.20s, fill 1.10s), 8 cached",
  /// then "result  evaluate: MAP@12 …: verdict" per headline and where to see more.
  static func closing(_ record: RunRecord, headlines: [(String, String)], pipeline: String) -> [String] {
    let ran = record.stages.filter { $0.status == .ran }.sorted { ($0.seconds, $1.name) > ($1.seconds, $0.name) }
    let count = { (status: RunRecord.StageRecord.Status) in record.stages.filter { $0.status == status }.count }
    let interrupted = record.stages.filter(wasInterrupted).count
    let longest = ran.prefix(3).map { "\($0.name) \(Format.seconds($0.seconds))" } + (ran.count > 3 ? ["…"] : [])
    var parts = ["\(ran.count) ran" + (ran.isEmpty ? "" : " (" + longest.joined(separator: ", ") + ")"), "\(count(.cached)) cached"]
    let remote = record.stages.filter { $0.from == "remote" }.count
    if remote > 0 { parts[1] += " (\(remote) remotely)" }
    if interrupted > 0 { parts.append("\(interrupted) interrupted") }
    if count(.failed) - interrupted > 0 { parts.append("\(count(.failed) - interrupted) failed") }
    if count(.skipped) > 0 { parts.append("\(count(.skipped)) not run") }
    var lines = ["done in \(Format.seconds(record.seconds)): " + parts.joined(separator: ", ")]
    for (stage, text) in headlines { lines.append("result   \(stage): \(text)") }
    if !headlines.isEmpty { lines.append("more     hmpipe report \(pipeline)  (charts, per segment),  hmpipe runs \(pipeline)  (history)") }
    return lines
  }

  private func summary(_ r: RunRecord.StageRecord) -> String {
    switch r.status {
    case .cached: return "\(pad(r.name))  " + (r.from == "remote" ? "cached remotely" : "cached")
    case .ran:
      var text =
        "\(pad(r.name))  ran in \(Format.seconds(r.seconds)): "
        + (r.rows > 0 ? "\(Format.count(r.rows)) rows, " : "") + "\(Format.bytes(r.rawBytes)) raw, \(Format.bytes(r.storedBytes)) stored"
      if r.peakMemoryBytes > 0 { text += ", peak \(Format.bytes(r.peakMemoryBytes))" }
      return text
    case .failed where Self.wasInterrupted(r):
      return "\(pad(r.name))  interrupted: stopped before finishing, nothing of it kept; the next run starts it again"
    case .failed: return "\(pad(r.name))  FAILED: \(r.error ?? "unknown error")"
    case .skipped: return "\(pad(r.name))  not run: \(r.reason)"
    }
  }

  /// One stage's progress line, never wider than `columns` (a wrapped line would break the redraw):
  /// name, bar, percentage, elapsed time, the time left estimated from the pace so far, and the
  /// stage's detail. Narrower terminals shorten the detail, then the bar, then drop both.
  static func bar(_ name: String, _ fraction: Double, elapsed: Double, detail: String, columns: Int) -> String {
    let f = min(max(fraction, 0), 1)
    let left = f >= 0.02 && f < 1 ? "  eta " + Format.seconds(elapsed * (1 - f) / f) : ""
    let percent = String(format: "%3d%%", Int(f * 100))
    let figures = percent + "  " + Format.seconds(elapsed) + left
    let fixed = name.count + 2 + 1 + figures.count
    // Up to 30 columns of detail before the bar gives way, down to 10.
    let barWidth = min(24, max(10, columns - fixed - 1 - min(detail.isEmpty ? 0 : detail.count + 2, 30)))
    guard fixed + barWidth < columns else { return String((name + "  " + percent + left).prefix(max(columns - 1, 1))) }
    let filled = Int(f * Double(barWidth))
    var line = name + "  " + String(repeating: "█", count: filled) + String(repeating: "░", count: barWidth - filled) + " " + figures
    let room = columns - 1 - line.count - 2
    if !detail.isEmpty && room >= 4 { line += "  " + (detail.count <= room ? detail : detail.prefix(room - 1) + "…") }
    return line
  }

  /// The terminal's width on stderr (80 when it cannot be told).
  static func terminalColumns() -> Int {
    var size = winsize()
    return ioctl(2, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 0 ? Int(size.ws_col) : 80
  }

  /// Each finished (run or cached) stage's headline, in pipeline order.
  private func headlines(_ record: RunRecord) -> [(String, String)] {
    record.stages.compactMap { r in
      guard r.status == .ran || r.status == .cached, let definition = definitions[r.name], let text = definition.headline(r.figures)
      else { return nil }
      return (r.name, text)
    }
  }

  /// A stage stopped by Ctrl-C, which the record keeps as failed with the cancellation's message.
  static func wasInterrupted(_ r: RunRecord.StageRecord) -> Bool { r.status == .failed && r.error == CancelledError().description }

  private func pad(_ name: String) -> String { name.padding(toLength: width, withPad: " ", startingAt: 0) }

  private func line(_ s: inout State, _ text: String) {
    clear(&s)
    FileHandle.standardError.write(Data((text + "\n").utf8))
  }

  private func clear(_ s: inout State) {
    guard interactive, s.drawnLines > 0 else { return }
    FileHandle.standardError.write(Data(String(repeating: "\u{1B}[1A\u{1B}[2K", count: s.drawnLines).utf8))
    s.drawnLines = 0
  }

  private func redraw(_ s: inout State) {
    guard interactive else { return }
    clear(&s)
    var out = ""
    let columns = Self.terminalColumns()
    for stage in s.order {
      guard let a = s.active[stage] else { continue }
      out += Self.bar(pad(stage), a.fraction, elapsed: Date().timeIntervalSince(a.started), detail: a.detail, columns: columns) + "\n"
    }
    s.drawnLines = s.order.count
    FileHandle.standardError.write(Data(out.utf8))
  }
}

/// Facts about this build recorded in every run record.
enum BuildFacts {
  static var current: [String: String] {
    #if DEBUG
      let build = "debug"
    #else
      let build = "release"
    #endif
    #if HMPIPE_CPU_native
      let cpu = "native"
    #elseif HMPIPE_CPU_x86_64_v3
      let cpu = "x86-64-v3"
    #else
      let cpu = "baseline"
    #endif
    return ["build": build, "cpu_target": cpu]
  }
}
