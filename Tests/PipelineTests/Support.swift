import Foundation
import Pipeline
@_exported import TestSupport

@testable import pipeline_toy

/// A toy pipeline: source → clamp → sum, plus a file reader. `vars` fill its params.
func toyPipeline(count: Int = 100, max: Int = 1_000_000, columns: Int = 1, delay: Int = 0) -> String {
  """
  {"name": "toy", "store": "store",
   "vars": {"count": \(count), "max": \(max), "columns": \(columns), "delay": \(delay)},
   "stages": [
    {"name": "source", "kind": "toy-source", "params": {"count": "${count}", "columns": "${columns}", "delay_ms": "${delay}"}},
    {"name": "clamp", "kind": "toy-clamp", "params": {"max": "${max}"}, "inputs": {"numbers": "source.numbers"}},
    {"name": "sum", "kind": "toy-sum", "inputs": {"numbers": "clamp"}},
    {"name": "scale", "kind": "toy-scale", "inputs": {"numbers": "source"}}
   ]}
  """
}

/// Runs a toy pipeline file in this process.
func runToy(
  _ path: String, _ options: RunOptions = RunOptions(jobs: 2), set overrides: [String: JSONValue] = [:]
) async throws -> RunRecord {
  let spec = try PipelineLoader(registry: ToyStages.registry, overrides: overrides).load(path)
  return try await Runner(spec: spec, store: try Store(root: spec.storePath), options: options).run()
}

func statuses(_ record: RunRecord) -> [String: RunRecord.StageRecord.Status] {
  Dictionary(uniqueKeysWithValues: record.stages.map { ($0.name, $0.status) })
}

/// Starts `pipeline-toy` with `arguments` (and `environment` added to this process's), stdout and
/// stderr to files in `directory`.
func startToy(_ arguments: [String], in directory: String, tag: String, environment: [String: String] = [:]) throws -> Process {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: builtExecutable("pipeline-toy"))
  process.arguments = arguments
  process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
  process.currentDirectoryURL = URL(fileURLWithPath: directory)
  _ = FileManager.default.createFile(atPath: "\(directory)/\(tag).out", contents: nil)
  _ = FileManager.default.createFile(atPath: "\(directory)/\(tag).err", contents: nil)
  process.standardOutput = FileHandle(forWritingAtPath: "\(directory)/\(tag).out")
  process.standardError = FileHandle(forWritingAtPath: "\(directory)/\(tag).err")
  try process.run()
  return process
}

func contents(_ path: String) -> String {
  (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
}

/// Waits until `condition` holds, up to `seconds`.
func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
  let deadline = Date().addingTimeInterval(seconds)
  while Date() < deadline {
    if condition() { return true }
    usleep(20_000)
  }
  return condition()
}
