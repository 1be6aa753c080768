import Pipeline

/// embed-neighbours: the k most cosine-similar articles of every article, from image embeddings.
///
/// Inputs: `articles` (ingest's); optional `embeddings` (.npy float32/float16, one row per image) and
/// `embedding_ids` (.npy int64 article ids in row order), as files or file artifacts. Without
/// embeddings, content embeddings are built from the article attributes (docs in the stage below).
/// Output: `neighbours`, one row per article (by article index): `neighbours` (list<u32> of article
/// indexes, best first) and `scores` (list<f32>). Articles with no image (a zero or missing row) get
/// none and are nobody's neighbour. Params: `k` (default 10); `pca_dims` (default 0: off) projects
/// the embeddings onto their top principal components first (`PCA`), as is usual for 2048-d image
/// features: the search is then that many times cheaper.
public struct EmbedNeighboursStage: Stage {
  public static let kind = "embed-neighbours"
  /// 2: neighbours are the exact top-K of a fixed-order re-scoring (the same on every BLAS kernel),
  /// and PCA multiplies exact integers.
  public static let version = 2
  public static let inputs = [
    InputSlot("articles"), InputSlot("embeddings", optional: true, accepts: .either),
    InputSlot("embedding_ids", optional: true, accepts: .either),
  ]
  public static let outputs = ["neighbours"]

  public struct Params: StageParams {
    public var k = 10
    public var pca_dims = 0
    public init() {}
  }

  public static func validate(_ params: Params) throws(ParamError) {
    try ParamError.check("k", params.k, in: 1...1000)
    if !(0...4096).contains(params.pca_dims) { throw ParamError("pca_dims", "must be 0 (off) or in 1...4096, not \(params.pca_dims)") }
  }

  public static func run(_ params: Params, _ context: StageContext) throws {
    let articles = try context.table("articles")
    let ids = Array(try articles.column("article_id").values(UInt64.self))
    var (matrix, dims) =
      context.hasInput("embeddings")
      ? try imageEmbeddings(context, articleIDs: ids)
      : (try ContentEmbeddings.make(articles), ContentEmbeddings.dims)
    if params.pca_dims > 0 {
      guard params.pca_dims < dims else {
        throw StageInputError(
          stage: context.stage, slot: "embeddings", detail: "are \(dims) wide: pca_dims \(params.pca_dims) must be less")
      }
      context.progress(0, "PCA to \(params.pca_dims) dimensions")
      matrix = PCA.project(matrix, rows: ids.count, dims: dims, components: params.pca_dims)
      dims = params.pca_dims
    }
    context.record("embedding_dims", Double(dims))
    let result = matrix.withUnsafeBufferPointer {
      TopKCosine.neighbours(
        of: $0, rows: ids.count, dims: dims, k: params.k,
        progress: { context.progress($0, "top-\(params.k) neighbours") }, cancelled: { context.isCancelled })
    }
    try context.checkCancellation()
    context.record("rows_searched_again", Double(result.rowsSearchedAgain))
    context.record("articles_with_neighbours", Double(ListBuilder.nonEmptyRows(result.offsets)))
    try context.write("neighbours", ArticleLists.neighbours.make(offsets: result.offsets, items: result.neighbours, scores: result.scores))
  }

  /// The embedding rows laid out by article index; articles without a row stay zero.
  static func imageEmbeddings(_ context: StageContext, articleIDs: [UInt64]) throws -> ([Float], Int) {
    let matrix = try NumpyMatrix(try context.bytes("embeddings"))
    guard context.hasInput("embedding_ids") else {
      throw StageInputError(stage: context.stage, slot: "embedding_ids", detail: "is needed with embeddings: the article id of each row")
    }
    let ids = try NumpyMatrix(try context.bytes("embedding_ids"))
    guard ids.integers.count == matrix.rows else {
      throw StageInputError(
        stage: context.stage, slot: "embedding_ids", detail: "has \(ids.integers.count) ids for \(matrix.rows) embedding rows")
    }
    let index = IDIndex(articleIDs)
    let dims = matrix.columns
    var laidOut = [Float](repeating: 0, count: articleIDs.count * dims)
    var unknown = 0
    for (row, id) in ids.integers.enumerated() {
      guard id > 0, let a = index.index(of: UInt64(id)) else {
        unknown += 1
        continue
      }
      for d in 0..<dims { laidOut[a * dims + d] = matrix.floats[row * dims + d] }
    }
    context.record("embedding_rows_unknown_article", Double(unknown))
    return (laidOut, dims)
  }
}

/// Content embeddings for when no image model's output is given: the sum of a fixed random unit
/// vector per attribute value (product type, product group, colour, perceived colour, graphical
/// appearance, department, index, section, garment group), weighted so the product type and colour
/// count most. Articles sharing more attributes lie closer.
enum ContentEmbeddings {
  static let dims = 64
  static let attributes: [(String, Float)] = [
    ("product_type_no", 1.0), ("product_group_name", 0.5), ("colour_group_code", 0.8), ("perceived_colour_master_id", 0.4),
    ("graphical_appearance_no", 0.5), ("department_no", 0.6), ("index_code", 0.4), ("section_no", 0.4), ("garment_group_no", 0.4),
  ]

  static func make(_ articles: Table) throws -> [Float] {
    var out = [Float](repeating: 0, count: articles.rowCount * dims)
    var vector = [Float](repeating: 0, count: dims)
    for (stream, (name, weight)) in attributes.enumerated() {
      guard let column = try? articles.column(name) else { continue }
      let values: [Int64] =
        switch column.type.valueType {
        case .i32: try column.values(Int32.self).map(Int64.init)
        case .u16: try column.values(UInt16.self).map(Int64.init)
        default: []
        }
      for (a, value) in values.enumerated() where value != Int64(Int32.min) && value != Int64(UInt16.max) {
        SynthEmbeddings.gaussian(seed: 77, stream: UInt64(100 + stream), key: UInt64(bitPattern: value), into: &vector)
        for d in 0..<dims { out[a * dims + d] += weight * vector[d] }
      }
    }
    return out
  }
}
