import Pipeline

/// An H&M artifact as a person reads it, for `inspect` and `export`: internal indexes and codes
/// become the ids, names and dates of the Kaggle files. Inside the pipeline a customer is an index
/// into ingest's `customers`, an article an index into its `articles`, a day a count from the
/// table's `day0`, a name a dictionary code; here
/// - `customer` (u32) becomes `customer_id` (64 hex), and a table of one row per customer without
///   a `customer` column (candidates, predictions) gains `customer_id` as its first column;
/// - `article` (u32) becomes `article_id` (10 digits, with its leading zero), and `articles` /
///   `candidates` lists become lists of article ids;
/// - `id_word0…3` become `customer_id`; `day` becomes `date` (YYYY-MM-DD);
/// - a coded column named in ingest's `dictionaries` becomes its text, `sources` codes their names.
///
/// The ids come from the ingest artifacts among the artifact's ancestors (its provenance), so any
/// artifact of any pipeline decodes against the very ids it was computed from.
public struct ReadableTable {
  var articleIDs: TypedValues<UInt64>?
  var customerWords: [TypedValues<UInt64>]?
  var dictionaries: [String: [String]] = [:]

  /// The raw columns the last `decode` replaced (their min and max say nothing to a person).
  public private(set) var decodedColumns: Set<String> = []

  /// Finds the ingest run `id` comes from (or is an output of) in `store`: its articles, customers
  /// and dictionaries. What it cannot find stays undecoded.
  public init(for id: ArtifactID, in store: Store) {
    let ancestors = Self.ingestAncestors(of: id, in: store)
    if let entry = Self.ingestEntry(producing: Set(ancestors), in: store) {
      for name in ["articles", "customers", "dictionaries"] { if let output = entry.outputs[name] { adopt(output.id, from: store) } }
    } else {
      // The cache entry is gone (gc): the ancestors themselves still give what they hold.
      for ancestor in ancestors { adopt(ancestor, from: store) }
    }
  }

  /// Reads the ids or dictionaries out of one ingest output; only the columns needed.
  private mutating func adopt(_ id: ArtifactID, from store: Store) {
    guard let reader = try? store.reader(id) else { return }
    let names = Set(reader.manifest.columns.map(\.name))
    if names.contains("article_id") {
      articleIDs = try? reader.table(columns: ["article_id"]).column("article_id").values(UInt64.self)
    } else if names.contains("id_word0") {
      let words = (0..<4).map { "id_word\($0)" }
      customerWords = try? reader.table(columns: words).columns.map { try $0.values(UInt64.self) }
    } else if names == ["column", "code", "value"], let table = try? reader.table(), let column = try? table.column("column"),
      let value = try? table.column("value"), let codes = try? table.column("code").values(UInt32.self)
    {
      for row in 0..<table.rowCount {
        var list = dictionaries[column.string(at: row), default: []]
        let at = Int(codes[row])
        if list.count <= at { list += Array(repeating: "", count: at + 1 - list.count) }
        list[at] = value.string(at: row)
        dictionaries[column.string(at: row)] = list
      }
    }
  }

  /// The artifacts made by an ingest stage among `id` and its ancestors.
  static func ingestAncestors(of id: ArtifactID, in store: Store) -> [ArtifactID] {
    var queue = [id], seen: Set<ArtifactID> = [id], found: [ArtifactID] = []
    while let next = queue.popLast() {
      guard let provenance = try? store.reader(next).manifest.provenance else { continue }
      if provenance.kind == IngestStage.kind {
        found.append(next)
        continue
      }
      for input in provenance.inputs.values.sorted() {
        guard let parent = ArtifactID(hex: input), seen.insert(parent).inserted else { continue }
        queue.append(parent)
      }
    }
    return found.sorted()
  }

  /// The cache entry of the ingest run that wrote any of `outputs` (its other outputs are their
  /// siblings).
  static func ingestEntry(producing outputs: Set<ArtifactID>, in store: Store) -> CacheEntry? {
    guard !outputs.isEmpty else { return nil }
    for key in store.allCacheKeys() {
      guard let entry = store.cacheEntry(key), entry.kind == IngestStage.kind,
        entry.outputs.values.contains(where: { outputs.contains($0.id) })
      else { continue }
      return entry
    }
    return nil
  }

  /// `table` with its indexes and codes decoded.
  public mutating func decode(_ table: Table) -> Table {
    decodedColumns = []
    guard table.kind == .table else { return table }
    var columns: [Column] = []
    let customers = customerWords?.first?.count
    let perCustomer =
      customers == table.rowCount && !table.columns.contains { $0.name == "customer" }
      && table.columns.contains { $0.name == "articles" || $0.name == "candidates" }
    if perCustomer, let words = customerWords {
      columns.append(Column("customer_id", strings: (0..<table.rowCount).map { Self.hex(words, $0) }))
    }
    for column in table.columns {
      if let decoded = decode(column, table) {
        decodedColumns.insert(column.name)
        if let decoded = decoded { columns.append(decoded) }
      } else {
        columns.append(column)
      }
    }
    var out = Table(columns, metadata: table.metadata)
    out.kind = table.kind
    return out
  }

  /// The decoded column (nil inside: the column is folded into another, as `id_word1…3`), or nil
  /// when `column` stays as it is.
  private func decode(_ column: Column, _ table: Table) -> Column?? {
    switch (column.name, column.type) {
    case ("customer", .scalar(.u32)):
      guard let words = customerWords, let index = try? column.values(UInt32.self) else { return nil }
      return .some(Column("customer_id", strings: index.map { Int($0) < words[0].count ? Self.hex(words, Int($0)) : "?\($0)" }))
    case ("article", .scalar(.u32)):
      guard let ids = articleIDs, let index = try? column.values(UInt32.self) else { return nil }
      return .some(Column("article_id", strings: index.map { Self.articleText(ids, $0) }))
    case ("articles", .list(.u32)), ("candidates", .list(.u32)):
      guard let ids = articleIDs, let index = try? column.values(UInt32.self) else { return nil }
      return .some(Self.lists(column) { index[$0] }.map { Self.articleText(ids, $0) })
    case ("id_word0", .scalar(.u64)):
      guard let words = try? (0..<4).map({ try table.column("id_word\($0)").values(UInt64.self) }) else { return nil }
      return .some(Column("customer_id", strings: (0..<table.rowCount).map { Self.hex(words, $0) }))
    case ("id_word1", .scalar(.u64)), ("id_word2", .scalar(.u64)), ("id_word3", .scalar(.u64)):
      return table.columns.contains { $0.name == "id_word0" } ? .some(nil) : nil
    case ("day", .scalar(.i32)):
      guard table.metadata["day0"] == KaggleDate.text(day: 0), let days = try? column.values(Int32.self) else { return nil }
      return .some(Column("date", strings: days.map { KaggleDate.text(day: Int($0)) }))
    case ("sources", .list(.u8)):
      guard let names = table.metadata["sources"].map(Self.codeNames), let codes = try? column.values(UInt8.self) else { return nil }
      return .some(Self.lists(column) { codes[$0] }.map { names[Int($0)] ?? String($0) })
    case (let name, .scalar(.u8)), (let name, .scalar(.u16)):
      guard let words = dictionaries[name],
        let codes = column.type == .scalar(.u8)
          ? (try? column.values(UInt8.self))?.map(Int.init) : (try? column.values(UInt16.self))?.map(Int.init)
      else { return nil }
      let null = column.nullSentinel.map(Int.init)
      return .some(Column(name, strings: codes.map { $0 == null ? "" : $0 < words.count ? words[$0] : String($0) }))
    default:
      return nil
    }
  }

  /// A list column's items, one space-separated text per row.
  struct ListText<T> {
    var column: Column
    var item: (Int) -> T
    func map(_ text: (T) -> String) -> Column {
      let offsets = column.offsetBuffer
      return Column(
        column.name,
        strings: (0..<column.rowCount).map { row in
          (Int(offsets[row])..<Int(offsets[row + 1])).map { text(item($0)) }.joined(separator: " ")
        })
    }
  }

  static func lists<T>(_ column: Column, _ item: @escaping (Int) -> T) -> ListText<T> { ListText(column: column, item: item) }

  static func articleText(_ ids: TypedValues<UInt64>, _ index: UInt32) -> String {
    guard Int(index) < ids.count else { return "?\(index)" }
    let digits = String(ids[Int(index)])
    return digits.count >= 10 ? digits : String(repeating: "0", count: 10 - digits.count) + digits
  }

  static func hex(_ words: [TypedValues<UInt64>], _ row: Int) -> String {
    CustomerKey(a: words[0][row], b: words[1][row], c: words[2][row], d: words[3][row]).hex
  }

  /// "1=rank,2=fill" → [1: "rank", 2: "fill"].
  static func codeNames(_ text: String) -> [Int: String] {
    var names: [Int: String] = [:]
    for pair in text.split(separator: ",") {
      let parts = pair.split(separator: "=", maxSplits: 1)
      if parts.count == 2, let code = Int(parts[0]) { names[code] = String(parts[1]) }
    }
    return names
  }
}
