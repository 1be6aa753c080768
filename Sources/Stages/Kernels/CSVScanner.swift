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

  /// Cuts `from..<data.count` into about `pieces` runs of whole records, without reading the file:
  /// each cut moves on to the first newline after an even share, as if no quoted field held a
  /// newline. `CSVTableReader` checks the guess while it parses (see `exactSplit`).
  public func guessSplit(from start: Int, pieces: Int) -> [Range<Int>] {
    let slices = slices(from: start, pieces: pieces)
    var starts = [start]
    for p in 1..<slices {
      let cut = start + Parallel.range(p, of: slices, count: data.count - start).lowerBound
      let newline = UnsafeRawBufferPointer(rebasing: data[cut...]).firstIndex(of: 0x0A)
      starts.append(newline.map { cut + $0 + 1 } ?? data.count)
    }
    return Self.ranges(between: starts + [data.count])
  }

  /// Cuts `from..<data.count` into about `pieces` runs of whole records, quote-aware: a first pass
  /// counts quotes per slice in parallel, so each slice knows whether it starts inside a quoted
  /// field, and a cut is the first newline outside quotes. `release` gets each slice once counted.
  /// - Complexity: O(bytes), in parallel.
  public func exactSplit(from start: Int, pieces: Int, release: (@Sendable (Range<Int>) -> Void)? = nil) -> [Range<Int>] {
    let count = data.count - start
    let slices = slices(from: start, pieces: pieces)
    let bytes = UnsafeTransfer(data)
    let quotes = Parallel.map(chunks: slices) { p in
      let r = Parallel.range(p, of: slices, count: count)
      let slice = (start + r.lowerBound)..<(start + r.upperBound)
      defer { release?(slice) }
      return FieldParser.count(0x22, in: bytes.wrapped, slice)
    }
    var inside = false
    var starts = [start]
    for p in 1..<slices {
      inside = inside != (quotes[p - 1] & 1 == 1)
      var i = start + Parallel.range(p, of: slices, count: count).lowerBound
      var quoted = inside
      while i < data.count {
        let c = data[i]
        if c == 0x22 {
          quoted.toggle()
        } else if c == 0x0A && !quoted {
          break
        }
        i += 1
      }
      starts.append(Swift.min(i + 1, data.count))
    }
    return Self.ranges(between: starts + [data.count])
  }

  private func slices(from start: Int, pieces: Int) -> Int { Swift.max(1, Swift.min(pieces, (data.count - start) / 64)) }

  /// The non-empty runs between consecutive cuts.
  private static func ranges(between cuts: [Int]) -> [Range<Int>] {
    zip(cuts, cuts.dropFirst()).compactMap { $0 < $1 ? $0..<$1 : nil }
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
    1 + FieldParser.count(0x0A, in: data, 0..<Swift.min(offset, data.count))
  }

  /// Whether the record starting at `offset` is the file's last and has no final newline.
  public func isUnterminatedLastRecord(at offset: Int) -> Bool {
    data.last != 0x0A && !UnsafeRawBufferPointer(rebasing: data[offset...]).contains(0x0A)
  }
}
