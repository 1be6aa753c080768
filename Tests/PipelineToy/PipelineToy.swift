import Foundation
import Pipeline

/// `pipeline-toy run PIPELINE [--jobs N] [--stage S] [--force S] [--until S] [--set k=v]…`: runs a
/// pipeline of toy stages and prints each stage's name and status on stdout. `status PIPELINE`
/// prints the stages' states. Events go to stderr.
@main
struct PipelineToy {
  static func main() async {
    var args = Array(CommandLine.arguments.dropFirst())
    guard args.count >= 2 else {
      FileHandle.standardError.write(Data("usage: pipeline-toy run|status PIPELINE [options]\n".utf8))
      exit(64)
    }
    let command = args.removeFirst()
    let path = args.removeFirst()
    var options = RunOptions(command: "pipeline-toy " + CommandLine.arguments.dropFirst().joined(separator: " "))
    var overrides: [String: JSONValue] = [:]
    while !args.isEmpty {
      let flag = args.removeFirst()
      let value = args.isEmpty ? "" : args.removeFirst()
      switch flag {
      case "--jobs": options.jobs = Int(value) ?? 1
      case "--stage": options.rerun = value
      case "--force": options.force = value
      case "--until": options.until = value
      case "--set":
        let parts = value.split(separator: "=", maxSplits: 1).map(String.init)
        overrides[parts[0]] = (try? JSONValue.parse(Data(parts[1].utf8))) ?? .string(parts[1])
      default: fail("unknown option \(flag)")
      }
    }
    do {
      let spec = try PipelineLoader(registry: ToyStages.registry, overrides: overrides).load(path)
      let store = try Store(root: spec.storePath)
      let runner = Runner(spec: spec, store: store, options: options) { event in
        FileHandle.standardError.write(Data("\(describe(event))\n".utf8))
      }
      if command == "status" {
        for s in try runner.status() { print("\(s.name) \(s.state.rawValue) \(s.reason)") }
        return
      }
      let record = try await runner.run()
      for stage in record.stages { print("\(stage.name) \(stage.status.rawValue)") }
      exit(record.stages.allSatisfy { $0.status == .ran || $0.status == .cached } ? 0 : 1)
    } catch {
      fail("\(error)")
    }
  }

  static func describe(_ event: RunEvent) -> String {
    switch event {
    case .waitingForLock(let holder): "waiting for the store lock held by pid \(holder?.pid ?? -1)"
    case .clearedStaleLock(let holder): "cleared a stale lock left by pid \(holder.pid)"
    case .removedTemporaryFiles(let n): "removed \(n) unfinished files"
    case .stageStarted(let s, let reason): "\(s): started (\(reason))"
    case .stageProgress(let s, let f, _): "\(s): \(Int(f * 100))%"
    case .stageMessage(let s, let m): "\(s): \(m)"
    case .stageFinished(let r): "\(r.name): \(r.status.rawValue) \(r.error ?? "")"
    case .recovered(let s, let m): "\(s): \(m)"
    case .remote(let m): "remote: \(m)"
    }
  }

  static func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    exit(1)
  }
}
