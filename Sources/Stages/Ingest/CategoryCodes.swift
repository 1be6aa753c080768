import Pipeline

/// One piece's values of a category column (`club_member_status`, `index_code`, …): each row a
/// code into the piece's own distinct values, first seen first coded, found by a hash of their
/// bytes, so a row allocates nothing. `merge` then gives the rows of every piece their codes in one
/// dictionary, sorted as text.
struct CategoryPart: Sendable {
  /// The code of an empty field.
  static let empty = UInt32.max

  /// The distinct values, unescaped, in the order first seen.
  private(set) var values: [[UInt8]] = []
  /// Each row's index into `values`, or `empty`.
  private(set) var codes: [UInt32] = []
  private var hashes: [UInt64] = []
  /// Open addressing over `values` (-1 = free), kept at most half full.
  private var slots = [Int32](repeating: -1, count: 16)

  mutating func append(_ scanner: CSVScanner, _ field: FieldRange) {
    guard field.count > 0 else {
      codes.append(Self.empty)
      return
    }
    let raw = UnsafeRawBufferPointer(rebasing: scanner.data[field.start..<field.end])
    guard field.quoted, raw.contains(0x22) else { return codes.append(code(of: raw)) }
    // Doubled quotes stand for one: the value is the unescaped text (rare).
    let text = Array(scanner.text(field).utf8)
    codes.append(text.withUnsafeBytes { code(of: $0) })
  }

  private mutating func code(of bytes: UnsafeRawBufferPointer) -> UInt32 {
    let hash = Self.hash(bytes), mask = slots.count - 1
    var s = Int(truncatingIfNeeded: hash) & mask
    while slots[s] >= 0 {
      let n = Int(slots[s])
      if hashes[n] == hash && values[n].elementsEqual(bytes) { return UInt32(n) }
      s = (s + 1) & mask
    }
    slots[s] = Int32(values.count)
    values.append(Array(bytes))
    hashes.append(hash)
    if values.count * 2 > slots.count { rehash() }
    return UInt32(values.count - 1)
  }

  private mutating func rehash() {
    slots = [Int32](repeating: -1, count: slots.count * 2)
    let mask = slots.count - 1
    for (n, hash) in hashes.enumerated() {
      var s = Int(truncatingIfNeeded: hash) & mask
      while slots[s] >= 0 { s = (s + 1) & mask }
      slots[s] = Int32(n)
    }
  }

  /// Eight bytes at a time, each word mixed in by a multiply (`CounterRandom.mix` at the end).
  private static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
    var h = UInt64(bytes.count), i = 0
    while i + 8 <= bytes.count {
      h = (h ^ bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0x9E37_79B9_7F4A_7C15
      i += 8
    }
    var tail: UInt64 = 0
    for b in bytes[i...].reversed() { tail = tail << 8 | UInt64(b) }
    return CounterRandom.mix(h ^ tail)
  }

  /// Every row of `parts` (in order) as a code into one dictionary of all their values, sorted as
  /// text; values equal as text (the same letters in another Unicode form) share one code, the
  /// first met giving the dictionary its spelling. An empty field's code is `Code.max` (null).
  /// - Throws: `TooManyValues` when the distinct values outnumber the codes below `Code.max`.
  static func merge<Code: FixedWidthInteger & UnsignedInteger>(
    _ parts: [CategoryPart], as _: Code.Type
  ) throws(TooManyValues) -> (codes: [Code], values: [String]) {
    let texts = parts.map { $0.values.map { String(decoding: $0, as: UTF8.self) } }
    var seen = Set<String>(), firstMet: [String] = []
    for text in texts.joined() where seen.insert(text).inserted { firstMet.append(text) }
    guard firstMet.count <= Int(Code.max) else { throw TooManyValues(count: firstMet.count, limit: Int(Code.max)) }
    let sorted = firstMet.sorted()
    let index = Dictionary(uniqueKeysWithValues: sorted.enumerated().map { ($1, Code($0)) })
    var codes: [Code] = []
    codes.reserveCapacity(parts.reduce(0) { $0 + $1.codes.count })
    for (part, text) in zip(parts, texts) {
      let remap = text.map { index[$0]! }
      codes += part.codes.lazy.map { $0 == Self.empty ? Code.max : remap[Int($0)] }
    }
    return (codes, sorted)
  }

  /// A category column with more distinct values than its codes can name.
  struct TooManyValues: Error {
    var count: Int
    var limit: Int

    /// The sentence for `column` of `file`.
    func csvError(file: String, column: String) -> CSVError {
      CSVError(
        code: .badField, file: file, line: 0, field: column,
        message:
          "has \(count) distinct values; a category column holds at most \(limit) (is it free text, or the wrong column?)")
    }
  }
}
