import Glibc
import Pipeline

/// submit: the Kaggle submission CSV (`customer_id,prediction`, one row per customer of
/// customers.csv in file order, `size` distinct 10-digit article ids best first), checked by
/// `SubmissionCheck` before it is written. A pipeline publishes it with `"publish": {"submission": PATH}`.
///
/// Inputs: `predictions` (fallback's), `customers`, `articles` (ingest's). Output: `submission` (a
/// file artifact, submission.csv). Params: `size` (default 12).
public struct SubmitStage: Stage {
  public static let kind = "submit"
  public static let version = 1
  public static let inputs = [InputSlot("predictions"), InputSlot("customers"), InputSlot("articles")]
  public static let outputs = ["submission"]

  public struct Params: StageParams {
    public var size = 12
    public init() {}
  }

  public static func run(_ p: Params, _ context: StageContext) throws {
    let customers = try context.table("customers", columns: ["id_word0", "id_word1", "id_word2", "id_word3", "in_customers_file"])
    let articleIDs = try context.column("articles", "article_id").array(UInt64.self)
    let predictions = try PredictionsTable.read(try context.table("predictions"))
    guard predictions.offsets.count - 1 == customers.rowCount else {
      throw StageInputError(
        stage: context.stage, slot: "predictions",
        detail: "has \(predictions.offsets.count - 1) rows for \(customers.rowCount) customers")
    }
    let words = try (0..<4).map { try customers.column("id_word\($0)").values(UInt64.self) }
    let inFile = try customers.column("in_customers_file").values(UInt8.self)
    let rows = (0..<customers.rowCount).filter { inFile[$0] == 1 }
    let csv = SubmissionText.csv(rows: rows, words: words, predictions: predictions, articleIDs: articleIDs)
    let expected = SubmissionText.hexIDs(rows: rows, words: words)
    try SubmissionCheck(customerIDs: expected, idWidth: 64, articleIDs: articleIDs, size: p.size).validate(csv)
    context.record("customers", Double(rows.count))
    try context.write("submission", Table.file(named: "submission.csv", bytes: csv))
  }
}

enum SubmissionText {
  static let header = Array("customer_id,prediction\n".utf8)

  /// Writes the 64-hex customer id of its four big-endian words at `at`, and returns its end.
  @inline(__always)
  static func writeHex(_ words: [TypedValues<UInt64>], row c: Int, at start: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
    var at = start
    for column in words {
      let word = column[c]
      for shift in stride(from: 60, through: 0, by: -4) {
        at.pointee = HexText.digit(UInt8(truncatingIfNeeded: word >> UInt64(shift)) & 0xF)
        at += 1
      }
    }
    return at
  }

  /// The customers' 64-hex ids, one after another, written in parallel.
  static func hexIDs(rows: [Int], words: [TypedValues<UInt64>]) -> [UInt8] {
    [UInt8](unsafeUninitializedCapacity: rows.count * 64) { buffer, count in
      let out = UnsafeTransfer(buffer.baseAddress!)
      Parallel.forEachRow(rows.count, rowsPerChunk: 16384) { r in _ = writeHex(words, row: rows[r], at: out.wrapped + 64 * r) }
      count = rows.count * 64
    }
  }

  /// The whole file, written in place: each line's length is known from its prediction count
  /// (64 + 1 + 11·n − 1 + 1 bytes), so lines are laid out first and then filled in parallel, with
  /// no buffer per line or per chunk.
  static func csv(
    rows: [Int], words: [TypedValues<UInt64>],
    predictions: (offsets: TypedValues<UInt64>, articles: TypedValues<UInt32>, sources: TypedValues<UInt8>),
    articleIDs: [UInt64]
  ) -> [UInt8] {
    let digits = articleIDs.flatMap { Array(ArticleNumber.text($0).utf8) }
    var starts = [Int](repeating: 0, count: rows.count + 1)
    starts[0] = header.count
    for (r, c) in rows.enumerated() {
      let n = Int(predictions.offsets[c + 1] - predictions.offsets[c])
      starts[r + 1] = starts[r] + 64 + 1 + (n == 0 ? 0 : 11 * n - 1) + 1
    }
    let total = starts[rows.count], lineStarts = starts
    return [UInt8](unsafeUninitializedCapacity: total) { buffer, count in
      buffer.baseAddress!.initialize(from: header, count: header.count)
      let out = UnsafeTransfer(buffer.baseAddress!)
      digits.withUnsafeBufferPointer { digits in
        let digits = UnsafeTransfer(digits.baseAddress!)
        Parallel.forEachRow(rows.count, rowsPerChunk: 4096) { r in
          let c = rows[r]
          var at = writeHex(words, row: c, at: out.wrapped + lineStarts[r])
          at.pointee = UInt8(ascii: ",")
          at += 1
          for i in Int(predictions.offsets[c])..<Int(predictions.offsets[c + 1]) {
            if i > Int(predictions.offsets[c]) {
              at.pointee = UInt8(ascii: " ")
              at += 1
            }
            at.update(from: digits.wrapped + Int(predictions.articles[i]) * 10, count: 10)
            at += 10
          }
          at.pointee = 10
        }
      }
      count = total
    }
  }
}

/// A submission that breaks Kaggle's rules: which line, and how.
public struct SubmissionError: Error, Sendable, CustomStringConvertible {
  public var line: Int
  public var message: String
  public var description: String { "submission.csv line \(line): \(message)" }
}

/// The checks a submission passes before it is written: the header; every customer exactly once,
/// in order; exactly `size` distinct, known, 10-digit article ids per row; nothing else.
public struct SubmissionCheck: Sendable {
  /// The expected customer ids' text, one after another, `idWidth` bytes each.
  let customerIDs: [UInt8]
  let idWidth: Int
  let known: IDIndex<UInt64>
  let size: Int

  init(customerIDs: [UInt8], idWidth: Int, articleIDs: [UInt64], size: Int) {
    precondition(idWidth > 0 && customerIDs.count % idWidth == 0, "customer ids of \(idWidth) bytes each")
    self.customerIDs = customerIDs
    self.idWidth = idWidth
    self.known = IDIndex(articleIDs)
    self.size = size
  }

  /// The expected customer ids, all of one width.
  init(customers: [[UInt8]], articleIDs: [UInt64], size: Int) {
    let width = customers.first?.count ?? 64
    precondition(customers.allSatisfy { $0.count == width }, "customer ids of one width")
    self.init(customerIDs: customers.flatMap { $0 }, idWidth: width, articleIDs: articleIDs, size: size)
  }

  private var customerCount: Int { customerIDs.count / idWidth }

  /// Checks every line, in parallel over runs of lines without allocating per line; the error
  /// reported is the one of the first bad line.
  public func validate(_ csv: [UInt8]) throws(SubmissionError) {
    let header = Array("customer_id,prediction\n".utf8)
    guard csv.starts(with: header) else {
      guard csv.last == 10 else { throw SubmissionError(line: 1, message: "the last line does not end with a newline") }
      throw SubmissionError(line: 1, message: "the header must be customer_id,prediction")
    }
    var ends: [Int] = []
    ends.reserveCapacity(customerCount + 1)
    csv.withUnsafeBytes { bytes in
      // memchr: the C library's vectorised search, a line at a time.
      var at = header.count
      while at < bytes.count, let found = memchr(bytes.baseAddress! + at, 10, bytes.count - at) {
        let end = bytes.baseAddress!.distance(to: UnsafeRawPointer(found))
        ends.append(end)
        at = end + 1
      }
    }
    guard csv.last == 10 else { throw SubmissionError(line: ends.count + 2, message: "the last line does not end with a newline") }
    guard ends.count == customerCount else {
      throw SubmissionError(line: ends.count + 1, message: "\(ends.count) rows for \(customerCount) customers")
    }
    let chunks = max(1, min(256, ends.count / 8192)), lineEnds = ends
    let errors = csv.withUnsafeBufferPointer { bytes in
      let shared = UnsafeTransfer(bytes)
      return Parallel.map(chunks: chunks) { chunk -> SubmissionError? in
        var seen: [UInt64] = []
        for r in Parallel.range(chunk, of: chunks, count: lineEnds.count) {
          let start = r == 0 ? header.count : lineEnds[r - 1] + 1
          let line = UnsafeBufferPointer(rebasing: shared.wrapped[start..<lineEnds[r]])
          if isWellFormed(line, row: r, seen: &seen) { continue }
          do throws(SubmissionError) { try check(line, row: r, seen: &seen) } catch { return error }
        }
        return nil
      }
    }
    if let first = errors.compactMap({ $0 }).min(by: { $0.line < $1.line }) { throw first }
  }

  /// Whether a line is the expected customer, a comma and `size` distinct known article ids of
  /// 10 digits, one space apart: the only layout a good line can have, checked at fixed offsets.
  /// A line that is not goes to `check`, which says what is wrong.
  @inline(__always)
  private func isWellFormed(_ line: UnsafeBufferPointer<UInt8>, row r: Int, seen: inout [UInt64]) -> Bool {
    guard size > 0, line.count == idWidth + 11 * size, line[idWidth] == UInt8(ascii: ",") else { return false }
    let matches = customerIDs.withUnsafeBufferPointer { memcmp(line.baseAddress!, $0.baseAddress! + r * idWidth, idWidth) == 0 }
    guard matches else { return false }
    seen.removeAll(keepingCapacity: true)
    let raw = UnsafeRawBufferPointer(line)
    for i in 0..<size {
      let at = idWidth + 1 + 11 * i
      let (d8, d9) = (line[at + 8] &- 48, line[at + 9] &- 48)
      guard i == 0 || line[at - 1] == UInt8(ascii: " "), let high = FieldParser.eightDigits(raw, at), d8 < 10, d9 < 10
      else { return false }
      let value = high * 100 + UInt64(d8) * 10 + UInt64(d9)
      guard known.index(of: value) != nil, !seen.contains(value) else { return false }
      seen.append(value)
    }
    return true
  }

  /// One line, the slow way with the words for what is wrong: the expected customer, a comma,
  /// `size` distinct known 10-digit article ids.
  private func check(_ line: UnsafeBufferPointer<UInt8>, row r: Int, seen: inout [UInt64]) throws(SubmissionError) {
    let number = r + 2, comma = UInt8(ascii: ","), space = UInt8(ascii: " ")
    let commas = line.reduce(0) { $0 + ($1 == comma ? 1 : 0) }
    guard commas == 1, let split = line.firstIndex(of: comma) else {
      throw SubmissionError(line: number, message: "has \(commas + 1) fields, not 2")
    }
    let expected = customerIDs[(r * idWidth)..<((r + 1) * idWidth)]
    guard line[..<split].elementsEqual(expected) else {
      throw SubmissionError(
        line: number,
        message:
          "customer '\(String(decoding: line[..<split], as: UTF8.self))' is not the expected '\(String(decoding: expected, as: UTF8.self))' (every customer once, in customers.csv order)"
      )
    }
    let ids = line[(split + 1)...]
    let count = ids.reduce(1) { $0 + ($1 == space ? 1 : 0) }
    guard count == size else { throw SubmissionError(line: number, message: "has \(count) predictions, not \(size)") }
    seen.removeAll(keepingCapacity: true)
    var start = ids.startIndex
    while start <= ids.endIndex {
      let end = ids[start...].firstIndex(of: space) ?? ids.endIndex
      let id = line[start..<end]
      guard id.count == 10, id.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
        throw SubmissionError(line: number, message: "'\(String(decoding: id, as: UTF8.self))' is not a 10-digit article id")
      }
      let value = id.reduce(UInt64(0)) { $0 * 10 + UInt64($1 - 48) }
      guard known.index(of: value) != nil else {
        throw SubmissionError(line: number, message: "article \(String(decoding: id, as: UTF8.self)) is not in articles.csv")
      }
      guard !seen.contains(value) else {
        throw SubmissionError(line: number, message: "article \(String(decoding: id, as: UTF8.self)) is predicted twice")
      }
      seen.append(value)
      start = end + 1
    }
  }
}
