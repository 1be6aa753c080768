import Pipeline

/// ingest: the three Kaggle CSVs to typed tables; ids become dense indexes here, once.
///
/// Inputs: `articles`, `customers`, `transactions` (files on disk, or file artifacts of `synth`).
/// Outputs: `articles` (one row per article, its index = row), `customers` (likewise),
/// `transactions` (day since 2018-09-20, customer and article index, price, channel) and
/// `dictionaries` (the values behind every category code).
/// Params: `bad_rows` (fail | skip), `missing_customers` and `missing_articles` (add | drop | fail):
/// what to do with transactions whose customer or article is not in its file. `add` (the default)
/// keeps the rows and adds the id with unknown attributes (flagged by `in_customers_file` /
/// `in_articles_file` = 0); `drop` drops the rows; both are counted in the run record.
/// `first_date` (default 2000-01-01) and `last_date` (default "": the run's day): a transaction
/// dated outside them is a bad row. Only the columns some stage reads are required (the ids and
/// `t_dat`); an absent known column is a warning and a null column listed in `absent_columns`,
/// and a stage that reads it by name stops with a sentence saying so.
public struct IngestStage: Stage {
  public static let kind = "ingest"
  /// 2: only the columns some stage reads are required; absent ones are null columns listed in
  /// `absent_columns`; the channel column names its null (255).
  public static let version = 2
  public static let inputs = [
    InputSlot("articles", accepts: .either), InputSlot("customers", accepts: .either), InputSlot("transactions", accepts: .either),
  ]
  public static let outputs = ["articles", "customers", "transactions", "dictionaries"]

  public enum MissingPolicy: String, ParamChoice { case add, drop, fail }

  public struct Params: StageParams {
    public var bad_rows = BadRowPolicy.fail
    public var missing_customers = MissingPolicy.add
    public var missing_articles = MissingPolicy.add
    /// Transactions dated outside first_date…last_date are bad rows; last_date "" is the run's day.
    public var first_date = "2000-01-01"
    public var last_date = ""
    public init() {}
  }

  public static func validate(_ p: Params) throws(ParamError) {
    if KaggleDate.day(p.first_date) == nil { throw ParamError("first_date", "must be a date as YYYY-MM-DD, not \"\(p.first_date)\"") }
    if !p.last_date.isEmpty && KaggleDate.day(p.last_date) == nil {
      throw ParamError("last_date", "must be a date as YYYY-MM-DD or \"\" (the run's day), not \"\(p.last_date)\"")
    }
  }

  /// The plausible transaction days.
  static func days(_ p: Params) -> ClosedRange<Int32> {
    let first = KaggleDate.day(p.first_date)!, last = p.last_date.isEmpty ? KaggleDate.today : KaggleDate.day(p.last_date)!
    return first...max(first, last)
  }

  public static func run(_ params: Params, _ context: StageContext) throws {
    let articleBytes = try context.bytes("articles")
    let articles = try ArticlesReader.read(articleBytes, badRows: params.bad_rows)
    try requireRows(articles.ids.count, articleBytes.name)
    let customerBytes = try context.bytes("customers")
    let customers = try CustomersReader.read(customerBytes, badRows: params.bad_rows)
    try requireRows(customers.keys.count, customerBytes.name)
    let customerIndex = IDIndex(customers.keys)
    if let duplicate = customerIndex.firstDuplicate {
      throw CSVError(
        code: .badField, file: customerBytes.name, line: 0, field: "customer_id",
        message: "customer \(duplicate.hex) appears twice")
    }
    let transactionBytes = try context.bytes("transactions")
    let (columns, parts, skipped, absentTransactionColumns) = try TransactionsReader.read(
      transactionBytes, customers: customerIndex, articles: IDIndex(articles.ids), badRows: params.bad_rows,
      days: days(params), context: context)
    try context.checkCancellation()
    var merged = TransactionMerge(columns: columns, parts: parts, customersInFile: customers.keys.count, articlesInFile: articles.ids.count)
    let rows = merged.rows
    try requireRows(rows, transactionBytes.name)
    let addedCustomers = try merged.resolveCustomers(params.missing_customers, file: transactionBytes.name)
    let addedArticles = try merged.resolveArticles(params.missing_articles, file: transactionBytes.name)
    context.progress(0.92, "writing tables")

    var dictionaries = DictionaryBuilder()
    let tables = [
      ("articles", ArticlesReader.table(articles, added: addedArticles, dictionaries: &dictionaries), articleBytes.name),
      ("customers", CustomersReader.table(customers, added: addedCustomers, dictionaries: &dictionaries), customerBytes.name),
      ("transactions", merged.table(absent: absentTransactionColumns), transactionBytes.name),
    ]
    for (name, table, file) in tables {
      if !table.absentColumns.isEmpty {
        context.warn(
          "\(file) has no column \(table.absentColumns.joined(separator: ", ")): written as nulls; a stage that needs one will say so")
      }
      try context.write(name, table)
    }
    try context.write("dictionaries", dictionaries.table)

    context.record("rows.articles", Double(articles.ids.count))
    context.record("rows.customers", Double(customers.keys.count))
    context.record("rows.transactions", Double(rows))
    context.record("bad_rows_skipped.articles", Double(articles.skipped))
    context.record("bad_rows_skipped.customers", Double(customers.skipped))
    context.record("bad_rows_skipped.transactions", Double(skipped))
    for (name, value) in merged.figures { context.record(name, Double(value)) }
    for line in merged.notes { context.log(line) }
  }

  static func requireRows(_ count: Int, _ file: String) throws {
    if count == 0 { throw CSVError(code: .empty, file: file, line: 0, field: "", message: "has a header but no rows") }
  }
}

/// The parsed rows closed up into one run (a piece holds fewer rows than its byte bound), with the
/// missing-id policies applied in place.
struct TransactionMerge {
  let columns: TransactionColumns
  let customersInFile: Int
  let articlesInFile: Int
  private(set) var rows = 0
  /// (row, id) of rows whose customer or article is not in its file.
  var missingCustomers: [(Int, CustomerKey)] = []
  var missingArticles: [(Int, UInt64)] = []
  var figures: [String: Int] = [:]
  var notes: [String] = []

  init(columns: TransactionColumns, parts: [TransactionsReader.Part], customersInFile: Int, articlesInFile: Int) {
    self.columns = columns
    self.customersInFile = customersInFile
    self.articlesInFile = articlesInFile
    var runs: [TransactionColumns.Run] = []
    for part in parts {
      runs.append((part.first, rows, part.count))
      missingCustomers += part.missingCustomers.map { [rows] in ($0.0 + rows, $0.1) }
      missingArticles += part.missingArticles.map { [rows] in ($0.0 + rows, $0.1) }
      rows += part.count
    }
    columns.move(runs)
  }

  /// Applies the policy to rows whose customer is not in customers.csv; returns the ids added.
  mutating func resolveCustomers(_ policy: IngestStage.MissingPolicy, file: String) throws -> [CustomerKey] {
    let (added, index) = try plan(missingCustomers, policy, what: "customer", file: file, firstIndex: customersInFile, describe: \.hex)
    if let index { for (row, key) in missingCustomers { columns.customer.rows[row] = index[key]! } }
    return added
  }

  /// Applies the policy to rows whose article is not in articles.csv; returns the ids added.
  mutating func resolveArticles(_ policy: IngestStage.MissingPolicy, file: String) throws -> [UInt64] {
    let (added, index) = try plan(
      missingArticles, policy, what: "article", file: file, firstIndex: articlesInFile, describe: ArticleNumber.text)
    if let index { for (row, key) in missingArticles { columns.article.rows[row] = index[key]! } }
    return added
  }

  /// Under `add`: the ids to add and their new indexes (sorted ids take the next indexes, so the same
  /// input gives the same indexes on any thread count). Under `drop`: drops the rows now.
  private mutating func plan<Key: Hashable & Comparable>(
    _ missing: [(Int, Key)], _ policy: IngestStage.MissingPolicy, what: String, file: String, firstIndex: Int,
    describe: (Key) -> String
  ) throws -> (added: [Key], index: [Key: UInt32]?) {
    let distinct = Array(Set(missing.map(\.1))).sorted()
    figures["missing_\(what)s.ids"] = distinct.count
    figures["missing_\(what)s.rows"] = missing.count
    guard !missing.isEmpty else { return ([], nil) }
    let summary = "\(missing.count) rows name \(distinct.count) \(what)s that are not in the \(what)s file"
    switch policy {
    case .fail:
      throw CSVError(
        code: .missingKey, file: file, line: 0, field: "\(what)_id",
        message:
          "\(summary) (first: \(describe(distinct[0]))); set missing_\(what)s to add or drop to go on")
    case .add:
      notes.append("\(summary): added with unknown attributes (missing_\(what)s = add)")
      return (distinct, Dictionary(uniqueKeysWithValues: distinct.enumerated().map { ($1, UInt32(firstIndex + $0)) }))
    case .drop:
      notes.append("\(summary): dropped (missing_\(what)s = drop)")
      drop(missing.map(\.0))
      return ([], nil)
    }
  }

  /// Removes rows, keeping order: the runs between them move down; the missing-id lists follow.
  private mutating func drop(_ doomed: [Int]) {
    let doomed = Array(Set(doomed)).sorted()
    var kept = 0, from = 0, runs: [TransactionColumns.Run] = []
    for end in doomed + [rows] {
      runs.append((from, kept, end - from))
      kept += end - from
      from = end + 1
    }
    columns.move(runs)
    rows = kept
    func renumber<Key>(_ list: [(Int, Key)]) -> [(Int, Key)] {
      list.compactMap { row, key in
        let before = doomed.sortedLowerBound(row)
        return before < doomed.count && doomed[before] == row ? nil : (row - before, key)
      }
    }
    missingCustomers = renumber(missingCustomers)
    missingArticles = renumber(missingArticles)
  }

  /// The transactions table; the columns pass to it.
  func table(absent: [String] = []) -> Table {
    var table = columns.table(rows: rows)
    table.absentColumns = absent
    return table
  }
}
