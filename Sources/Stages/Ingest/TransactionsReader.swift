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
    /// Ids parsed but not yet looked up: looking many up in one tight loop lets the processor
    /// overlap their cache misses, which a lookup per row cannot.
    var pendingCustomers: [CustomerKey] = []
    var pendingArticles: [UInt64] = []
    /// The file is in date order: the last date's text and day, to skip parsing repeats.
    var lastDate: (UInt64, UInt16) = (0, 0)
    var lastDay: Int32 = -1
    var count: Int { day.count }
    static let batch = 4096

    /// Resolves the pending ids of the last rows into indexes.
    mutating func lookUp(_ customers: IDIndex<CustomerKey>, _ articles: IDIndex<UInt64>) {
      let first = count - pendingCustomers.count
      var found = [Int32](repeating: -1, count: pendingCustomers.count)
      for (n, key) in pendingCustomers.enumerated() { found[n] = Int32(customers.index(of: key) ?? -1) }
      for (n, index) in found.enumerated() {
        if index < 0 { missingCustomers.append((first + n, pendingCustomers[n])); customer.append(unknown) }
        else { customer.append(UInt32(index)) }
      }
      for (n, id) in pendingArticles.enumerated() { found[n] = Int32(articles.index(of: id) ?? -1) }
      for (n, index) in found.enumerated() {
        if index < 0 { missingArticles.append((first + n, pendingArticles[n])); article.append(unknown) }
        else { article.append(UInt32(index)) }
      }
      pendingCustomers.removeAll(keepingCapacity: true)
      pendingArticles.removeAll(keepingCapacity: true)
    }

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
      makePart: { Part(capacity: piece / 100) },
      finishPart: { $0.lookUp(customers, articles) }
    ) { part, fields, _ throws(RowError) in
      let data = scanner.data
      let dateField = fields[at[0]]
      let day: Int32
      if dateField.count == 10, part.lastDay >= 0,
        data.loadUnaligned(fromByteOffset: dateField.start, as: UInt64.self) == part.lastDate.0,
        data.loadUnaligned(fromByteOffset: dateField.start + 8, as: UInt16.self) == part.lastDate.1
      {
        day = part.lastDay
      } else {
        guard let parsed = FieldParser.day(data, dateField) else {
          throw RowError("t_dat", "'\(scanner.text(dateField))' is not a date (YYYY-MM-DD)")
        }
        day = parsed
        part.lastDay = parsed
        part.lastDate = (data.loadUnaligned(fromByteOffset: dateField.start, as: UInt64.self),
                         data.loadUnaligned(fromByteOffset: dateField.start + 8, as: UInt16.self))
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
      part.day.append(day)
      part.price.append(Float(price))
      part.channel.append(UInt8(channel))
      part.pendingCustomers.append(key)
      part.pendingArticles.append(articleID)
      if part.pendingCustomers.count == Part.batch { part.lookUp(customers, articles) }
    }
  }
}
