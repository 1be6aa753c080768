import Foundation
import Pipeline

/// A malformed CSV input, located so the user can open the file at the line.
public struct CSVError: Error, Sendable, CustomStringConvertible {
  public enum Code: String, Sendable {
    case empty, notCSV, missingColumn, badFieldCount, badField, unterminatedQuote, truncated, missingKey
  }
  public var code: Code
  public var file: String
  /// 1-based physical line, 0 when the whole file is at fault.
  public var line: Int
  public var field: String
  public var message: String

  public var description: String {
    var place = FileSystem.basename(of: file)
    if line > 0 { place += ":\(line)" }
    if !field.isEmpty { place += ": \(field)" }
    return "\(place): \(message)"
  }
}

/// A run of whole records that parses on its own, and where its records go: at most `maxRecords`
/// of them, numbered from `firstRecord` (the bounds of the pieces before it, summed).
public struct CSVPiece: Sendable {
  public var range: Range<Int>
  public var firstRecord: Int
  public var maxRecords: Int
}

/// Where one field lies in the buffer; `quoted` fields may hold doubled quotes.
public struct FieldRange: Sendable {
  public var start: Int
  public var end: Int
  public var quoted: Bool
  public var count: Int { end - start }
}

/// RFC 4180 scanning over a byte buffer: header, quote-aware splitting into pieces that parse
/// independently, and record iteration that reuses one field buffer (no allocation per row).
/// Handles a UTF-8 BOM, CRLF, quoted commas, quotes and newlines, and empty fields.
public struct CSVScanner: @unchecked Sendable {  // a read-only view; its owner keeps the bytes alive
  public let name: String
  public let data: UnsafeRawBufferPointer

  public init(name: String, data: UnsafeRawBufferPointer) {
    self.name = name
    self.data = data
  }

  /// The header's field names and the offset where the first record starts.
  public func header() throws(CSVError) -> (names: [String], bodyStart: Int) {
    var start = 0
    if data.count >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF { start = 3 }
    guard data.count > start else { throw CSVError(code: .empty, file: name, line: 0, field: "", message: "the file is empty") }
    var fields: [FieldRange] = []
    var at = start
    guard try nextRecord(from: &at, end: data.count, fields: &fields) else {
      throw CSVError(code: .empty, file: name, line: 0, field: "", message: "the file is empty")
    }
    if fields.contains(where: { f in (f.start..<f.end).contains { data[$0] == 0 } }) {
      throw CSVError(code: .notCSV, file: name, line: 1, field: "", message: "this is not a CSV file (its first line holds binary data)")
    }
    return (fields.map { text($0).trimmingCharacters(in: .whitespaces) }, at)
  }

  /// Splits `from..<data.count` into about `pieces` pieces that each start at a record boundary,
  /// with how many records each can hold at most (its newlines, plus one for a last line without).
  /// Pass 1 counts quotes and newlines per slice in parallel, so each slice knows whether it starts
  /// inside a quoted field; a boundary is the first newline outside quotes.
  /// - Complexity: O(bytes), in parallel.
  public func split(from start: Int, pieces: Int, release: (@Sendable (Range<Int>) -> Void)? = nil) -> [CSVPiece] {
    let count = data.count - start
    let slices = Swift.max(1, Swift.min(pieces, count / 64))
    let bytes = UnsafeTransfer(data)
    let sliceCounts = Parallel.map(chunks: slices) { p in
      let r = Parallel.range(p, of: slices, count: count)
      let slice = (start + r.lowerBound)..<(start + r.upperBound)
      defer { release?(slice) }
      return FieldParser.count(0x22, and: 0x0A, in: bytes.wrapped, slice)
    }
    // starts[p]: where piece p begins; skipped[p]: the newlines between slice p's start and it.
    var inside = false
    var starts = [start], skipped = [0]
    for p in 1..<slices {
      inside = inside != (sliceCounts[p - 1].0 & 1 == 1)
      var i = start + Parallel.range(p, of: slices, count: count).lowerBound
      var quoted = inside, newlines = 0
      while i < data.count {
        let c = data[i]
        if c == 0x22 {
          quoted.toggle()
        } else if c == 0x0A {
          newlines += 1
          if !quoted { break }
        }
        i += 1
      }
      starts.append(Swift.min(i + 1, data.count))
      skipped.append(newlines)
    }
    starts.append(data.count)
    skipped.append(0)
    var result: [CSVPiece] = []
    for p in 0..<slices where starts[p] < starts[p + 1] {
      let unterminated = starts[p + 1] == data.count && data.last != 0x0A ? 1 : 0
      result.append(
        CSVPiece(
          range: starts[p]..<starts[p + 1], firstRecord: result.last.map { $0.firstRecord + $0.maxRecords } ?? 0,
          maxRecords: sliceCounts[p].1 - skipped[p] + skipped[p + 1] + unterminated))
    }
    return result
  }

  /// Reads the record that starts at `at` into `fields` and moves `at` past it.
  /// - Returns: false when there is no record left.
  @inline(__always)
  public func nextRecord(from at: inout Int, end: Int, fields: inout [FieldRange]) throws(CSVError) -> Bool {
    fields.removeAll(keepingCapacity: true)
    var i = at
    guard i < end else { return false }
    while true {
      if data[i] == 0x22 {
        let open = i
        i += 1
        let fieldStart = i
        while true {
          guard i < end else {
            throw CSVError(
              code: .unterminatedQuote, file: name, line: line(at: open), field: "",
              message: "a quoted field opened here is never closed")
          }
          if data[i] == 0x22 {
            if i + 1 < end && data[i + 1] == 0x22 {
              i += 2
              continue
            }
            break
          }
          i += 1
        }
        fields.append(FieldRange(start: fieldStart, end: i, quoted: true))
        i += 1
        if i < end && data[i] == 0x0D { i += 1 }
        if i < end && data[i] != 0x2C && data[i] != 0x0A {
          throw CSVError(
            code: .badField, file: name, line: line(at: open), field: "",
            message: "a quoted field is followed by text before the next comma")
        }
      } else {
        let fieldStart = i
        i = nextDelimiter(from: i, end: end)
        var fieldEnd = i
        if fieldEnd > fieldStart && data[fieldEnd - 1] == 0x0D && (i == end || data[i] == 0x0A) { fieldEnd -= 1 }
        fields.append(FieldRange(start: fieldStart, end: fieldEnd, quoted: false))
      }
      if i >= end { break }
      if data[i] == 0x2C {
        i += 1
        if i == end {
          fields.append(FieldRange(start: i, end: i, quoted: false))
          break
        }
        continue
      }
      i += 1  // the newline
      break
    }
    at = i
    return true
  }

  /// The first comma or newline at or after `from` (or `end`), eight bytes at a time: a byte equal
  /// to the pattern becomes zero after XOR, and `(v - 0x01…) & ~v & 0x80…` marks zero bytes; the
  /// lowest mark is exact.
  @inline(__always)
  func nextDelimiter(from start: Int, end: Int) -> Int {
    let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
    var i = start
    while i + 8 <= end {
      let word = UInt64(littleEndian: data.loadUnaligned(fromByteOffset: i, as: UInt64.self))
      let comma = word ^ (ones &* 0x2C), newline = word ^ (ones &* 0x0A)
      let marks = ((comma &- ones) & ~comma | (newline &- ones) & ~newline) & highs
      if marks != 0 { return i + marks.trailingZeroBitCount / 8 }
      i += 8
    }
    while i < end && data[i] != 0x2C && data[i] != 0x0A { i += 1 }
    return i
  }

  /// A field's text, with doubled quotes undone.
  public func text(_ field: FieldRange) -> String {
    let raw = UnsafeRawBufferPointer(rebasing: data[field.start..<field.end])
    guard field.quoted, raw.contains(0x22) else { return String(decoding: raw, as: UTF8.self) }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(raw.count)
    var skip = false
    for b in raw {
      if b == 0x22 && !skip {
        skip = true
        bytes.append(b)
        continue
      }
      if b == 0x22 && skip {
        skip = false
        continue
      }
      skip = false
      bytes.append(b)
    }
    return String(decoding: bytes, as: UTF8.self)
  }

  /// The 1-based physical line holding `offset` (only computed for messages).
  public func line(at offset: Int) -> Int {
    1 + FieldParser.count(0x0A, and: 0x22, in: data, 0..<Swift.min(offset, data.count)).0
  }

  /// Whether the record starting at `offset` is the file's last and has no final newline.
  public func isUnterminatedLastRecord(at offset: Int) -> Bool {
    data.last != 0x0A && !UnsafeRawBufferPointer(rebasing: data[offset...]).contains(0x0A)
  }
}
