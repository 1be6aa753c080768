import Foundation
import Pipeline

/// `hmpipe synth`: a Kaggle-format H&M data set at any scale (docs/synth.md has the model).
public enum HMSynth {
  /// What was written.
  public struct Summary: Sendable {
    public var articles: Int
    public var customers: Int
    public var transactions: Int
    public var files: [String]
  }

  /// Writes the files into `directory` (created when missing). Same scale and seed give the same
  /// bytes, whatever the thread count.
  /// - Parameter progress: the fraction done and what is being done, from any thread.
  public static func generate(
    into directory: String, scale: Double, seed: UInt64, embeddingDims: Int = 512,
    progress: @escaping @Sendable (Double, String) -> Void = { _, _ in }
  ) throws -> Summary {
    try FileSystem.makeDirectories(directory)
    let path = { (name: String) in directory + "/" + name }
    progress(0, "articles")
    let catalog = SynthCatalog(scale: scale, seed: seed)
    try SynthFiles.writeArticles(catalog, to: path("articles.csv"))
    progress(0.02, "customers")
    let customers = SynthCustomers(scale: scale, seed: seed)
    try SynthFiles.writeCustomers(customers, seed: seed, to: path("customers.csv"))
    let tx = SynthTransactions.generate(catalog: catalog, customers: customers, scale: scale, seed: seed) { f in
      progress(0.05 + 0.45 * f, "transactions")
    }
    try SynthFiles.writeTransactions(tx, catalog: catalog, customers: customers, to: path("transactions_train.csv")) { f in
      progress(0.5 + 0.4 * f, "writing transactions_train.csv")
    }
    try SynthFiles.writeSampleSubmission(tx, catalog: catalog, customers: customers, to: path("sample_submission.csv"))
    progress(0.92, "image embeddings")
    try SynthEmbeddings.write(
      catalog, dims: embeddingDims, seed: seed, matrix: path("image_embeddings.npy"), ids: path("image_embeddings_ids.npy"))
    progress(1, "done")
    return Summary(articles: catalog.articleCount, customers: customers.count, transactions: tx.count, files: SynthFiles.names)
  }
}

extension HMSynth {
  /// The synthetic transactions as the typed columns ingest produces (day, customer and article
  /// indexes, price, channel), without writing CSV: for benchmarks and tests.
  public static func transactionColumns(scale: Double, seed: UInt64) -> Table {
    let catalog = SynthCatalog(scale: scale, seed: seed)
    let customers = SynthCustomers(scale: scale, seed: seed)
    let tx = SynthTransactions.generate(catalog: catalog, customers: customers, scale: scale, seed: seed) { _ in }
    return Table([
      Column("day", tx.day), Column("customer", tx.customer), Column("article", tx.article),
      Column("price", tx.priceCents.map { Float(Double($0) / 100 / 590) }), Column("channel", tx.channel),
    ])
  }
}
