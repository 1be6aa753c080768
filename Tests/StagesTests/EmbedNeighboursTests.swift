import Foundation
import Pipeline
import Testing

@testable import Stages

@Suite struct EmbedNeighboursTests {
  /// synth → ingest → embed-neighbours, with or without the image embeddings.
  static func run(withImages: Bool, k: Int = 5) async throws -> (Table, Table, TemporaryDirectory) {
    let dir = TemporaryDirectory()
    let images = withImages ? #", "embeddings": "data.image_embeddings", "embedding_ids": "data.image_embeddings_ids""# : ""
    dir.write(
      "p.json",
      """
      {"store": "store", "stages": [
        {"name": "data", "kind": "synth", "params": {"scale": 0.0005, "seed": 5, "embedding_dims": 16}},
        {"name": "ingest", "kind": "ingest", "inputs": {"articles": "data.articles", "customers": "data.customers", "transactions": "data.transactions"}},
        {"name": "knn", "kind": "embed-neighbours", "params": {"k": \(k)}, "inputs": {"articles": "ingest.articles"\(images)}}
      ]}
      """)
    let spec = try PipelineLoader(registry: HMStages.registry).load(dir.path + "/p.json")
    let store = try Store(root: spec.storePath)
    let record = try await Runner(spec: spec, store: store, options: RunOptions()).run()
    #expect(record.stages.allSatisfy { $0.status == .ran }, "\(record.stages.compactMap(\.error))")
    let knn = try store.reader(record.stages[2].outputs["neighbours"]!).table()
    let articles = try store.reader(record.stages[1].outputs["articles"]!).table()
    return (knn, articles, dir)
  }

  @Test func imageNeighboursFindColourVariantsAndSkipMissingImages() async throws {
    let (knn, articles, dir) = try await Self.run(withImages: true)
    let column = try knn.column("neighbours")
    let neighbours = try column.values(UInt32.self)
    let codes = try articles.column("product_code").values(Int32.self)
    var withNone = 0, topSameProduct = 0, candidates = 0
    for a in 0..<knn.rowCount {
      let range = column.range(of: a)
      if range.isEmpty {
        withNone += 1
        continue
      }
      #expect(range.count == 5)
      #expect(!range.contains { neighbours[$0] == UInt32(a) }, "an article is not its own neighbour")
      let siblings = (0..<articles.rowCount).filter { $0 != a && codes[$0] == codes[a] && !column.range(of: $0).isEmpty }
      if !siblings.isEmpty {
        candidates += 1
        if codes[Int(neighbours[range.lowerBound])] == codes[a] { topSameProduct += 1 }
      }
    }
    // About 0.42% of articles have no image; none of them appears as a neighbour.
    #expect(withNone < knn.rowCount / 50)
    let noImage = Set((0..<knn.rowCount).filter { column.range(of: $0).isEmpty }.map(UInt32.init))
    #expect(!neighbours.contains { noImage.contains($0) })
    // At random the top neighbour would share the product almost never; 16-d synthetic features give ~90%.
    #expect(Double(topSameProduct) / Double(candidates) > 0.8, "colour variants of a product lie closest")
    _ = dir
  }

  @Test func contentEmbeddingsWithoutAnImageModel() async throws {
    let (knn, articles, dir) = try await Self.run(withImages: false, k: 3)
    let column = try knn.column("neighbours")
    let neighbours = try column.values(UInt32.self)
    let types = try articles.column("product_type_no").values(Int32.self)
    var sameType = 0
    for a in 0..<knn.rowCount {
      let range = column.range(of: a)
      #expect(range.count == 3)
      if types[Int(neighbours[range.lowerBound])] == types[a] { sameType += 1 }
    }
    #expect(Double(sameType) / Double(knn.rowCount) > 0.8, "articles of the same type lie closest")
    _ = dir
  }

  @Test func numpyFloat16AndErrors() throws {
    let values: [Float16] = [1.5, -2, 0.25, 65504, 0, -0.125]
    let bytes =
      NumpyFormat.header(descr: "<f2", shape: [3, 2]) + values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian) { Array($0) } }
    let matrix = try bytes.withUnsafeBytes { try NumpyMatrix(InputBytes(name: "e.npy", bytes: $0, owner: NSObject())) }
    #expect(matrix.rows == 3 && matrix.columns == 2)
    #expect(matrix.floats == values.map(Float.init))
    let truncated = Array(bytes.dropLast(3))
    #expect(throws: NumpyMatrix.FormatError.self) {
      try truncated.withUnsafeBytes { try NumpyMatrix(InputBytes(name: "e.npy", bytes: $0, owner: NSObject())) }
    }
    let notNumpy = Array("article_id\n".utf8)
    #expect(throws: NumpyMatrix.FormatError.self) {
      try notNumpy.withUnsafeBytes { try NumpyMatrix(InputBytes(name: "e.npy", bytes: $0, owner: NSObject())) }
    }
  }
}
