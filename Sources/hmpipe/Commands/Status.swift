import ArgumentParser
import Pipeline

/// `hmpipe status`: which stages are fresh, which stale, and why.
struct Status: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Show each stage as fresh or stale, and why (which part of its key changed).")

  @OptionGroup var options: PipelineOptions
  @OptionGroup var remote: RemoteOptions

  @Flag(help: "Print {\"stages\":[{\"name\",\"state\",\"reason\"}]} on stdout.")
  var json = false

  func run() async throws {
    let (spec, store) = try options.load(remote: remote)
    let states = try await offloaded { try Runner(spec: spec, store: store, options: RunOptions()).status() }
    if json {
      let stages: [JSONValue] = states.map {
        .object(["name": .string($0.name), "state": .string($0.state.rawValue), "reason": .string($0.reason)])
      }
      print(JSONValue.object(["stages": .array(stages)]).canonical)
      return
    }
    print(Format.table([["STAGE", "STATE", "WHY"]] + states.map { [$0.name, $0.state.rawValue, $0.reason] }))
  }
}
