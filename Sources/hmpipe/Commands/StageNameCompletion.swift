import ArgumentParser
import Pipeline
import Stages

/// Shell completion of stage names (`--stage`, `--force`, `--until`, `inspect`'s and `export`'s
/// STAGE.OUTPUT): the stages of the pipeline file already on the command line.
enum StageNameCompletion {
  static let stages = CompletionKind.custom { words, _, _ in names(in: words, outputs: false) }
  static let outputs = CompletionKind.custom { words, _, _ in names(in: words, outputs: true) }

  /// The first `.json` word's stages (with `outputs`, also each `stage.output`); none when it does
  /// not load.
  static func names(in words: [String], outputs: Bool) -> [String] {
    guard let file = words.first(where: { $0.hasSuffix(".json") }),
      let spec = try? PipelineLoader(registry: HMStages.registry).load(file)
    else { return [] }
    return spec.stages.flatMap { stage in
      [stage.name] + (outputs ? stage.definition.outputs.map { stage.name + "." + $0 } : [])
    }
  }
}
