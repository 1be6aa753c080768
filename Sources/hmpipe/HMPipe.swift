import ArgumentParser
import Stages

/// `hmpipe`: runs, inspects and maintains staged, resumable pipelines; ships the H&M
/// recommendation stages.
@main
struct HMPipe: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "hmpipe",
    abstract: "A staged, resumable data-pipeline runner, with the H&M recommendation pipeline.",
    discussion: """
      Every stage writes zstd-compressed columnar artifacts named by content hash; a rerun recomputes \
      only what changed. Start with: hmpipe run pipelines/demo.json
      """,
    version: "0.1.0",
    subcommands: [
      Run.self, Status.self, Runs.self, Diff.self, Report.self, Inspect.self, Dag.self, GC.self, Verify.self, Export.self, Synth.self,
      Push.self, Pull.self,
    ])

  static func main() async {
    Startup.chooseBLASKernel()
    BLAS.stopOwnThreads()
    await main(nil)
  }
}
