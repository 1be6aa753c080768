import ArgumentParser
import Pipeline

/// `hmpipe dag`: the pipeline's graph, for people or for Graphviz and Mermaid.
struct Dag: AsyncParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Print the pipeline's DAG as text, Graphviz dot or Mermaid.")

  @OptionGroup var options: PipelineOptions

  @Option(help: "text, dot or mermaid.")
  var format: DagRenderer.Format = .text

  func run() async throws {
    let (spec, _) = try options.load()
    print(DagRenderer.render(spec, as: format))
  }
}
