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
public struct IngestStage: Stage {
  public static let kind = "ingest"
  public static let version = 1
  public static let inputs = [
    InputSlot("articles", accepts: .either), InputSlot("customers", accepts: .either), InputSlot("transactions", accepts: .either),
  ]
  public static let outputs = ["articles", "customers", "transactions", "dictionaries"]

  public enum MissingPolicy: String, Codable, Sendable { case add, drop, fail }

  public struct Params: StageParams {
    public var bad_rows = BadRowPolicy.fail
    public var missing_customers = MissingPolicy.add
    public var missing_articles = MissingPolicy.add
    public init() {}
  }

  public static func run(_ params: Params, _ context: StageContext) throws {
    let articleBytes = try context.bytes("articles")
    let articles = try ArticlesReader.read(articleBytes, badRows: params.bad_rows)
    try requireRows(articles.ids.count, articleBytes.name)
    let customerBytes = try context.bytes("customers")
    let customers = try CustomersReader.read(customerBytes, badRows: params.bad_rows)
    try requireRows(customers.keys.count, customerBytes.name)
    let customerIndex = IDIndex(customers.keys)
    if let duplicate = firstDuplicate(customers.keys, customerIndex) {
      throw CSVError(code: .badField, file: customerBytes.name, line: 0, field: "customer_id",
                     message: "customer \(duplicate.hex) appears twice")
    }
    let transactionBytes = try context.bytes("transactions")
    let (parts, skipped) = try TransactionsReader.read(
      transactionBytes, customers: customerIndex, articles: IDIndex(articles.ids), badRows: params.bad_rows, context: context)
    try context.checkCancellation()
    var merged = TransactionMerge(parts: parts, customersInFile: customers.keys.count, articlesInFile: articles.ids.count)
    let rows = merged.rows
    try requireRows(rows, transactionBytes.name)
    let addedCustomers = try merged.resolveCustomers(params.missing_customers, file: transactionBytes.name)
    let addedArticles = try merged.resolveArticles(params.missing_articles, file: transactionBytes.name)
    context.progress(0.92, "writing tables")

    var dictionaries = DictionaryBuilder()
    try context.write("articles", ArticlesReader.table(articles, added: addedArticles, dictionaries: &dictionaries))
    try context.write("customers", CustomersReader.table(customers, added: addedCustomers, dictionaries: &dictionaries))
    try context.write("transactions", merged.table())
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

  static func firstDuplicate(_ keys: [CustomerKey], _ index: IDIndex<CustomerKey>) -> CustomerKey? {
    for (n, key) in keys.enumerated() where index.index(of: key) != n { return key }
    return nil
  }
}

/// The parsed pieces, with the missing-id policies applied in place, then laid end to end into
/// columns with one copy.
struct TransactionMerge {
  var parts: [TransactionsReader.Part]
  let customersInFile: Int
  let articlesInFile: Int
  var figures: [String: Int] = [:]
  var notes: [String] = []
  var rows: Int { parts.reduce(0) { $0 + $1.count } }

  init(parts: [TransactionsReader.Part], customersInFile: Int, articlesInFile: Int) {
    self.parts = parts
    self.customersInFile = customersInFile
    self.articlesInFile = articlesInFile
  }

  /// Applies the policy to rows whose customer is not in customers.csv; returns the ids added.
  mutating func resolveCustomers(_ policy: IngestStage.MissingPolicy, file: String) throws -> [CustomerKey] {
    let missing = parts.map(\.missingCustomers)
    let (added, index) = try plan(missing, policy, what: "customer", file: file, firstIndex: customersInFile, describe: \.hex)
    if let index {
      for p in parts.indices { for (row, key) in missing[p] { parts[p].customer[row] = index[key]! } }
    }
    return added
  }

  /// Applies the policy to rows whose article is not in articles.csv; returns the ids added.
  mutating func resolveArticles(_ policy: IngestStage.MissingPolicy, file: String) throws -> [UInt64] {
    let missing = parts.map(\.missingArticles)
    let (added, index) = try plan(missing, policy, what: "article", file: file, firstIndex: articlesInFile, describe: ArticleNumber.text)
    if let index {
      for p in parts.indices { for (row, key) in missing[p] { parts[p].article[row] = index[key]! } }
    }
    return added
  }

  /// Under `add`: the ids to add and their new indexes (sorted ids take the next indexes, so the same
  /// input gives the same indexes on any thread count). Under `drop`: drops the rows now.
  private mutating func plan<Key: Hashable & Comparable>(
    _ missing: [[(Int, Key)]], _ policy: IngestStage.MissingPolicy, what: String, file: String, firstIndex: Int,
    describe: (Key) -> String
  ) throws -> (added: [Key], index: [Key: UInt32]?) {
    let rows = missing.reduce(0) { $0 + $1.count }
    let distinct = Array(Set(missing.joined().map(\.1))).sorted()
    figures["missing_\(what)s.ids"] = distinct.count
    figures["missing_\(what)s.rows"] = rows
    guard rows > 0 else { return ([], nil) }
    let summary = "\(rows) rows name \(distinct.count) \(what)s that are not in the \(what)s file"
    switch policy {
    case .fail:
      throw CSVError(code: .missingKey, file: file, line: 0, field: "\(what)_id", message:
        "\(summary) (first: \(describe(distinct[0]))); set missing_\(what)s to add or drop to go on")
    case .add:
      notes.append("\(summary): added with unknown attributes (missing_\(what)s = add)")
      return (distinct, Dictionary(uniqueKeysWithValues: distinct.enumerated().map { ($1, UInt32(firstIndex + $0)) }))
    case .drop:
      notes.append("\(summary): dropped (missing_\(what)s = drop)")
      for p in parts.indices { parts[p].drop(Set(missing[p].map(\.0))) }
      return ([], nil)
    }
  }

  /// The transactions table; the parts are consumed as their columns are built.
  mutating func table() -> Table {
    func take<T: ColumnElement>(_ name: String, _ path: WritableKeyPath<TransactionsReader.Part, [T]>) -> Column {
      let pieces = parts.map { $0[keyPath: path] }
      for p in parts.indices { parts[p][keyPath: path] = [] }
      return Column(name, concatenating: pieces)
    }
    return Table([take("day", \.day), take("customer", \.customer), take("article", \.article),
                  take("price", \.price), take("channel", \.channel)], metadata: ["day0": "2018-09-20"])
  }
}

extension TransactionsReader.Part {
  /// Removes rows, keeping order; the other missing-id list's row numbers follow.
  mutating func drop(_ doomed: Set<Int>) {
    guard !doomed.isEmpty else { return }
    var newIndex = [Int](repeating: -1, count: count)
    var kept = 0
    for row in 0..<count where !doomed.contains(row) {
      newIndex[row] = kept
      day[kept] = day[row]; customer[kept] = customer[row]; article[kept] = article[row]
      price[kept] = price[row]; channel[kept] = channel[row]
      kept += 1
    }
    let removed = count - kept
    day.removeLast(removed); customer.removeLast(removed); article.removeLast(removed)
    price.removeLast(removed); channel.removeLast(removed)
    missingCustomers = missingCustomers.compactMap { newIndex[$0.0] >= 0 ? (newIndex[$0.0], $0.1) : nil }
    missingArticles = missingArticles.compactMap { newIndex[$0.0] >= 0 ? (newIndex[$0.0], $0.1) : nil }
  }
}
