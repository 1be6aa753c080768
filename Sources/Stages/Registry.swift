import Pipeline

/// The H&M stage kinds, as the `hmpipe` command registers them.
public enum HMStages {
  public static let registry = StageRegistry([
    SynthStage.self, IngestStage.self, SplitStage.self, EmbedNeighboursStage.self, FilterStage.self,
    AlsTrainStage.self, RankStage.self, FillStage.self, FallbackStage.self, SubmitStage.self, EvaluateStage.self,
    RepurchaseStage.self, ProductVariantsStage.self, AlsCandidatesStage.self, TrendingStage.self, CoPurchaseStage.self,
    MergeCandidatesStage.self,
    FeaturesStage.self, TrainRankerStage.self, ScoreStage.self, CommandStage.self,
  ])
}
