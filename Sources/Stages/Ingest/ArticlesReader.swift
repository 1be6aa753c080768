import Pipeline

/// articles.csv → the articles table: numeric columns as `i32`, category names as `u16` codes into
/// the dictionaries (null 65535), free text kept as strings. Numeric nulls are Int32.min, since the
/// real data uses −1 as a value ("unknown"). Only `article_id` is required: an absent column is a
/// null column listed in `absent_columns` (`product_code` is derived from the id instead).
struct ArticlesReader {
  static let numeric = [
    "product_code", "product_type_no", "graphical_appearance_no", "colour_group_code",
    "perceived_colour_value_id", "perceived_colour_master_id", "department_no", "index_group_no",
    "section_no", "garment_group_no",
  ]
  static let categorical = [
    "product_type_name", "product_group_name", "graphical_appearance_name", "colour_group_name",
    "perceived_colour_value_name", "perceived_colour_master_name", "department_name", "index_code",
    "index_name", "index_group_name", "section_name", "garment_group_name",
  ]
  static let text = ["prod_name", "detail_desc"]
  static let required = ["article_id"]

  struct Part: Sendable {
    var ids: [UInt64] = []
    var numbers: [[Int32]] = Array(repeating: [], count: ArticlesReader.numeric.count)
    var categories = [CategoryPart](repeating: CategoryPart(), count: ArticlesReader.categorical.count)
    var texts: [StringColumnBuilder] = Array(repeating: StringColumnBuilder(), count: ArticlesReader.text.count)
  }

  /// The parsed articles: ids in file order and their columns.
  struct Result {
    var ids: [UInt64]
    /// The pieces' numeric columns joined.
    var numbers: [[Int32]]
    /// Each category column's codes and values, in the order of `categorical`.
    var categories: [(codes: [UInt16], values: [String])]
    var texts: [[StringColumnBuilder]]
    var skipped: Int
    /// Known columns the file lacks.
    var absent: Set<String>
  }

  static func read(_ input: InputBytes, badRows: BadRowPolicy) throws -> Result {
    let reader = try CSVTableReader(
      input, kind: "the H&M articles file", required: required,
      optional: numeric + categorical + text)
    let scanner = reader.scanner
    let idAt = reader.position("article_id")!
    let numberAt = numeric.map { reader.position($0) }
    let categoryAt = categorical.map { reader.position($0) }
    let textAt = text.map { reader.position($0) }
    let (parts, skipped) = try reader.parse(badRows: badRows, makePart: { _ in Part() }) { part, fields, _ throws(RowError) in
      part.ids.append(try articleID(scanner, fields[idAt]))
      for (n, at) in numberAt.enumerated() {
        guard let at else { continue }
        let f = fields[at]
        if f.count == 0 {
          part.numbers[n].append(Int32.min)
          continue
        }
        guard let v = FieldParser.signed(scanner.data, f), v >= Int64(Int32.min), v <= Int64(Int32.max) else {
          throw RowError(numeric[n], "'\(scanner.text(f))' is not an integer")
        }
        part.numbers[n].append(Int32(v))
      }
      for (n, at) in categoryAt.enumerated() { if let at { part.categories[n].append(scanner, fields[at]) } }
      for (n, at) in textAt.enumerated() { if let at { part.texts[n].append(scanner, fields[at]) } }
    }
    let ids = parts.flatMap(\.ids)
    var seen: [UInt64: Int] = [:]
    for (row, id) in ids.enumerated() {
      if let first = seen[id] {
        throw CSVError(
          code: .badField, file: input.name, line: 0, field: "article_id",
          message: "article \(ArticleNumber.text(id)) appears twice (rows \(first + 1) and \(row + 1))")
      }
      seen[id] = row
    }
    let merged = Parallel.map(chunks: categorical.count) { n -> Swift.Result<(codes: [UInt16], values: [String]), CSVError> in
      do throws(CategoryPart.TooManyValues) {
        return .success(try CategoryPart.merge(parts.map { $0.categories[n] }, as: UInt16.self))
      } catch {
        return .failure(error.csvError(file: input.name, column: categorical[n]))
      }
    }
    let categories = try merged.map { try $0.get() }
    return Result(
      ids: ids, numbers: numeric.indices.map { n in parts.flatMap { $0.numbers[n] } }, categories: categories,
      texts: text.indices.map { n in parts.map { $0.texts[n] } }, skipped: skipped,
      absent: Set((numeric + categorical + text).filter { reader.position($0) == nil }))
  }

  /// An article id: digits, with or without the leading zero, at most 10 of them.
  static func articleID(_ scanner: CSVScanner, _ f: FieldRange) throws(RowError) -> UInt64 {
    guard let v = articleNumber(scanner.data, f) else {
      throw RowError("article_id", "'\(scanner.text(f))' is not an article id (up to 10 digits)")
    }
    return v
  }

  @inline(__always)
  static func articleNumber(_ data: UnsafeRawBufferPointer, _ f: FieldRange) -> UInt64? {
    guard f.count <= 10, let v = FieldParser.unsigned(data, f), v > 0 else { return nil }
    return v
  }

  /// The articles table, with `added` ids (bought but not in the file) appended with unknown attributes.
  static func table(_ result: Result, added: [UInt64], dictionaries: inout DictionaryBuilder) -> Table {
    let ids = result.ids + added
    var columns = [Column("article_id", ids)]
    for (n, name) in numeric.enumerated() {
      let productCode = { (id: UInt64) in Int32(id / 1000) }
      let values =
        result.absent.contains(name)
        ? ids.map { name == "product_code" ? productCode($0) : Int32.min }
        : result.numbers[n] + added.map { name == "product_code" ? productCode($0) : Int32.min }
      columns.append(Column(name, values, nullSentinel: Int64(Int32.min)))
    }
    for (n, (codes, values)) in result.categories.enumerated() {
      dictionaries.add(categorical[n], values: values)
      let nulls = result.absent.contains(categorical[n]) ? ids.count : added.count
      columns.append(Column(categorical[n], codes + repeatElement(UInt16.max, count: nulls), nullSentinel: Int64(UInt16.max)))
    }
    for (n, name) in text.enumerated() where !result.absent.contains(name) {
      columns.append(StringColumnBuilder.column(name, joining: result.texts[n], emptyRows: added.count))
    }
    columns.append(Column("in_articles_file", ids.indices.map { UInt8($0 < result.ids.count ? 1 : 0) }))
    var table = Table(columns, metadata: ["zero_pad.article_id": "10", "zero_pad.product_code": "7"])
    table.absentColumns = (categorical + numeric + text).filter { result.absent.contains($0) && $0 != "product_code" }
    return table
  }
}

/// The category columns' dictionaries (`CategoryPart.merge`: the values sorted, a code is an
/// index), gathered for the `dictionaries` output.
struct DictionaryBuilder {
  var entries: [(column: String, values: [String])] = []

  mutating func add(_ column: String, values: [String]) { entries.append((column, values)) }

  var table: Table {
    var columns: [String] = [], codes: [UInt32] = [], values: [String] = []
    for (column, list) in entries {
      for (code, value) in list.enumerated() {
        columns.append(column)
        codes.append(UInt32(code))
        values.append(value)
      }
    }
    return Table([Column("column", strings: columns), Column("code", codes), Column("value", strings: values)])
  }
}

/// Article ids as people and Kaggle print them: 10 digits, zero-padded.
public enum ArticleNumber {
  public static func text(_ id: UInt64) -> String {
    let digits = String(id)
    return String(repeating: "0", count: max(0, 10 - digits.count)) + digits
  }
}
