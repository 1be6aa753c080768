import Foundation
import Pipeline
import Testing

@testable import Stages

/// What a harness run left: its record, its store, and the folder that holds them (kept alive with it).
final class IngestResult {
  let record: RunRecord
  let store: Store
  let dir: TemporaryDirectory
  init(record: RunRecord, store: Store, dir: TemporaryDirectory) {
    self.record = record
    self.store = store
    self.dir = dir
  }
}

/// Runs ingest through the real runner on CSV texts written to a temporary folder.
struct IngestHarness {
  let dir = TemporaryDirectory()

  static let articlesHeader =
    "article_id,product_code,prod_name,product_type_no,product_type_name,product_group_name,graphical_appearance_no,graphical_appearance_name,colour_group_code,colour_group_name,perceived_colour_value_id,perceived_colour_value_name,perceived_colour_master_id,perceived_colour_master_name,department_no,department_name,index_code,index_name,index_group_no,index_group_name,section_no,section_name,garment_group_no,garment_group_name,detail_desc"
  static let articles =
    articlesHeader + "\n"
    + "0108775015,0108775,Strap top,253,Vest top,Garment Upper body,1010016,Solid,9,Black,4,Dark,5,Black,1676,Jersey Basic,A,Ladieswear,1,Ladieswear,16,Womens Everyday Basics,1002,Jersey Basic,\"Jersey top with narrow shoulder straps, and a \"\"quoted\"\" word.\"\n"
    + "0108775044,0108775,Strap top,253,Vest top,Garment Upper body,1010016,Solid,10,White,3,Light,9,White,1676,Jersey Basic,A,Ladieswear,1,Ladieswear,16,\"Womens Nightwear, Socks & Tigh\",1002,Jersey Basic,\"Two lines:\nsecond line, with comma\"\n"
  static let customer1 = String(repeating: "ab", count: 32)
  static let customer2 = String(repeating: "0c", count: 32)
  static let customers =
    "customer_id,FN,Active,club_member_status,fashion_news_frequency,age,postal_code\n"
    + "\(customer1),1.0,1.0,ACTIVE,Regularly,49.0,\(String(repeating: "f", count: 64))\n"
    + "\(customer2),,,PRE-CREATE,NONE,,\(String(repeating: "e", count: 64))\n"
  static let transactionsHeader = "t_dat,customer_id,article_id,price,sales_channel_id\n"
  static func row(
    _ date: String = "2018-09-20", _ customer: String = customer1, _ article: String = "0108775015",
    _ price: String = "0.0508", _ channel: String = "2"
  ) -> String {
    "\(date),\(customer),\(article),\(price),\(channel)\n"
  }

  func write(_ name: String, _ text: String) {
    try! FileSystem.writeAtomically(Array(text.utf8), to: dir.path + "/" + name)
  }

  /// Runs ingest on the three files; returns the run record and the store.
  func run(
    _ params: String = "{}", articles: String = articles, customers: String = customers,
    transactions: String
  ) async throws -> IngestResult {
    write("articles.csv", articles)
    write("customers.csv", customers)
    write("transactions_train.csv", transactions)
    write(
      "p.json",
      """
      {"store": "store", "stages": [{"name": "ingest", "kind": "ingest", "params": \(params), "inputs": {
        "articles": "file:articles.csv", "customers": "file:customers.csv", "transactions": "file:transactions_train.csv"}}]}
      """)
    let spec = try PipelineLoader(registry: HMStages.registry).load(dir.path + "/p.json")
    let store = try Store(root: spec.storePath)
    return IngestResult(record: try await Runner(spec: spec, store: store, options: RunOptions(jobs: 1)).run(), store: store, dir: dir)
  }

  /// The error a failed ingest reported.
  func error(_ params: String = "{}", articles: String = articles, customers: String = customers, transactions: String) async throws
    -> String
  {
    let record = try await run(params, articles: articles, customers: customers, transactions: transactions)
    #expect(record.record.stages[0].status == .failed)
    return record.record.stages[0].error ?? ""
  }
}

@Suite struct IngestTests {
  @Test func realSliceIngestsWithTheDocumentedPolicy() async throws {
    // The first rows of the real Kaggle files (../shared/data/hm-real-slice), kept as a fixture.
    let data = FileSystem.dirname(of: #filePath) + "/Fixtures/hm-real-slice"
    let harness = IngestHarness()
    let read = { (name: String) in try String(contentsOfFile: data + "/" + name, encoding: .utf8) }
    let result = try await harness.run(
      articles: try read("articles.csv"), customers: try read("customers.csv"),
      transactions: try read("transactions_train.csv"))
    let stage = result.record.stages[0]
    #expect(stage.status == .ran, "\(stage.error ?? "")")
    #expect(stage.figures["rows.transactions"] == 1000)
    #expect(stage.figures["rows.articles"] == 815)
    #expect(stage.figures["rows.customers"] == 1000)
    let missing = try #require(stage.figures["missing_customers.ids"])
    #expect(missing > 0 && stage.figures["missing_customers.rows"]! >= missing)
    let customers = try result.store.reader(stage.outputs["customers"]!).table()
    #expect(customers.rowCount == 1000 + Int(missing))
    let inFile = try customers.column("in_customers_file").values(UInt8.self)
    #expect(inFile.filter { $0 == 0 }.count == Int(missing))
    // Article ids round trip to the 10 digits of the file.
    let articles = try result.store.reader(stage.outputs["articles"]!).table()
    let ids = try articles.column("article_id").values(UInt64.self).map(ArticleNumber.text)
    let fileIDs = try read("articles.csv").split(separator: "\n").dropFirst().map { String($0.prefix(10)) }
    #expect(ids == fileIDs)
    // A quoted field with a comma survives.
    let dictionaries = try result.store.reader(stage.outputs["dictionaries"]!).table()
    let valueColumn = try dictionaries.column("value")
    let values = (0..<dictionaries.rowCount).map { valueColumn.string(at: $0) }
    #expect(values.contains("Womens Nightwear, Socks & Tigh"))
  }

  @Test func quotedFieldsAndIDsRoundTrip() async throws {
    let harness = IngestHarness()
    let tx = IngestHarness.transactionsHeader + IngestHarness.row() + IngestHarness.row("2018-09-21", IngestHarness.customer2, "108775044")
    let result = try await harness.run(transactions: tx)
    let stage = result.record.stages[0]
    #expect(stage.status == .ran, "\(stage.error ?? "")")
    let articles = try result.store.reader(stage.outputs["articles"]!).table()
    let descriptions = try articles.column("detail_desc")
    #expect(descriptions.string(at: 0) == "Jersey top with narrow shoulder straps, and a \"quoted\" word.")
    #expect(descriptions.string(at: 1) == "Two lines:\nsecond line, with comma")
    let transactions = try result.store.reader(stage.outputs["transactions"]!).table()
    #expect(Array(try transactions.column("article").values(UInt32.self)) == [0, 1], "ids with and without the leading zero")
    #expect(Array(try transactions.column("day").values(Int32.self)) == [0, 1])
    #expect(Array(try transactions.column("customer").values(UInt32.self)) == [0, 1])
  }

  /// A repeated customer id reuses the row before's key; an id that differs from it in one digit
  /// only, or in a byte that is not a hex digit, is read (or rejected) on its own.
  @Test func repeatedCustomerIDsAreReadOnlyWhenTheyRepeatExactly() async throws {
    let harness = IngestHarness()
    let c1 = IngestHarness.customer1, c2 = IngestHarness.customer2
    let nearC2 = String(c2.dropLast()) + "d"
    let customers = IngestHarness.customers + "\(nearC2),,,ACTIVE,NONE,,\n"
    let rows = [c1, c1, c2, nearC2, nearC2, c2, c1].map { IngestHarness.row("2018-09-20", $0) }.joined()
    let result = try await harness.run(customers: customers, transactions: IngestHarness.transactionsHeader + rows)
    let stage = result.record.stages[0]
    #expect(stage.status == .ran, "\(stage.error ?? "")")
    let transactions = try result.store.reader(stage.outputs["transactions"]!).table()
    #expect(Array(try transactions.column("customer").values(UInt32.self)) == [0, 0, 1, 2, 2, 1, 0])
    let broken = String(c1.dropLast()) + "g"
    let error = try await harness.error(
      customers: customers, transactions: IngestHarness.transactionsHeader + IngestHarness.row() + IngestHarness.row("2018-09-20", broken))
    #expect(error.hasPrefix("transactions_train.csv:3: customer_id: "), "\(error)")
  }

  /// (transaction row, expected field, words of the message)
  static let malformed: [(String, String, String)] = [
    ("2018-09-20,\(IngestHarness.customer1),0108775015,0.05\n", "", "has 4 fields, the header has 5"),
    (IngestHarness.row("2018-13-01"), "t_dat", "'2018-13-01' is not a date"),
    (IngestHarness.row("2019-02-29"), "t_dat", "'2019-02-29' is not a date"),
    (IngestHarness.row("2018-09-20", "xyz"), "customer_id", "'xyz' is not a customer id"),
    (IngestHarness.row("2018-09-20", IngestHarness.customer1, "01087750x5"), "article_id", "'01087750x5' is not an article id"),
    (IngestHarness.row("2018-09-20", IngestHarness.customer1, "10108775015"), "article_id", "is not an article id (up to 10 digits)"),
    (IngestHarness.row("2018-09-20", IngestHarness.customer1, "0108775015", "cheap"), "price", "'cheap' is not a price"),
    (
      IngestHarness.row("2018-09-20", IngestHarness.customer1, "0108775015", "0.05", "x"), "sales_channel_id", "'x' is not a channel number"
    ),
    (IngestHarness.row("2999-12-31"), "t_dat", "'2999-12-31' is outside the plausible dates 2000-01-01…"),
    (IngestHarness.row("1999-12-31"), "t_dat", "'1999-12-31' is outside the plausible dates 2000-01-01…"),
  ]

  @Test(arguments: 0..<malformed.count)
  func malformedRowIsAnErrorWithItsLine(index: Int) async throws {
    let (bad, field, words) = Self.malformed[index]
    let tx = IngestHarness.transactionsHeader + IngestHarness.row() + IngestHarness.row() + bad + IngestHarness.row()
    let error = try await IngestHarness().error(transactions: tx)
    let place = field.isEmpty ? "transactions_train.csv:4: " : "transactions_train.csv:4: \(field): "
    #expect(error.hasPrefix(place), "\(error)")
    #expect(error.contains(words), "\(error)")
  }

  @Test func skipCountsBadRowsExactly() async throws {
    let tx = IngestHarness.transactionsHeader + Self.malformed.map(\.0).joined() + IngestHarness.row() + IngestHarness.row()
    let result = try await IngestHarness().run(#"{"bad_rows": "skip"}"#, transactions: tx)
    #expect(result.record.stages[0].figures["bad_rows_skipped.transactions"] == Double(Self.malformed.count))
    #expect(try result.store.reader(result.record.stages[0].outputs["transactions"]!).manifest.rows == 2)
  }

  @Test func missingIDPoliciesDropAndFail() async throws {
    let unknown = String(repeating: "9", count: 64)
    let tx =
      IngestHarness.transactionsHeader + IngestHarness.row() + IngestHarness.row("2018-09-20", unknown)
      + IngestHarness.row("2018-09-20", IngestHarness.customer1, "0999999001")
    let dropped = try await IngestHarness().run(#"{"missing_customers": "drop", "missing_articles": "drop"}"#, transactions: tx)
    #expect(dropped.record.stages[0].status == .ran)
    #expect(try dropped.store.reader(dropped.record.stages[0].outputs["transactions"]!).manifest.rows == 1)
    #expect(dropped.record.stages[0].figures["missing_customers.rows"] == 1)
    #expect(dropped.record.stages[0].figures["missing_articles.rows"] == 1)
    let error = try await IngestHarness().error(#"{"missing_articles": "fail"}"#, transactions: tx)
    #expect(error.contains("1 rows name 1 articles that are not in the articles file (first: 0999999001)"))
  }

  @Test func wholeFileProblemsAreOneSentenceEach() async throws {
    let ok = IngestHarness.transactionsHeader + IngestHarness.row()
    #expect(try await IngestHarness().error(transactions: "").contains("transactions_train.csv: the file is empty"))
    #expect(try await IngestHarness().error(transactions: IngestHarness.transactionsHeader).contains("has a header but no rows"))
    #expect(
      try await IngestHarness().error(transactions: "t_dat,customer_id,price,sales_channel_id\n2018-09-20,a,b,1\n")
        .contains("transactions_train.csv:1: article_id: required column is missing"))
    #expect(try await IngestHarness().error(transactions: "{\"not\": \"csv\"}\n").contains("does not look like the H&M transactions file"))
    #expect(try await IngestHarness().error(transactions: "\u{0}\u{1}\u{2}binary\n").contains("not a CSV file"))
    let truncated = ok + "2018-09-20,\(IngestHarness.customer1),01087"
    #expect(
      try await IngestHarness().error(transactions: truncated).contains(
        "transactions_train.csv:3: the last line is cut short (3 of 5 fields)"))
    let twice = IngestHarness.customers + "\(IngestHarness.customer2),,,ACTIVE,NONE,,\(String(repeating: "e", count: 64))\n"
    #expect(
      try await IngestHarness().error(customers: twice, transactions: ok).contains("customer \(IngestHarness.customer2) appears twice"))
    let unterminated = IngestHarness.articles + "0108775016,0108775,\"Open quote\n"
    #expect(
      try await IngestHarness().error(articles: unterminated, transactions: ok).contains(
        "articles.csv:5: a quoted field opened here is never closed"))
  }

  /// A category column with more distinct values than its codes hold is one sentence naming the
  /// file and column (it crashed ingest when a customers file had 256 statuses); at the limit it
  /// ingests.
  @Test func categoryColumnsBeyondTheirCodesAreOneSentence() async throws {
    func customers(statuses: Int) -> String {
      var text = "customer_id,FN,Active,club_member_status,fashion_news_frequency,age,postal_code\n"
      for n in 0..<300 {
        let id = String(repeating: "0", count: 60) + String(format: "%04x", n)
        text += "\(id),,,STATUS \(n % statuses),NONE,30,\(String(repeating: "f", count: 64))\n"
      }
      return text
    }
    let ok = IngestHarness.transactionsHeader + IngestHarness.row("2018-09-20", String(repeating: "0", count: 64))
    #expect(
      try await IngestHarness().error(customers: customers(statuses: 256), transactions: ok)
        == "customers.csv: club_member_status: has 256 distinct values; a category column holds at most 255 (is it free text, or the wrong column?)"
    )
    let result = try await IngestHarness().run(customers: customers(statuses: 255), transactions: ok)
    #expect(result.record.stages[0].status == .ran)
    let table = try result.store.reader(result.record.stages[0].outputs["customers"]!).table()
    #expect(Set(try table.column("club_member_status").values(UInt8.self)) == Set(0..<255))
  }

  /// The run's day is the default last plausible date; `last_date` moves it.
  @Test func lastDateBoundsTheDates() async throws {
    let tx = IngestHarness.transactionsHeader + IngestHarness.row() + IngestHarness.row("2020-09-22")
    #expect(
      try await IngestHarness().error(#"{"last_date": "2020-09-21"}"#, transactions: tx)
        .contains("transactions_train.csv:3: t_dat: '2020-09-22' is outside the plausible dates 2000-01-01…2020-09-21"))
    #expect(try await IngestHarness().run(#"{"last_date": "2020-09-22"}"#, transactions: tx).record.stages[0].status == .ran)
    #expect(KaggleDate.text(day: Int(KaggleDate.day("2020-09-22")!)) == "2020-09-22")
    await #expect { try await IngestHarness().run(#"{"last_date": "tomorrow"}"#, transactions: tx) } throws: {
      "\($0)".contains("stages[0].params.last_date: must be a date as YYYY-MM-DD or \"\" (the run's day), not \"tomorrow\"")
    }
  }

  /// A word param outside its choices lists them.
  @Test func choiceParamsListTheAllowedWords() async throws {
    await #expect { try await IngestHarness().run(#"{"bad_rows": "ignore"}"#, transactions: "") } throws: {
      "\($0)".hasSuffix(#"stages[0].params.bad_rows: must be "fail" or "skip", not "ignore""#)
    }
    await #expect { try await IngestHarness().run(#"{"missing_articles": "keep"}"#, transactions: "") } throws: {
      "\($0)".hasSuffix(#"stages[0].params.missing_articles: must be "add", "drop" or "fail", not "keep""#)
    }
  }

  /// Only the ids and dates are required. Absent columns are null columns, listed as absent; a
  /// stage that names one (filter needs department_no) fails with a sentence saying so.
  @Test func absentColumnsAreNullsAndTheStageThatNeedsOneSaysSo() async throws {
    let harness = IngestHarness()
    harness.write("articles.csv", "article_id,prod_name\n0108775015,Strap top\n0108775044,Strap top\n")
    harness.write("customers.csv", "customer_id,age\n\(IngestHarness.customer1),30\n\(IngestHarness.customer2),\n")
    harness.write(
      "transactions_train.csv",
      "t_dat,customer_id,article_id\n2018-09-20,\(IngestHarness.customer1),0108775015\n"
        + "2018-09-27,\(IngestHarness.customer2),0108775044\n")
    harness.write(
      "p.json",
      """
      {"store": "store", "stages": [
        {"name": "ingest", "kind": "ingest", "inputs": {
          "articles": "file:articles.csv", "customers": "file:customers.csv", "transactions": "file:transactions_train.csv"}},
        {"name": "neighbours", "kind": "embed-neighbours", "params": {"k": 1}, "inputs": {"articles": "ingest.articles"}},
        {"name": "filter", "kind": "filter", "inputs": {"transactions": "ingest.transactions", "articles": "ingest.articles",
          "customers": "ingest.customers", "neighbours": "neighbours.neighbours"}}
      ]}
      """)
    let spec = try PipelineLoader(registry: HMStages.registry).load(harness.dir.path + "/p.json")
    let store = try Store(root: spec.storePath)
    let record = try await Runner(spec: spec, store: store, options: RunOptions(jobs: 1)).run()
    let ingest = record.stages[0]
    #expect(ingest.status == .ran, "\(ingest.error ?? "")")
    let transactions = try store.reader(ingest.outputs["transactions"]!).table()
    #expect(transactions.absentColumns == ["price", "sales_channel_id"])
    #expect(try transactions.column("price").values(Float.self).allSatisfy(\.isNaN))
    #expect(try transactions.column("channel").values(UInt8.self).allSatisfy { $0 == 255 })
    let articles = try store.reader(ingest.outputs["articles"]!).table()
    #expect(articles.absentColumns.contains("department_no") && !articles.absentColumns.contains("prod_name"))
    #expect(Array(try articles.column("product_code").values(Int32.self)) == [108775, 108775], "derived from the id")
    #expect(try articles.column("department_no").values(Int32.self).allSatisfy { $0 == Int32.min })
    let customers = try store.reader(ingest.outputs["customers"]!).table()
    #expect(customers.absentColumns == ["FN", "Active", "club_member_status", "fashion_news_frequency", "postal_code"])
    #expect(Array(try customers.column("age").values(UInt8.self)) == [30, 255])
    #expect(record.stages[1].status == .ran, "content embeddings skip the null attributes")
    #expect(
      record.stages[2].error
        == "stage 'filter': 'articles' has no column department_no: its source file lacked it (written as nulls), and this stage needs it")
  }

  @Test func crlfBomAndExtraColumnsAreAccepted() async throws {
    let tx =
      "\u{FEFF}t_dat,extra,customer_id,article_id,price,sales_channel_id\r\n2018-09-20,x,\(IngestHarness.customer1),108775015,0.05,1\r\n"
    let result = try await IngestHarness().run(transactions: tx)
    #expect(result.record.stages[0].status == .ran, "\(result.record.stages[0].error ?? "")")
    let table = try result.store.reader(result.record.stages[0].outputs["transactions"]!).table()
    #expect(Array(try table.column("channel").values(UInt8.self)) == [1])
    #expect(Array(try table.column("price").values(Float.self)) == [0.05])
  }

  /// The Kaggle column order takes the fast record parser; any other order (here one more column)
  /// the general one. Both give the same table on rows of every shape: prices of any length, ids
  /// with and without the leading zero, CRLF, quoted fields, a blank line.
  @Test func kaggleLayoutFastPathParsesAsTheGeneralPath() async throws {
    var rng = CounterRandom(seed: 8, stream: 0, index: 0)
    var standard = "t_dat,customer_id,article_id,price,sales_channel_id\n"
    var reordered = "t_dat,customer_id,article_id,price,sales_channel_id,extra\n"
    for n in 0..<400 {
      let date = "2019-\(String(format: "%02d", 1 + n / 40))-\(String(format: "%02d", 1 + n % 28))"
      let customer = rng.chance(0.5) ? IngestHarness.customer1 : IngestHarness.customer2
      let article = ["0108775015", "108775044", "0108775044"][rng.below(3)]
      let price = "0." + String((0..<(1 + rng.below(19))).map { _ in Character(String(rng.below(10))) })
      var fields = [date, customer, article, price, String(1 + rng.below(2))]
      if n % 37 == 0 { fields[0] = "\"\(date)\"" }
      let end = n % 11 == 0 ? "\r\n" : "\n"
      standard += fields.joined(separator: ",") + end
      reordered += fields.joined(separator: ",") + ",x" + end
      if n == 200 {
        standard += "\n"
        reordered += "\n"
      }
    }
    func table(_ text: String) async throws -> Table {
      let result = try await IngestHarness().run(transactions: text)
      #expect(result.record.stages[0].status == .ran, "\(result.record.stages[0].error ?? "")")
      return try result.store.reader(result.record.stages[0].outputs["transactions"]!).table()
    }
    let (fast, general) = (try await table(standard), try await table(reordered))
    #expect(fast.rowCount == 400)
    #expect(try fast.column("day").values(Int32.self).elementsEqual(general.column("day").values(Int32.self)))
    #expect(try fast.column("customer").values(UInt32.self).elementsEqual(general.column("customer").values(UInt32.self)))
    #expect(try fast.column("article").values(UInt32.self).elementsEqual(general.column("article").values(UInt32.self)))
    #expect(try fast.column("price").values(Float.self).elementsEqual(general.column("price").values(Float.self)))
    #expect(try fast.column("channel").values(UInt8.self).elementsEqual(general.column("channel").values(UInt8.self)))
    #expect(Set(try fast.column("channel").values(UInt8.self)) == [1, 2])
  }

  /// Pieces write into the file's columns at the tighter of the row bounds of the bytes and of the
  /// lines before them: lines where the file has long lines, bytes where it has many blank ones.
  @Test func piecesStartAtTheTighterRowBound() {
    let columns = TransactionColumns(capacity: TransactionColumns.rowBound(bytes: 9 * 64 + 10))
    func part(_ bytes: Range<Int>, _ lines: Range<Int>?) -> TransactionsReader.Part {
      TransactionsReader.Part(columns, CSVTableReader.Piece(bytes: bytes, lines: lines), bodyStart: 10, days: 0...1000)
    }
    let byLines = [part(10..<(5 * 64 + 10), 0..<3), part((5 * 64 + 10)..<(9 * 64 + 10), 3..<6)]
    #expect(byLines.map(\.first) == [0, 3] && byLines.map(\.bound) == [3, 3])
    let byBytes = [part(10..<(5 * 64 + 10), 0..<40), part((5 * 64 + 10)..<(9 * 64 + 10), 40..<90)]
    #expect(byBytes.map(\.first) == [0, 5] && byBytes.map(\.bound) == [5, 4])
    let unnumbered = [part(10..<(5 * 64 + 10), nil), part((5 * 64 + 10)..<(9 * 64 + 10), nil)]
    #expect(unnumbered.map(\.first) == [0, 5] && unnumbered.map(\.bound) == [5, 4])
  }

  /// Pieces write into the file's columns at the row bound of the bytes before them; the merge
  /// closes the gaps in order, and the missing-id rows follow, through a drop.
  @Test func piecesWithFewerRowsThanTheirBoundCloseUp() throws {
    let columns = TransactionColumns(capacity: TransactionColumns.rowBound(bytes: 9 * 64 + 10))
    var parts = [
      TransactionsReader.Part(columns, CSVTableReader.Piece(bytes: 10..<(5 * 64 + 10)), bodyStart: 10, days: 0...1000),
      TransactionsReader.Part(columns, CSVTableReader.Piece(bytes: (5 * 64 + 10)..<(9 * 64 + 10)), bodyStart: 10, days: 0...1000),
    ]
    #expect(parts.map(\.first) == [0, 5] && parts.map(\.bound) == [5, 4])
    for (p, rows) in [(0, 3), (1, 4)] {
      for r in 0..<rows {
        let row = parts[p].first + r
        columns.day.rows[row] = Int32(10 * p + r)
        (columns.customer.rows[row], columns.article.rows[row]) = (UInt32(r), UInt32(r))
        (columns.price.rows[row], columns.channel.rows[row]) = (Float(r), 1)
      }
      parts[p].count = rows
    }
    parts[1].missingCustomers = [(1, CustomerKey(a: 1, b: 2, c: 3, d: 4))]
    parts[1].missingArticles = [(2, 42), (3, 43)]
    var merge = TransactionMerge(columns: columns, parts: parts, customersInFile: 10, articlesInFile: 10)
    #expect(merge.rows == 7)
    #expect(merge.missingCustomers.map(\.0) == [4] && merge.missingArticles.map(\.0) == [5, 6])
    _ = try merge.resolveCustomers(.drop, file: "t.csv")
    let added = try merge.resolveArticles(.add, file: "t.csv")
    #expect(added == [42, 43])
    let table = merge.table()
    #expect(Array(try table.column("day").values(Int32.self)) == [0, 1, 2, 10, 12, 13])
    #expect(Array(try table.column("article").values(UInt32.self)) == [0, 1, 2, 0, 10, 11])
  }

  /// Pieces that start mid-record, or inside a quoted field with newlines, parse exactly as one piece.
  @Test(arguments: [64, 97, 150, 333])
  func pieceBoundariesInsideRecordsAndQuotedNewlines(bytesPerPiece: Int) throws {
    var text = IngestHarness.articlesHeader + "\n"
    for n in 0..<60 {
      text +=
        "01087750\(String(format: "%02d", n)),0108775,\"Name, \(n)\",253,Vest top,G,1,S,9,B,4,D,5,B,1676,J,A,L,1,L,16,S,1002,J,\"line one\nline \"\"two\"\", \(n)\"\n"
    }
    let bytes = Array(text.utf8)
    try bytes.withUnsafeBytes { raw in
      let input = InputBytesForTests.make(name: "articles.csv", bytes: raw)
      let reader = try CSVTableReader(input, kind: "articles", required: ["article_id"], optional: ["detail_desc"])
      let descAt = reader.position("detail_desc")!
      func parse(_ piece: Int) throws -> [String] {
        try reader.parse(badRows: .fail, bytesPerPiece: piece, makePart: { _ in [String]() }) { part, fields, _ in
          part.append(reader.scanner.text(fields[descAt]))
        }.parts.flatMap { $0 }
      }
      let whole = try parse(1 << 30)
      #expect(whole.count == 60)
      #expect(whole[7] == "line one\nline \"two\", 7")
      #expect(try parse(bytesPerPiece) == whole)
      let pieces = bytes.count / bytesPerPiece
      let guessed = reader.scanner.guessSplit(from: reader.bodyStart, pieces: pieces)
      let exact = reader.scanner.exactSplit(from: reader.bodyStart, pieces: pieces)
      // Both cover the body; the guess cuts inside quoted fields here (an odd count of quotes
      // before a cut), which the parse detects; the exact cuts never do.
      for cuts in [guessed, exact] {
        #expect(cuts.count > 1 && cuts.first?.lowerBound == reader.bodyStart && cuts.last?.upperBound == bytes.count)
        #expect(zip(cuts, cuts.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
      }
      func insideQuotes(_ cut: Range<Int>) -> Bool { bytes[..<cut.lowerBound].filter { $0 == 0x22 }.count % 2 == 1 }
      #expect(guessed.contains(where: insideQuotes))
      #expect(!exact.contains(where: insideQuotes))
    }
  }

  /// Numbered pieces know the lines that start in them, as counted from the whole text: blank
  /// lines and CRLF ends count, a quoted line break counts (the lines bound the records, which is
  /// all a reader needs), an unterminated last line counts; on guessed and on exact cuts alike.
  @Test(arguments: [40, 97, 333, 1 << 20])
  func numberedPiecesKnowTheirLines(bytesPerPiece: Int) throws {
    var text = "article_id,detail_desc\n"
    for n in 0..<80 {
      text += n % 9 == 0 ? "\n" : ""
      text += n % 7 == 0 ? "0\(n),\"two\nlines\"\r\n" : "0\(n),plain \(n)\n"
    }
    text += "999,last line without its end"
    let bytes = Array(text.utf8)
    try bytes.withUnsafeBytes { raw in
      let reader = try CSVTableReader(InputBytesForTests.make(name: "a.csv", bytes: raw), kind: "articles", required: ["article_id"])
      let body = Array(bytes[reader.bodyStart...])
      let totalLines = body.filter { $0 == 0x0A }.count + 1
      let parsed = try reader.parse(badRows: .fail, bytesPerPiece: bytesPerPiece, numberLines: true) {
        (piece: $0, records: 0)
      } row: { part, _, _ in
        part.records += 1
      }.parts
      #expect(parsed.reduce(0) { $0 + $1.records } == 81)
      var next = 0
      for (piece, records) in parsed {
        let lines = try #require(piece.lines)
        let endsBefore = bytes[reader.bodyStart..<piece.bytes.lowerBound].filter { $0 == 0x0A }.count
        #expect(lines.lowerBound == endsBefore && lines.lowerBound == next)
        #expect(records <= lines.count)
        next = lines.upperBound
      }
      #expect(next == totalLines)
      let unnumbered = try reader.parse(badRows: .fail, bytesPerPiece: bytesPerPiece) {
        $0.lines
      } row: { _, _, _ in
      }
      #expect(unnumbered.parts.allSatisfy { $0 == nil })
    }
  }

  /// With guessed cuts, a bad row far into the file is still the error, with its line; an
  /// unterminated quote in the middle of the file is found by the quote-aware second pass.
  @Test(arguments: [BadRowPolicy.fail, .skip])
  func badRowsAfterGuessedCutsAreReportedInFileOrder(policy: BadRowPolicy) throws {
    var lines = (0..<200).map { "01087750\(String(format: "%03d", $0)),\"name \($0)\"" }
    lines[150] = "0108775150,\"name, with \"\"quotes\"\", 150\",extra"
    let text = "article_id,prod_name\n" + lines.joined(separator: "\n") + "\n"
    let bytes = Array(text.utf8)
    try bytes.withUnsafeBytes { raw in
      let reader = try CSVTableReader(
        InputBytesForTests.make(name: "articles.csv", bytes: raw), kind: "articles", required: ["article_id"])
      func parse() throws -> Int {
        try reader.parse(badRows: policy, bytesPerPiece: 100, makePart: { _ in 0 }) { part, _, _ in part += 1 }
          .parts.reduce(0, +)
      }
      if policy == .skip {
        #expect(try parse() == 199)
      } else {
        let error = #expect(throws: CSVError.self) { try parse() }
        #expect(error?.line == 152 && error?.code == .badFieldCount)
      }
    }
    let open =
      "article_id,prod_name\n" + lines.prefix(100).joined(separator: "\n") + "\n1,\"never closed\n"
      + (0..<99).map { "02087750\($0),plain" }.joined(separator: "\n") + "\n"
    try Array(open.utf8).withUnsafeBytes { raw in
      let reader = try CSVTableReader(
        InputBytesForTests.make(name: "articles.csv", bytes: raw), kind: "articles", required: ["article_id"])
      let error = #expect(throws: CSVError.self) {
        try reader.parse(badRows: policy, bytesPerPiece: 100, makePart: { _ in 0 }) { part, _, _ in part += 1 }
      }
      #expect(error?.code == .unterminatedQuote && error?.line == 102)
    }
  }
}

/// Category columns: each piece codes its values by their bytes; the merge gives every row the code
/// of its text in one sorted dictionary, as coding the rows' texts directly would.
@Suite struct CategoryPartTests {
  @Test(arguments: [1, 3, 40])
  func mergedCodesAreTheRowsTextsInOneSortedDictionary(pieces: Int) throws {
    var rng = CounterRandom(seed: 5, stream: 2, index: UInt64(pieces))
    // Quoted values with doubled quotes, empty fields, and "é" spelled two ways (one text).
    let pool =
      ["ACTIVE", "PRE-CREATE", "\"say \"\"hi\"\"\"", "\"plain quoted\"", "", "caf\u{E9}", "cafe\u{301}"] + (0..<300).map { "v\($0)" }
    let fields = (0..<3000).map { _ in pool[rng.below(rng.chance(0.5) ? 7 : pool.count)] }
    let text = fields.joined(separator: "\n") + "\n"
    let bytes = Array(text.utf8)
    try bytes.withUnsafeBytes { raw in
      let scanner = CSVScanner(name: "c.csv", data: raw)
      var parts = [CategoryPart](repeating: CategoryPart(), count: pieces)
      var texts: [String] = []
      var at = 0, buffer: [FieldRange] = []
      for row in fields.indices {
        _ = try scanner.nextRecord(from: &at, end: raw.count, fields: &buffer)
        parts[row * pieces / fields.count].append(scanner, buffer[0])
        texts.append(scanner.text(buffer[0]))
      }
      let (codes, values) = try CategoryPart.merge(parts, as: UInt16.self)
      let expected = Array(Set(texts.filter { !$0.isEmpty })).sorted()
      #expect(values == expected && values.contains("say \"hi\"") && values.filter { $0 == "caf\u{E9}" }.count == 1)
      #expect(codes == texts.map { $0.isEmpty ? UInt16.max : UInt16(expected.firstIndex(of: $0)!) })
      #expect(throws: CategoryPart.TooManyValues.self) { try CategoryPart.merge(parts, as: UInt8.self) }
    }
  }
}

/// Makes `InputBytes` for kernel tests.
enum InputBytesForTests {
  static func make(name: String, bytes: UnsafeRawBufferPointer) -> InputBytes {
    InputBytes(name: name, bytes: bytes, owner: NSObject())
  }
}

@Suite struct FieldParserTests {
  /// Counting one byte sixty-four at a time, with the lane counters folded every 255 blocks, gives
  /// what a byte-by-byte count gives, at any start and length (tails, one fold, several).
  @Test(arguments: [0, 1, 63, 64, 65, 16_320, 16_383, 40_001])
  func byteCountsMatchAPlainCount(length: Int) {
    var rng = CounterRandom(seed: 5, stream: 1, index: UInt64(length))
    // Mostly newlines in places, so that a lane's counter would overflow without the folds.
    let bytes = (0..<(length + 7)).map { n in n % 3 == 0 || rng.next() % 4 == 0 ? UInt8(0x0A) : UInt8(truncatingIfNeeded: rng.next()) }
    for start in [0, 7] where start <= bytes.count - length {
      let range = start..<(start + length)
      let counted = bytes.withUnsafeBytes { FieldParser.count(0x0A, in: $0, range) }
      #expect(counted == bytes[range].filter { $0 == 0x0A }.count)
    }
  }

  @Test(arguments: 0..<200)
  func hexMatchesAScalarReference(seed: Int) {
    var rng = CounterRandom(seed: 3, stream: 1, index: UInt64(seed))
    let alphabet = Array("0123456789abcdefABCDEF".utf8)
    var text = (0..<64).map { _ in alphabet[rng.below(alphabet.count)] }
    // Every fourth case carries one byte that is not a hex digit.
    let broken = seed % 4 == 0
    if broken { text[rng.below(64)] = Array("gG/:@`z \u{7F}".utf8)[rng.below(9)] }
    let key = text.withUnsafeBytes { FieldParser.hex256($0, FieldRange(start: 0, end: 64, quoted: false)) }
    if broken {
      #expect(key == nil)
    } else {
      let words = (0..<4).map { UInt64(String(decoding: text[($0 * 16)..<($0 * 16 + 16)], as: UTF8.self), radix: 16)! }
      #expect(key == CustomerKey(a: words[0], b: words[1], c: words[2], d: words[3]))
    }
  }

  /// Numbers of every length around the eight-digit steps (integer part 0–12 digits, fraction
  /// 0–21, leading zeros, signs, exponents), some with one byte that is not a digit: up to 15
  /// significant digits and no exponent the value is exactly `Double(text)` (one correctly rounded
  /// division); the others (19 digits kept, scaled in steps) round to the same Float; broken ones
  /// are rejected.
  @Test(arguments: 0..<40)
  func numbersMatchTheStandardLibrary(seed: Int) {
    var rng = CounterRandom(seed: 5, stream: 2, index: UInt64(seed))
    for _ in 0..<250 {
      var text = rng.chance(0.2) ? "-" : ""
      let whole = rng.below(13), fraction = rng.below(22)
      text += String((0..<whole).map { _ in Character(String(rng.below(10))) })
      if whole == 0 || rng.chance(0.7) {
        text += "." + String((0..<fraction).map { _ in Character(String(rng.chance(0.3) ? 0 : rng.below(10))) })
      }
      if rng.chance(0.1) { text += "e" + String(rng.below(30) - 15) }
      var bytes = Array(text.utf8)
      let broken = rng.chance(0.15) && !bytes.isEmpty
      if broken { bytes[rng.below(bytes.count)] = Array("x/:a ".utf8)[rng.below(5)] }
      let parsed = bytes.withUnsafeBytes { FieldParser.number($0, FieldRange(start: 0, end: bytes.count, quoted: false)) }
      let written = String(decoding: bytes, as: UTF8.self)
      guard let expected = Double(written), bytes.contains(where: { (0x30...0x39).contains($0) }) else {
        #expect(parsed == nil, "\(written)")
        continue
      }
      let significant = written.prefix { $0 != "e" }.filter(\.isNumber).drop { $0 == "0" }.count
      if significant <= 15 && !written.contains("e") {
        #expect(parsed == expected, "\(written)")
      } else {
        #expect(parsed.map(Float.init) == Float(expected), "\(written)")
      }
    }
  }

  /// Up to 19 significant digits and no exponent, a number is exactly its digits read as an integer
  /// over ten to the count of its fraction digits, however the fraction's length splits into
  /// eight-digit steps and single digits, and whatever bytes surround the field: prices keep their
  /// values (and artifacts their ids) across changes to how they are read.
  @Test func numbersOfUpTo19DigitsAreTheirDigitsOverAPowerOfTen() {
    var rng = CounterRandom(seed: 9, stream: 1, index: 0)
    for _ in 0..<20_000 {
      let whole = rng.below(4), fraction = 1 + rng.below(19 - whole)
      let digits = (0..<(whole + fraction)).map { _ in UInt8(48 + (rng.chance(0.3) ? 0 : rng.below(10))) }
      let text = (whole == 0 ? Array("0".utf8) : Array(digits[0..<whole])) + [0x2E] + digits[whole...]
      let prefix = Array("2018-09-20,0123456789,".utf8.prefix(rng.below(23)))
      let bytes = prefix + text + Array(",2\n".utf8.prefix(rng.below(4)))
      let parsed = bytes.withUnsafeBytes {
        FieldParser.number($0, FieldRange(start: prefix.count, end: prefix.count + text.count, quoted: false))
      }
      let integer = digits.reduce(UInt64(0)) { $0 * 10 + UInt64($1 - 48) }
      #expect(parsed == Double(integer) / Double("1e\(fraction)")!, "\(String(decoding: text, as: UTF8.self))")
    }
  }
}

/// split keeps the rows before the holdout as train and the rest as test, whether the file is in
/// date order (train then copied by chunk from ingest's table) or not (filtered row by row).
@Suite struct SplitTests {
  @Test(arguments: [true, false])
  func trainIsTheRowsBeforeTheHoldoutInFileOrder(dateOrdered: Bool) async throws {
    let harness = IngestHarness()
    let dates = ["2018-09-20", "2018-09-21", "2018-09-21", "2018-09-22", "2018-09-23", "2018-09-23"]
    let order = dateOrdered ? Array(dates.indices) : [4, 0, 3, 5, 1, 2]
    let rows = order.map {
      IngestHarness.row(dates[$0], $0 % 2 == 0 ? IngestHarness.customer1 : IngestHarness.customer2, "0108775015", "0.0\($0 + 1)")
    }
    harness.write("articles.csv", IngestHarness.articles)
    harness.write("customers.csv", IngestHarness.customers)
    harness.write("transactions_train.csv", IngestHarness.transactionsHeader + rows.joined())
    harness.write(
      "p.json",
      """
      {"store": "store", "stages": [
        {"name": "ingest", "kind": "ingest", "inputs": {
          "articles": "file:articles.csv", "customers": "file:customers.csv", "transactions": "file:transactions_train.csv"}},
        {"name": "split", "kind": "split", "params": {"holdout_days": 2}, "inputs": {"transactions": "ingest.transactions"}}
      ]}
      """)
    let spec = try PipelineLoader(registry: HMStages.registry).load(harness.dir.path + "/p.json")
    let store = try Store(root: spec.storePath)
    let record = try await Runner(spec: spec, store: store, options: RunOptions(jobs: 1)).run()
    #expect(record.stages.allSatisfy { $0.status == .ran }, "\(record.stages.map { $0.error ?? "" })")
    let prices = { (output: String) in
      Array(try store.reader(record.stages[1].outputs[output]!).table().column("price").values(Float.self))
    }
    // Prices name the rows (0.01 is the first date's row): the holdout is the last two days, 09-22 and 09-23.
    let expectTrain = order.filter { $0 < 3 }.map { Float("0.0\($0 + 1)")! }
    let expectTest = order.filter { $0 >= 3 }.map { Float("0.0\($0 + 1)")! }
    #expect(try prices("train") == expectTrain)
    #expect(try prices("test") == expectTest)
    let train = try store.reader(record.stages[1].outputs["train"]!).table()
    #expect(train.metadata == (try store.reader(record.stages[0].outputs["transactions"]!).table()).metadata)
  }
}
