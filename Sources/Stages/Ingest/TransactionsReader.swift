import Pipeline

/// transactions_train.csv → columns, with customer and article ids mapped to the dense indexes of
/// customers.csv and articles.csv. Ids not found there are set aside for the stage's policy.
struct TransactionsReader {
  static let required = ["t_dat", "customer_id", "article_id", "price", "sales_channel_id"]
  static let unknown = UInt32.max

  struct Part: Sendable {
    var day: [Int32] = []
    var customer: [UInt32] = []
    var article: [UInt32] = []
    var price: [Float] = []
    var channel: [UInt8] = []
    /// (row in this part, id) of rows whose customer or article is not in its file.
    var missingCustomers: [(Int, CustomerKey)] = []
    var missingArticles: [(Int, UInt64)] = []
    var count: Int { day.count }

    init(capacity: Int = 0) {
      day.reserveCapacity(capacity)
      customer.reserveCapacity(capacity)
      article.reserveCapacity(capacity)
      price.reserveCapacity(capacity)
      channel.reserveCapacity(capacity)
    }
  }

  static func read(
    _ input: InputBytes, customers: IDIndex<CustomerKey>, articles: IDIndex<UInt64>, badRows: BadRowPolicy,
    context: StageContext
  ) throws -> (parts: [Part], skipped: Int) {
    let reader = try CSVTableReader(input, kind: "the H&M transactions file", required: required)
    let scanner = reader.scanner
    let at = required.map { reader.position($0)! }
    let piece = 32 << 20
    return try reader.parse(
      badRows: badRows, bytesPerPiece: piece, cancellation: { context.isCancelled },
      progress: { context.progress($0 * 0.9, "parsing \(FileSystem.basename(of: input.name))") },
      makePart: { Part(capacity: piece / 100) }
    ) { part, fields, _ throws(RowError) in
      let data = scanner.data
      guard let day = FieldParser.day(data, fields[at[0]]) else {
        throw RowError("t_dat", "'\(scanner.text(fields[at[0]]))' is not a date (YYYY-MM-DD)")
      }
      guard let key = FieldParser.hex256(data, fields[at[1]]) else {
        throw RowError("customer_id", "'\(scanner.text(fields[at[1]]))' is not a customer id (64 hex digits)")
      }
      let articleID = try ArticlesReader.articleID(scanner, fields[at[2]])
      guard let price = FieldParser.number(data, fields[at[3]]), price.isFinite, price >= 0 else {
        throw RowError("price", "'\(scanner.text(fields[at[3]]))' is not a price")
      }
      guard let channel = FieldParser.unsigned(data, fields[at[4]]), channel < 255 else {
        throw RowError("sales_channel_id", "'\(scanner.text(fields[at[4]]))' is not a channel number")
      }
      let row = part.count
      let c = customers.index(of: key)
      if c == nil { part.missingCustomers.append((row, key)) }
      let a = articles.index(of: articleID)
      if a == nil { part.missingArticles.append((row, articleID)) }
      part.day.append(day)
      part.customer.append(c.map(UInt32.init) ?? unknown)
      part.article.append(a.map(UInt32.init) ?? unknown)
      part.price.append(Float(price))
      part.channel.append(UInt8(channel))
    }
  }
}
