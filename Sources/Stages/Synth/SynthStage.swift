import Pipeline

/// synth: a synthetic H&M data set as file artifacts, so a pipeline can start from nothing.
///
/// Inputs: none. Outputs: `articles`, `customers`, `transactions`, `sample_submission` (CSV files in
/// the Kaggle format), `image_embeddings` (.npy float32) and `image_embeddings_ids` (.npy int64).
/// Params: `scale`, `seed`, `embedding_dims` (docs/synth.md).
public struct SynthStage: Stage {
  public static let kind = "synth"
  /// 3: visits in time order and recent purchases bought again (docs/synth.md).
  public static let version = 3
  public static let inputs: [InputSlot] = []
  public static let outputs = ["articles", "customers", "transactions", "sample_submission", "image_embeddings", "image_embeddings_ids"]

  public struct Params: StageParams {
    public var scale = 0.002
    public var seed = 42
    public var embedding_dims = 512
    public init() {}
  }

  public static func validate(_ params: Params) throws(ParamError) {
    if !(params.scale > 0 && params.scale <= 10) { throw ParamError("scale", "must be in (0, 10], not \(params.scale)") }
    if !(1...8192).contains(params.embedding_dims) {
      throw ParamError("embedding_dims", "must be in 1...8192, not \(params.embedding_dims)")
    }
    if params.seed < 0 { throw ParamError("seed", "must be at least 0") }
  }

  public static func run(_ params: Params, _ context: StageContext) throws {
    let directory = try context.scratchDirectory()
    let summary = try HMSynth.generate(
      into: directory, scale: params.scale, seed: UInt64(params.seed), embeddingDims: params.embedding_dims
    ) { fraction, detail in context.progress(fraction * 0.9, detail) }
    for (output, file) in zip(outputs, SynthFiles.names) {
      try context.checkCancellation()
      try context.write(output, try Table.file(named: file, contentsOfFile: directory + "/" + file))
    }
    context.record("articles", Double(summary.articles))
    context.record("customers", Double(summary.customers))
    context.record("transactions", Double(summary.transactions))
  }
}
