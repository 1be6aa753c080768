import ArgumentParser
import Foundation
import Pipeline
import Stages

/// `hmpipe synth`: Kaggle-format synthetic H&M data.
struct Synth: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Write a synthetic H&M data set in the Kaggle files' format (docs/synth.md).",
    discussion: "Scale 1 matches the real data: 31.8M transactions, 1.37M customers, 105k articles.")

  @Argument(
    help: "The folder to write articles.csv, customers.csv, transactions_train.csv, sample_submission.csv and the image embeddings into.")
  var directory: String

  @Option(help: "Size relative to the real data (customers and transactions scale linearly, articles with the square root).")
  var scale = 0.01

  @Option(help: "Random seed: the same scale and seed give the same bytes.")
  var seed: UInt64 = 42

  @Option(help: "Width of the image embeddings.")
  var embeddingDims = 512

  func validate() throws {
    guard scale > 0 && scale <= 10 else { throw ValidationError("--scale must be in (0, 10], not \(scale)") }
    guard embeddingDims > 0 && embeddingDims <= 8192 else { throw ValidationError("--embedding-dims must be in 1...8192") }
  }

  func run() async throws {
    let started = Date()
    let bar = ProgressView(names: ["synth"])
    let summary = try HMSynth.generate(into: directory, scale: scale, seed: seed, embeddingDims: embeddingDims) { fraction, detail in
      bar.handle(.stageProgress(stage: "synth", fraction: fraction, detail: detail))
    }
    bar.note("synth done in \(Format.seconds(Date().timeIntervalSince(started)))")
    print(
      "wrote \(directory): \(Format.count(summary.articles)) articles, \(Format.count(summary.customers)) customers, \(Format.count(summary.transactions)) transactions"
    )
  }
}
