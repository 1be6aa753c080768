import Pipeline

/// transactions_train.csv → columns, with customer and article ids mapped to the dense indexes of
/// customers.csv and articles.csv. Ids not found there are set aside for the stage's policy.
struct TransactionsReader {
  static let required = ["t_dat", "customer_id", "article_id"]
  /// Read when present; no stage needs them yet. Absent, they are null columns (`absentColumns`).
  static let optional = ["price", "sales_channel_id"]
  static let unknown = UInt32.max

  /// One piece's rows, written straight into the file's columns from row `first` on.
  struct Part: Sendable {
    let columns: TransactionColumns
    let first: Int
    let bound: Int
    var count = 0
    /// (row in this part, id) of rows whose customer or article is not in its file.
    var missingCustomers: [(Int, CustomerKey)] = []
    var missingArticles: [(Int, UInt64)] = []
    /// Article ids parsed but not yet looked up: looked up many at a time (`IDIndex.indexes`), their
    /// cache misses overlap, which a lookup per row cannot.
    var pendingArticles: [UInt64] = []
    var found: [Int32] = []
    /// The piece's customer ids, one per run of rows with the same id (a basket), and the row each
    /// run starts at: looked up once the piece is parsed, all at once in the index's own order
    /// (`IDIndex.indexesInSlotOrder`).
    var customerRuns: [CustomerKey] = []
    var runStarts: [Int32] = []
    /// The file is in date order: the last date's text and day, to skip parsing repeats.
    var lastDate: (UInt64, UInt16) = (0, 0)
    var lastDay: Int32 = -1
    /// A basket is consecutive rows of one customer (two rows in three repeat the one before): where
    /// the last customer id parsed starts in the file, and its key, to skip decoding repeats.
    var lastCustomerAt = -1
    var lastCustomer = CustomerKey(a: 0, b: 0, c: 0, d: 0)
    /// Plausible days: a date outside is a bad row.
    let days: ClosedRange<Int32>
    static let batch = 4096

    /// The part of `piece` of a file whose records start at `bodyStart`.
    init(_ columns: TransactionColumns, _ piece: CSVTableReader.Piece, bodyStart: Int, days: ClosedRange<Int32>) {
      self.columns = columns
      self.days = days
      first = TransactionColumns.rowBound(lines: piece.lines?.lowerBound, bytes: piece.bytes.lowerBound - bodyStart)
      bound = TransactionColumns.rowBound(lines: piece.lines?.upperBound, bytes: piece.bytes.upperBound - bodyStart) - first
    }

    /// Resolves the pending article ids of the last rows into indexes.
    mutating func lookUpArticles(_ articles: IDIndex<UInt64>) {
      let start = count - pendingArticles.count
      found.removeAll(keepingCapacity: true)
      found.append(contentsOf: repeatElement(-1, count: pendingArticles.count))
      pendingArticles.withUnsafeBufferPointer { keys in found.withUnsafeMutableBufferPointer { articles.indexes(of: keys, into: $0) } }
      for (n, index) in found.enumerated() {
        if index < 0 { missingArticles.append((start + n, pendingArticles[n])) }
        columns.article.rows[first + start + n] = index < 0 ? unknown : UInt32(index)
      }
      pendingArticles.removeAll(keepingCapacity: true)
    }

    /// Resolves the piece's customer ids into indexes, a run of rows at a time.
    mutating func lookUpCustomers(_ customers: IDIndex<CustomerKey>) {
      found = [Int32](repeating: -1, count: customerRuns.count)
      customerRuns.withUnsafeBufferPointer { keys in
        found.withUnsafeMutableBufferPointer { customers.indexesInSlotOrder(of: keys, into: $0) }
      }
      let rows = columns.customer.rows + first
      for (run, index) in found.enumerated() {
        let end = run + 1 < runStarts.count ? Int(runStarts[run + 1]) : count
        if index < 0 {
          for row in Int(runStarts[run])..<end { missingCustomers.append((row, customerRuns[run])) }
        }
        (rows + Int(runStarts[run])).update(repeating: index < 0 ? unknown : UInt32(index), count: end - Int(runStarts[run]))
      }
      customerRuns = []
      runStarts = []
    }

    /// Resolves every id not yet looked up: the piece is parsed.
    mutating func lookUp(_ customers: IDIndex<CustomerKey>, _ articles: IDIndex<UInt64>) {
      lookUpArticles(articles)
      lookUpCustomers(customers)
    }

    /// The day of a date field within `days`; repeats of the last date (the file is in date order)
    /// skip parsing.
    @inline(__always)
    mutating func day(_ data: UnsafeRawBufferPointer, _ field: FieldRange) -> Int32? {
      if field.count == 10, lastDay >= 0,
        data.loadUnaligned(fromByteOffset: field.start, as: UInt64.self) == lastDate.0,
        data.loadUnaligned(fromByteOffset: field.start + 8, as: UInt16.self) == lastDate.1
      {
        return lastDay
      }
      guard let parsed = FieldParser.day(data, field), days.contains(parsed) else { return nil }
      lastDay = parsed
      lastDate = (
        data.loadUnaligned(fromByteOffset: field.start, as: UInt64.self),
        data.loadUnaligned(fromByteOffset: field.start + 8, as: UInt16.self)
      )
      return parsed
    }

    /// The 64-hex-digit customer id at `at`: the last one's key when the text repeats it, else
    /// decoded (nil when it is not 64 hex digits).
    @inline(__always)
    mutating func customer(_ data: UnsafeRawBufferPointer, at: Int) -> CustomerKey? {
      if lastCustomerAt >= 0, Self.sameID(data, at, lastCustomerAt) { return lastCustomer }
      guard let key = FieldParser.hex256(data, FieldRange(start: at, end: at + 64, quoted: false)) else { return nil }
      lastCustomerAt = at
      lastCustomer = key
      return key
    }

    /// Whether the 64 bytes at `a` and at `b` are the same.
    @inline(__always)
    static func sameID(_ data: UnsafeRawBufferPointer, _ a: Int, _ b: Int) -> Bool {
      var difference: UInt64 = 0
      for w in stride(from: 0, to: 64, by: 8) {
        difference |=
          data.loadUnaligned(fromByteOffset: a + w, as: UInt64.self) ^ data.loadUnaligned(fromByteOffset: b + w, as: UInt64.self)
      }
      return difference == 0
    }

    /// Adds one row; its article id is looked up with the batch, its customer id once the piece is
    /// parsed.
    @inline(__always)
    mutating func append(day: Int32, customer: CustomerKey, article: UInt64, price: Float, channel: UInt8, _ articles: IDIndex<UInt64>) {
      precondition(count < bound, "a piece holds more rows than its bytes allow")
      columns.day.rows[first + count] = day
      columns.price.rows[first + count] = price
      columns.channel.rows[first + count] = channel
      if customerRuns.last != customer {
        customerRuns.append(customer)
        runStarts.append(Int32(count))
      }
      count += 1
      pendingArticles.append(article)
      if pendingArticles.count == Part.batch { lookUpArticles(articles) }
    }
  }

  static func read(
    _ input: InputBytes, customers: IDIndex<CustomerKey>, articles: IDIndex<UInt64>, badRows: BadRowPolicy,
    days: ClosedRange<Int32>, context: StageContext
  ) throws -> (columns: TransactionColumns, parts: [Part], skipped: Int, absent: [String]) {
    let reader = try CSVTableReader(input, kind: "the H&M transactions file", required: required, optional: optional)
    let scanner = reader.scanner
    let at = (required + optional).map { reader.position($0) ?? -1 }
    let columns = TransactionColumns(capacity: TransactionColumns.rowBound(bytes: input.bytes.count - reader.bodyStart))
    let standardLayout = at == Array(0..<5) && reader.header.count == 5
    let fast: (@Sendable (inout Part, inout Int, Int) -> Bool)? =
      standardLayout
      ? { @Sendable part, offset, end in fastRecord(scanner, &part, &offset, end, articles) } : nil
    let bodyStart = reader.bodyStart
    // 32 MB: the 3 GB file still makes ~100 pieces, each with its own id batches and lists.
    // Numbered lines place each piece's rows where the rows before it end, so the merge moves none.
    let (parts, skipped) = try reader.parse(
      badRows: badRows, bytesPerPiece: 32 << 20, numberLines: true, cancellation: { context.isCancelled },
      progress: { context.progress($0 * 0.9, "parsing \(FileSystem.basename(of: input.name))") },
      makePart: { Part(columns, $0, bodyStart: bodyStart, days: days) },
      finishPart: { $0.lookUp(customers, articles) },
      fastRecord: fast
    ) { part, fields, _ throws(RowError) in
      let data = scanner.data
      guard let day = part.day(data, fields[at[0]]) else {
        let text = scanner.text(fields[at[0]])
        guard KaggleDate.day(text) != nil else { throw RowError("t_dat", "'\(text)' is not a date (YYYY-MM-DD)") }
        throw RowError(
          "t_dat",
          "'\(text)' is outside the plausible dates \(KaggleDate.text(day: Int(days.lowerBound)))…"
            + "\(KaggleDate.text(day: Int(days.upperBound))) (ingest's first_date and last_date)")
      }
      guard let key = FieldParser.hex256(data, fields[at[1]]) else {
        throw RowError("customer_id", "'\(scanner.text(fields[at[1]]))' is not a customer id (64 hex digits)")
      }
      let articleID = try ArticlesReader.articleID(scanner, fields[at[2]])
      guard let price = at[3] < 0 ? .nan : TransactionsReader.price(data, fields[at[3]]) else {
        throw RowError("price", "'\(scanner.text(fields[at[3]]))' is not a price")
      }
      guard let channel = at[4] < 0 ? TransactionColumns.noChannel : TransactionsReader.channel(data, fields[at[4]]) else {
        throw RowError("sales_channel_id", "'\(scanner.text(fields[at[4]]))' is not a channel number")
      }
      part.append(day: day, customer: key, article: articleID, price: price, channel: channel, articles)
    }
    return (columns, parts, skipped, optional.filter { reader.position($0) == nil })
  }

  @inline(__always)
  static func price(_ data: UnsafeRawBufferPointer, _ field: FieldRange) -> Float? {
    guard let price = FieldParser.number(data, field), price.isFinite, price >= 0 else { return nil }
    return Float(price)
  }

  @inline(__always)
  static func channel(_ data: UnsafeRawBufferPointer, _ field: FieldRange) -> UInt8? {
    guard let channel = FieldParser.unsigned(data, field), channel < TransactionColumns.noChannel else { return nil }
    return UInt8(channel)
  }

  /// One record in the Kaggle layout (`t_dat,customer_id,article_id,price,sales_channel_id`, no
  /// quotes), parsed without splitting it into fields first: the date and customer id sit at fixed
  /// offsets, the rest is found by the scanner's word-at-a-time delimiter search. The checks are the
  /// general path's; whatever fails them is left to it.
  @inline(__always)
  static func fastRecord(
    _ scanner: CSVScanner, _ part: inout Part, _ at: inout Int, _ end: Int, _ articles: IDIndex<UInt64>
  ) -> Bool {
    let data = scanner.data, s = at
    guard s + 87 <= end, data[s + 10] == 0x2C, data[s + 75] == 0x2C, let key = part.customer(data, at: s + 11) else { return false }
    // Kaggle's article ids are ten digits: look for the comma where ten digits put it first.
    let articleEnd = data[s + 86] == 0x2C ? s + 86 : scanner.nextDelimiter(from: s + 76, end: end)
    guard articleEnd < end, data[articleEnd] == 0x2C,
      let article = ArticlesReader.articleNumber(data, FieldRange(start: s + 76, end: articleEnd, quoted: false))
    else { return false }
    let priceEnd = scanner.nextDelimiter(from: articleEnd + 1, end: end)
    guard priceEnd < end, data[priceEnd] == 0x2C,
      let price = TransactionsReader.price(data, FieldRange(start: articleEnd + 1, end: priceEnd, quoted: false))
    else { return false }
    let lineEnd = scanner.nextDelimiter(from: priceEnd + 1, end: end)
    guard lineEnd == end || data[lineEnd] == 0x0A else { return false }
    let channelEnd = lineEnd > priceEnd + 1 && data[lineEnd - 1] == 0x0D ? lineEnd - 1 : lineEnd
    guard let channel = TransactionsReader.channel(data, FieldRange(start: priceEnd + 1, end: channelEnd, quoted: false)),
      let day = part.day(data, FieldRange(start: s, end: s + 10, quoted: false))
    else { return false }
    part.append(day: day, customer: key, article: article, price: price, channel: channel, articles)
    at = lineEnd == end ? end : lineEnd + 1
    return true
  }
}

/// The transactions columns of the whole file, which the pieces fill in parallel, each in its own
/// rows from the bound of the records before it (`rowBound`); `TransactionMerge` closes the gaps
/// (none in a clean file).
final class TransactionColumns: Sendable {
  /// The channel column's null.
  static let noChannel: UInt8 = 255

  /// At most how many rows `bytes` of records hold: a row's customer id alone is 64 bytes, and it
  /// has at least two commas besides. So the bound of a file's first n bytes, taken at every cut,
  /// gives each piece room for its rows without knowing how many lines come before it.
  static func rowBound(bytes: Int) -> Int { bytes / 64 }

  /// The tighter of two bounds on the rows before a cut: its bytes', and the lines before it (a
  /// record takes at least one). Each bound grows from cut to cut by at least the rows between, so
  /// their minimum does too, and the pieces never overlap.
  static func rowBound(lines: Int?, bytes: Int) -> Int { min(lines ?? .max, rowBound(bytes: bytes)) }

  let day: ColumnBuffer<Int32>
  let customer: ColumnBuffer<UInt32>
  let article: ColumnBuffer<UInt32>
  let price: ColumnBuffer<Float>
  let channel: ColumnBuffer<UInt8>

  init(capacity: Int) {
    day = ColumnBuffer(capacity: capacity)
    customer = ColumnBuffer(capacity: capacity)
    article = ColumnBuffer(capacity: capacity)
    price = ColumnBuffer(capacity: capacity)
    channel = ColumnBuffer(capacity: capacity)
  }

  /// `count` rows to move down from row `source` to row `target`.
  typealias Run = (source: Int, target: Int, count: Int)

  /// Moves runs of rows of every column down, in order (a run may overlap the one before's source);
  /// the columns in parallel.
  func move(_ runs: [Run]) {
    let columns: [@Sendable (Int, Int, Int) -> Void] = [day.move, customer.move, article.move, price.move, channel.move]
    Parallel.forEach(chunks: columns.count) { c in
      for run in runs { columns[c](run.source, run.target, run.count) }
    }
  }

  /// The first `rows` rows as the transactions table; the columns pass to it.
  func table(rows: Int) -> Table {
    Table(
      [
        day.column("day", rowCount: rows), customer.column("customer", rowCount: rows),
        article.column("article", rowCount: rows), price.column("price", rowCount: rows),
        channel.column("channel", rowCount: rows, nullSentinel: Int64(Self.noChannel)),
      ], metadata: ["day0": KaggleDate.text(day: 0)])
  }
}
