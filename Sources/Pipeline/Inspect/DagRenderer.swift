/// Draws a pipeline's DAG as text, Graphviz dot, or Mermaid.
public enum DagRenderer {
  public enum Format: String, Sendable, CaseIterable { case text, dot, mermaid }

  public static func render(_ spec: PipelineSpec, as format: Format) -> String {
    switch format {
    case .text: text(spec)
    case .dot: dot(spec)
    case .mermaid: mermaid(spec)
    }
  }

  static func edges(_ spec: PipelineSpec) -> [(from: String, to: String, label: String)] {
    spec.stages.flatMap { stage in
      stage.inputs.sorted { $0.key < $1.key }.map { slot, reference in
        switch reference {
        case .output(let producer, let output):
          (producer, stage.name, "\(output.isEmpty ? spec.stage(producer)?.definition.outputs.first ?? "" : output) → \(slot)")
        case .file(let path):
          ("file:" + FileSystem.basename(of: path), stage.name, slot)
        }
      }
    }
  }

  static func text(_ spec: PipelineSpec) -> String {
    var lines = ["\(spec.name): \(spec.stages.count) stages"]
    for stage in spec.stages {
      lines.append("  \(stage.name) [\(stage.kind)] → \(stage.definition.outputs.joined(separator: ", "))")
      for (slot, reference) in stage.inputs.sorted(by: { $0.key < $1.key }) {
        lines.append("      \(slot) ← \(reference)")
      }
    }
    return lines.joined(separator: "\n")
  }

  static func dot(_ spec: PipelineSpec) -> String {
    var lines = ["digraph \"\(spec.name)\" {", "  rankdir=LR;", "  node [shape=box];"]
    for stage in spec.stages { lines.append("  \"\(stage.name)\" [label=\"\(stage.name)\\n\(stage.kind)\"];") }
    for file in Set(edges(spec).map(\.from).filter { $0.hasPrefix("file:") }).sorted() {
      lines.append("  \"\(file)\" [shape=note];")
    }
    for e in edges(spec) { lines.append("  \"\(e.from)\" -> \"\(e.to)\" [label=\"\(e.label)\"];") }
    lines.append("}")
    return lines.joined(separator: "\n")
  }

  static func mermaid(_ spec: PipelineSpec) -> String {
    func id(_ name: String) -> String { name.map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined() }
    var lines = ["flowchart LR"]
    for stage in spec.stages { lines.append("  \(id(stage.name))[\"\(stage.name)<br/>\(stage.kind)\"]") }
    for file in Set(edges(spec).map(\.from).filter { $0.hasPrefix("file:") }).sorted() {
      lines.append("  \(id(file))[/\"\(file.dropFirst(5))\"/]")
    }
    for e in edges(spec) { lines.append("  \(id(e.from)) -->|\"\(e.label)\"| \(id(e.to))") }
    return lines.joined(separator: "\n")
  }
}
