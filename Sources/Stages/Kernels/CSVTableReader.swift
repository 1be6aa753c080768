import Foundation
import Pipeline
import Synchronization

/// What to do with a malformed row.
public enum BadRowPolicy: String, ParamChoice {
  /// Stop with an error naming file, line, column and value.
  case fail
  /// Skip the row and count it.
  case skip
}

/// A bad value in one field of a row; becomes a `CSVError` with the file and line.
public struct RowError: Error, Sendable {
  public var field: String
  public var message: String
  public init(_ field: String, _ message: String) {
    self.field = field
    self.message = message
  }
}

/// Reads the records of a CSV input in parallel pieces, finding columns by header name, checking
/// field counts, and applying the bad-row policy. Each piece builds its own part; parts come back in
/// file order, so the result does not depend on the thread count.
public struct CSVTableReader: Sendable {
  public let input: InputBytes
  public let scanner: CSVScanner
  public let header: [String]
  public let bodyStart: Int
  /// Required and optional column name → field position.
  public let positions: [String: Int]

  /// - Parameter kind: what the file should be ("the transactions file"), for messages.
  public init(_ input: InputBytes, kind: String, required: [String], optional: [String] = []) throws(CSVError) {
    self.input = input
    scanner = CSVScanner(name: input.name, data: input.bytes)
    (header, bodyStart) = try scanner.header()
    var positions: [String: Int] = [:]
    for name in required + optional { if let at = header.firstIndex(of: name) { positions[name] = at } }
    if !required.contains(where: { positions[$0] != nil }) {
      throw CSVError(
        code: .notCSV, file: input.name, line: 1, field: "",
        message:
          "does not look like \(kind): its first line has none of the columns \(required.joined(separator: ", "))")
    }
    if let missing = required.first(where: { positions[$0] == nil }) {
      throw CSVError(
        code: .missingColumn, file: input.name, line: 1, field: missing,
        message:
          "required column is missing (the header has: \(header.joined(separator: ", ")))")
    }
    self.positions = positions
  }

  public func position(_ name: String) -> Int? { positions[name] }

  /// Bytes per parallel piece unless a caller asks otherwise: enough pieces to keep every core
  /// busy to the end even in a file of tens of MB (the 28 MB articles file made three pieces of
  /// 8 MB, and one core sat out the last).
  public static let defaultPieceBytes = 2 << 20

  /// A run of whole records that one worker parses: its bytes and, when `parse` was asked to
  /// number lines, the body lines that start in it (line 0 is the first after the header). A record
  /// takes at least one line, so `lines.count` bounds the piece's records and `lines.lowerBound`
  /// the records before it: a reader that fills shared columns puts each piece's rows there, and
  /// in a file without blank lines, quoted line breaks or skipped rows they meet with no gap.
  public struct Piece: Sendable {
    public var bytes: Range<Int>
    public var lines: Range<Int>?
    public init(bytes: Range<Int>, lines: Range<Int>? = nil) {
      self.bytes = bytes
      self.lines = lines
    }
  }

  /// Parses every record: `row(part, fields, offset)` adds one record to its piece's part.
  /// `makePart(piece)` starts the part of a piece of the file (whole records); with `numberLines`
  /// the piece knows its lines (`LineNumbers`).
  /// `fastRecord(part, at, end)`, when given, is tried first at each record: it parses a record of
  /// the expected shape straight from the bytes, moves `at` past it and returns true, or returns
  /// false without touching `part`, and the record goes the general way (which words the errors).
  ///
  /// One pass over the file: the pieces are cut by `CSVScanner.guessSplit`, as if no quoted field
  /// held a newline. A piece that starts at a true record boundary parses as the whole file would
  /// until its end, where a wrong next cut leaves it inside a quoted field: the first piece to fail
  /// does so with an unterminated quote. Only then is the file cut again, quote-aware
  /// (`CSVScanner.exactSplit`, a second pass), and parsed again. Any other first failure is the
  /// file's first bad row, as the pieces before it started and ended at true boundaries.
  /// - Returns: the parts in file order and the number of rows skipped.
  /// - Throws: the first bad row in file order (under `.fail`), or an unreadable file.
  public func parse<Part: Sendable>(
    badRows: BadRowPolicy, bytesPerPiece: Int = defaultPieceBytes, numberLines: Bool = false,
    cancellation: (@Sendable () -> Bool)? = nil, progress: (@Sendable (Double) -> Void)? = nil,
    makePart: @escaping @Sendable (Piece) -> Part,
    finishPart: @escaping @Sendable (inout Part) -> Void = { _ in },
    fastRecord: (@Sendable (inout Part, inout Int, Int) -> Bool)? = nil,
    row: @escaping @Sendable (inout Part, UnsafeBufferPointer<FieldRange>, Int) throws(RowError) -> Void
  ) throws -> (parts: [Part], skipped: Int) {
    let pieces = max(1, (scanner.data.count - bodyStart) / bytesPerPiece)
    func attempt(_ ranges: [Range<Int>]) -> [(part: Part, skipped: Int, error: CSVError?)] {
      parse(
        ranges, numberLines: numberLines, badRows: badRows, cancellation: cancellation, progress: progress,
        makePart: makePart, finishPart: finishPart, fastRecord: fastRecord, row: row)
    }
    let guessed = scanner.guessSplit(from: bodyStart, pieces: pieces)
    var results = attempt(guessed)
    if let failed = results.firstIndex(where: { $0.error != nil }), failed < guessed.count - 1,
      results[failed].error?.code == .unterminatedQuote
    {
      let input = self.input
      results = attempt(scanner.exactSplit(from: bodyStart, pieces: pieces) { input.release($0) })
    }
    if let first = results.first(where: { $0.error != nil })?.error { throw first }
    return (results.map(\.part), results.reduce(0) { $0 + $1.skipped })
  }

  /// Parses the pieces at `ranges` in parallel; a piece's first error ends it.
  private func parse<Part: Sendable>(
    _ ranges: [Range<Int>], numberLines: Bool, badRows: BadRowPolicy, cancellation: (@Sendable () -> Bool)?,
    progress: (@Sendable (Double) -> Void)?,
    makePart: @escaping @Sendable (Piece) -> Part,
    finishPart: @escaping @Sendable (inout Part) -> Void,
    fastRecord: (@Sendable (inout Part, inout Int, Int) -> Bool)?,
    row: @escaping @Sendable (inout Part, UnsafeBufferPointer<FieldRange>, Int) throws(RowError) -> Void
  ) -> [(part: Part, skipped: Int, error: CSVError?)] {
    let input = self.input
    let expected = header.count
    let scanner = self.scanner
    let done = ProgressCounter(total: ranges.count) { progress?($0) }
    let lines = numberLines ? LineNumbers(pieces: ranges.count) : nil
    return Parallel.map(chunks: ranges.count) { p -> (part: Part, skipped: Int, error: CSVError?) in
      var piece = Piece(bytes: ranges[p])
      if let lines {
        let unterminated = p == ranges.count - 1 && !ranges[p].isEmpty && scanner.data[ranges[p].upperBound - 1] != 0x0A
        let count = FieldParser.count(0x0A, in: scanner.data, ranges[p]) + (unterminated ? 1 : 0)
        piece.lines = lines.number(p, count: count)
      }
      var part = makePart(piece)
      var skipped = 0
      var fields: [FieldRange] = []
      fields.reserveCapacity(expected + 1)
      var at = ranges[p].lowerBound
      let end = ranges[p].upperBound
      var records = 0
      do {
        while true {
          if fastRecord?(&part, &at, end) != true {
            let offset = at
            guard try scanner.nextRecord(from: &at, end: end, fields: &fields) else { break }
            if fields.count == 1 && fields[0].count == 0 && !fields[0].quoted { continue }  // a blank line
            do {
              guard fields.count == expected else {
                let cut = fields.count < expected && scanner.isUnterminatedLastRecord(at: offset)
                throw RowError(
                  "",
                  cut
                    ? "the last line is cut short (\(fields.count) of \(expected) fields): the file looks truncated"
                    : "has \(fields.count) fields, the header has \(expected)")
              }
              try fields.withUnsafeBufferPointer { (f) throws(RowError) in try row(&part, f, offset) }
            } catch let error as RowError {
              if badRows == .skip {
                skipped += 1
                continue
              }
              throw CSVError(
                code: error.field.isEmpty ? .badFieldCount : .badField, file: scanner.name,
                line: scanner.line(at: offset), field: error.field, message: error.message)
            }
          }
          records += 1
          // Often enough to stop within milliseconds, rarely enough to cost nothing per row.
          if records & 4095 == 0, cancellation?() == true { break }
        }
      } catch let error as CSVError {
        return (part, skipped, error)
      } catch {
        return (part, skipped, CSVError(code: .badField, file: scanner.name, line: 0, field: "", message: "\(error)"))
      }
      finishPart(&part)
      input.release(ranges[p])
      done.advance()
      return (part, skipped, nil)
    }
  }
}

/// Numbers the lines of a file's pieces as they are parsed, with no pass of its own: a piece counts
/// its line ends (mapping its pages, which its parse then reads) and waits for the pieces before it
/// to have counted theirs. Those were claimed before it and count without waiting, so the wait is
/// short and always ends.
final class LineNumbers: Sendable {
  private let counts: Mutex<[Int?]>

  init(pieces: Int) { counts = Mutex([Int?](repeating: nil, count: pieces)) }

  /// Records that piece `p` has `count` lines; returns their numbers once every earlier piece's
  /// count is in.
  func number(_ p: Int, count: Int) -> Range<Int> {
    counts.withLock { $0[p] = count }
    while true {
      let before = counts.withLock { counts in
        counts[..<p].reduce(Int?(0)) { sum, count in sum.flatMap { sum in count.map { sum + $0 } } }
      }
      if let before { return before..<(before + count) }
      usleep(50)
    }
  }
}

/// Builds a string column from byte ranges, without a `String` per row.
struct StringColumnBuilder {
  var offsets: [UInt64] = [0]
  var bytes: [UInt8] = []

  mutating func append(_ scanner: CSVScanner, _ field: FieldRange) {
    if field.quoted {
      bytes.append(contentsOf: scanner.text(field).utf8)
    } else {
      bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: scanner.data[field.start..<field.end]))
    }
    offsets.append(UInt64(bytes.count))
  }

  /// The parts' strings in order, then `emptyRows` empty ones, as one column: each byte copied once.
  static func column(_ name: String, joining parts: [StringColumnBuilder], emptyRows: Int = 0) -> Column {
    let rows = parts.reduce(0) { $0 + $1.offsets.count - 1 } + emptyRows
    let byteCount = parts.reduce(0) { $0 + $1.bytes.count }
    let bytes = ByteStorage(count: byteCount) { raw in
      var at = 0
      for part in parts {
        part.bytes.withUnsafeBytes { (raw.baseAddress! + at).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        at += part.bytes.count
      }
    }
    let offsets = ByteStorage(count: (rows + 1) * 8) { raw in
      let out = raw.bindMemory(to: UInt64.self)
      var row = 0, base: UInt64 = 0
      out[0] = 0
      for part in parts {
        for end in part.offsets.dropFirst() {
          row += 1
          out[row] = base + end
        }
        base += UInt64(part.bytes.count)
      }
      while row < rows {
        row += 1
        out[row] = base
      }
    }
    return Column(name: name, type: .string, rowCount: rows, values: bytes, offsets: offsets)
  }
}
