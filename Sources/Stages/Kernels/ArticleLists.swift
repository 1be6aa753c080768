import Pipeline

/// The tables of one article list per row that pass between stages, their column names in one
/// place: `neighbours` (embed-neighbours: per article, its nearest articles and their similarity),
/// `candidates` (filter: per customer), `ranked` (rank: per customer, best first, with scores).
/// Lists are u32 article indexes; scores f32 beside them.
public enum ArticleLists: Sendable {
  case neighbours, candidates, ranked

  /// The list column's name.
  public var listColumn: String {
    switch self {
    case .neighbours: "neighbours"
    case .candidates: "candidates"
    case .ranked: "articles"
    }
  }

  /// The table of `items` (row r's are `items[offsets[r]..<offsets[r+1]]`), with `scores` when the
  /// kind has them.
  public func make(offsets: [UInt64], items: [UInt32], scores: [Float]? = nil) -> Table {
    var columns = [Column(listColumn, offsets: offsets, values: items)]
    if let scores { columns.append(Column("scores", offsets: offsets, values: scores)) }
    return Table(columns)
  }

  /// The list column of input `slot`.
  public func lists(_ context: StageContext, _ slot: String) throws -> Column {
    try context.column(slot, listColumn)
  }
}

/// ALS factor tables (`users`, `items`): the model's row ids (`customer` or `article` index) and
/// `factors` (list<f32>, the same length in every row, also in the metadata for an empty model).
public enum FactorTable {
  public static func make(idName: String, ids: [UInt32], _ m: FactorMatrix) -> Table {
    Table(
      [
        Column(idName, ids),
        Column("factors", offsets: (0...ids.count).map { UInt64($0 * m.factors) }, values: m.flat),
      ],
      metadata: ["factors": "\(m.factors)"])
  }

  /// Input `slot` as a padded matrix, and index → model row (−1 when not in the model) for indexes
  /// below `count` (or the largest id).
  public static func read(_ context: StageContext, _ slot: String, idName: String, count: Int) throws -> (FactorMatrix, [Int32]) {
    let table = try context.table(slot)
    let ids = try table.column(idName).values(UInt32.self), column = try table.column("factors")
    let width = table.rowCount == 0 ? Int(table.metadata["factors"] ?? "1") ?? 1 : column.range(of: 0).count
    let matrix = FactorMatrix(rows: table.rowCount, factors: max(width, 1), flat: try column.values(Float.self))
    var row = [Int32](repeating: -1, count: max(count, Int(ids.max().map { $0 + 1 } ?? 0)))
    for (r, id) in ids.enumerated() { row[Int(id)] = Int32(r) }
    return (matrix, row)
  }
}
