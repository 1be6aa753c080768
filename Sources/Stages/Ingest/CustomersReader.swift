import Pipeline

/// customers.csv → customer keys in file order and their attributes. Nullable columns use 255.
struct CustomersReader {
  static let required = ["customer_id"]
  static let optional = ["FN", "Active", "club_member_status", "fashion_news_frequency", "age", "postal_code"]

  struct Part: Sendable {
    var keys: [CustomerKey] = []
    var fn: [UInt8] = []
    var active: [UInt8] = []
    var club = CategoryPart()
    var news = CategoryPart()
    var age: [UInt8] = []
    var postal = StringColumnBuilder()
  }

  struct Result {
    var keys: [CustomerKey]
    var parts: [Part]
    /// `club_member_status` and `fashion_news_frequency`: each row's code, and the values.
    var categories: [(name: String, codes: [UInt8], values: [String])]
    var skipped: Int
    var has: Set<String>
  }

  static func read(_ input: InputBytes, badRows: BadRowPolicy) throws -> Result {
    let reader = try CSVTableReader(input, kind: "the H&M customers file", required: required, optional: optional)
    let scanner = reader.scanner
    let idAt = reader.position("customer_id")!
    let fnAt = reader.position("FN"), activeAt = reader.position("Active"), clubAt = reader.position("club_member_status")
    let newsAt = reader.position("fashion_news_frequency"), ageAt = reader.position("age"), postalAt = reader.position("postal_code")
    let (parts, skipped) = try reader.parse(badRows: badRows, makePart: { _ in Part() }) { part, fields, _ throws(RowError) in
      guard let key = FieldParser.hex256(scanner.data, fields[idAt]) else {
        throw RowError("customer_id", "'\(scanner.text(fields[idAt]))' is not a customer id (64 hex digits)")
      }
      part.keys.append(key)
      if let fnAt { part.fn.append(try flag(scanner, fields[fnAt], "FN")) }
      if let activeAt { part.active.append(try flag(scanner, fields[activeAt], "Active")) }
      if let clubAt { part.club.append(scanner, fields[clubAt]) }
      if let newsAt { part.news.append(scanner, fields[newsAt]) }
      if let ageAt {
        let f = fields[ageAt]
        if f.count == 0 {
          part.age.append(255)
        } else {
          guard let v = FieldParser.number(scanner.data, f), v >= 0, v < 255 else {
            throw RowError("age", "'\(scanner.text(f))' is not an age")
          }
          part.age.append(UInt8(v))
        }
      }
      if let postalAt { part.postal.append(scanner, fields[postalAt]) }
    }
    var categories: [(name: String, codes: [UInt8], values: [String])] = []
    for (name, path) in [("club_member_status", \Part.club), ("fashion_news_frequency", \Part.news)] {
      do throws(CategoryPart.TooManyValues) {
        let (codes, values) = try CategoryPart.merge(parts.map { $0[keyPath: path] }, as: UInt8.self)
        categories.append((name, codes, values))
      } catch { throw error.csvError(file: input.name, column: name) }
    }
    return Result(
      keys: parts.flatMap(\.keys), parts: parts, categories: categories, skipped: skipped, has: Set(reader.positions.keys))
  }

  /// `1.0`/`1` → 1, `0` → 0, empty → null (255).
  static func flag(_ scanner: CSVScanner, _ f: FieldRange, _ name: String) throws(RowError) -> UInt8 {
    if f.count == 0 { return 255 }
    guard let v = FieldParser.number(scanner.data, f), v == 0 || v == 1 else {
      throw RowError(name, "'\(scanner.text(f))' is not 1.0, 0 or empty")
    }
    return UInt8(v)
  }

  /// The customers table: file customers, then `added` ones (bought, not in the file).
  static func table(_ result: Result, added: [CustomerKey], dictionaries: inout DictionaryBuilder) -> Table {
    let rows = result.keys.count + added.count
    // An absent column is all nulls (255); a present one has nulls for the added customers.
    let pad = { (name: String, values: [UInt8]) in
      result.has.contains(name) ? values + repeatElement(255, count: added.count) : [UInt8](repeating: 255, count: rows)
    }
    var columns = (0..<4).map { w in
      Column(
        name: "id_word\(w)", type: .scalar(.u64), rowCount: rows,
        values: ByteStorage(count: rows * 8) { raw in
          let out = raw.bindMemory(to: UInt64.self)
          for (n, key) in result.keys.enumerated() { out[n] = key.word(w) }
          for (n, key) in added.enumerated() { out[result.keys.count + n] = key.word(w) }
        }, offsets: nil)
    }
    columns.append(Column("FN", pad("FN", result.parts.flatMap(\.fn)), nullSentinel: 255))
    columns.append(Column("Active", pad("Active", result.parts.flatMap(\.active)), nullSentinel: 255))
    for (name, codes, values) in result.categories {
      dictionaries.add(name, values: values)
      columns.append(Column(name, pad(name, codes), nullSentinel: 255))
    }
    columns.append(Column("age", pad("age", result.parts.flatMap(\.age)), nullSentinel: 255))
    if result.has.contains("postal_code") {
      columns.append(StringColumnBuilder.column("postal_code", joining: result.parts.map(\.postal), emptyRows: added.count))
    }
    columns.append(Column("in_customers_file", (0..<rows).map { UInt8($0 < result.keys.count ? 1 : 0) }))
    var table = Table(columns, metadata: ["id_format": "id_word0..3: the 64-hex customer_id as four big-endian 64-bit words"])
    table.absentColumns = optional.filter { !result.has.contains($0) }
    return table
  }
}
