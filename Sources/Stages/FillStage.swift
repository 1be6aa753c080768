import Pipeline

/// fill: customers with fewer than `size` ranked articles get a seeded random sample, without
/// replacement, of their remaining candidates (the seed sampled with replacement and unseeded, and
/// so produced duplicates and a different answer every run).
///
/// Inputs: `candidates` (filter's), `ranked` (rank's). Output: `predictions` (`PredictionsTable`):
/// the ranked articles, then the sampled ones. Params: `size` (default 12), `seed`.
public struct FillStage: Stage {
  public static let kind = "fill"
  public static let version = 1
  public static let inputs = [InputSlot("candidates"), InputSlot("ranked")]
  public static let outputs = ["predictions"]

  public struct Params: StageParams {
    public var size = 12
    public var seed = 0
    public init() {}
  }

  public static func validate(_ p: Params) throws(ParamError) {
    try ParamError.check("size", p.size, in: 1...1000)
  }

  public static func run(_ p: Params, _ context: StageContext) throws {
    let candidates = try ArticleLists.candidates.lists(context, "candidates")
    let ranked = try ArticleLists.ranked.lists(context, "ranked")
    guard ranked.rowCount == candidates.rowCount else {
      throw StageInputError(
        stage: context.stage, slot: "ranked", detail: "has \(ranked.rowCount) rows for \(candidates.rowCount) customers")
    }
    let result = try fill(candidates: candidates, ranked: ranked, size: p.size, seed: UInt64(p.seed))
    context.record("filled", Double(result.items.filter { $0.source == .fill }.count))
    try context.write("predictions", PredictionsTable.make(offsets: result.offsets, result.items))
  }

  static func fill(candidates: Column, ranked: Column, size: Int, seed: UInt64) throws -> (offsets: [UInt64], items: [Prediction]) {
    let candidateOffsets = candidates.offsetBuffer, candidateLists = try candidates.values(UInt32.self)
    let rankedOffsets = ranked.offsetBuffer, rankedLists = try ranked.values(UInt32.self)
    return ListBuilder.build(rows: candidates.rowCount, scratch: { [UInt32]() }) { customer, pool, chunk in
      let best = rankedLists[Int(rankedOffsets[customer])..<Int(rankedOffsets[customer + 1])].prefix(size)
      for a in best { chunk.items.append(Prediction(article: a, source: .rank)) }
      let need = size - best.count
      guard need > 0 else { return }
      pool.removeAll(keepingCapacity: true)
      for i in Int(candidateOffsets[customer])..<Int(candidateOffsets[customer + 1]) where !best.contains(candidateLists[i]) {
        pool.append(candidateLists[i])
      }
      // A partial Fisher–Yates shuffle: the first `need` slots become a uniform sample.
      var random = CounterRandom(seed: seed, stream: 7, index: UInt64(customer))
      for i in 0..<min(need, pool.count) {
        pool.swapAt(i, i + random.below(pool.count - i))
        chunk.items.append(Prediction(article: pool[i], source: .fill))
      }
    }
  }
}
