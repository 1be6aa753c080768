import Pipeline

/// Typed parsing of CSV fields straight from bytes: no `String`, no allocation.
public enum FieldParser {
  /// An unsigned decimal integer of at most 19 digits, eight digits at a time while eight remain
  /// (an article id is ten).
  @inline(__always)
  public static func unsigned(_ data: UnsafeRawBufferPointer, _ f: FieldRange) -> UInt64? {
    guard f.count > 0 && f.count <= 19 else { return nil }
    var value: UInt64 = 0
    var i = f.start
    while i + 8 <= f.end, let eight = eightDigits(data, i) {
      value = value &* 100_000_000 &+ eight
      i += 8
    }
    while i < f.end {
      let d = data[i] &- 48
      guard d < 10 else { return nil }
      value = value &* 10 &+ UInt64(d)
      i += 1
    }
    return value
  }

  /// A signed decimal integer.
  @inline(__always)
  public static func signed(_ data: UnsafeRawBufferPointer, _ f: FieldRange) -> Int64? {
    guard f.count > 0 else { return nil }
    if data[f.start] == 0x2D {
      return unsigned(data, FieldRange(start: f.start + 1, end: f.end, quoted: false)).map { -Int64($0) }
    }
    return unsigned(data, f).map { Int64($0) }
  }

  /// 10^e for 0 ≤ e ≤ 22, each exact in a Double. A switch over literals, which the compiler lays out
  /// as a table in read-only data: a `static let` array would be a lazily initialised global,
  /// checked (a `swift_once` call) on every number parsed.
  @inline(__always)
  static func powerOfTen(_ e: Int) -> Double {
    switch e {
    case 0: 1e0
    case 1: 1e1
    case 2: 1e2
    case 3: 1e3
    case 4: 1e4
    case 5: 1e5
    case 6: 1e6
    case 7: 1e7
    case 8: 1e8
    case 9: 1e9
    case 10: 1e10
    case 11: 1e11
    case 12: 1e12
    case 13: 1e13
    case 14: 1e14
    case 15: 1e15
    case 16: 1e16
    case 17: 1e17
    case 18: 1e18
    case 19: 1e19
    case 20: 1e20
    case 21: 1e21
    case 22: 1e22
    default: .nan
    }
  }

  /// A decimal number `[-]digits[.digits][e[±]digits]`. Up to 19 significant digits are kept:
  /// ample for Float32 columns, exact for prices.
  @inline(__always)
  public static func number(_ data: UnsafeRawBufferPointer, _ f: FieldRange) -> Double? {
    var i = f.start
    guard i < f.end else { return nil }
    var negative = false
    if data[i] == 0x2D {
      negative = true
      i += 1
    } else if data[i] == 0x2B {
      i += 1
    }
    // A mantissa below 10^18 has fewer than 19 digits (leading zeros never count), so it takes more.
    let full: UInt64 = 1_000_000_000_000_000_000
    var mantissa: UInt64 = 0
    var exponent = 0, seen = false
    while i < f.end, case let d = data[i] &- 48, d < 10 {
      if mantissa < full { mantissa = mantissa * 10 + UInt64(d) } else { exponent += 1 }
      seen = true
      i += 1
    }
    if i < f.end && data[i] == 0x2E {
      i += 1
      // Eight fraction digits at a time while all eight fit (prices have sixteen or so).
      while i + 8 <= f.end, mantissa < 100_000_000_000, let eight = eightDigits(data, i) {
        mantissa = mantissa * 100_000_000 + eight
        exponent -= 8
        seen = true
        i += 8
      }
      while i < f.end, case let d = data[i] &- 48, d < 10 {
        if mantissa < full {
          mantissa = mantissa * 10 + UInt64(d)
          exponent -= 1
        }
        seen = true
        i += 1
      }
    }
    guard seen else { return nil }
    if i < f.end && (data[i] == 0x65 || data[i] == 0x45) {
      i += 1
      var sign = 1
      if i < f.end && (data[i] == 0x2D || data[i] == 0x2B) {
        sign = data[i] == 0x2D ? -1 : 1
        i += 1
      }
      var e = 0, any = false
      while i < f.end, case let d = data[i] &- 48, d < 10, e < 10_000 {
        e = e * 10 + Int(d)
        any = true
        i += 1
      }
      guard any else { return nil }
      exponent += sign * e
    }
    guard i == f.end else { return nil }
    // The same double either way; without AVX-512 an unsigned conversion takes a dozen instructions.
    var value = mantissa <= UInt64(Int64.max) ? Double(Int64(mantissa)) : Double(mantissa)
    var e = exponent
    while e < -22 {
      value /= 1e22
      e += 22
    }
    while e > 22 {
      value *= 1e22
      e -= 22
    }
    value = e < 0 ? value / powerOfTen(-e) : value * powerOfTen(e)
    return negative ? -value : value
  }

  /// Eight decimal digits at `at` as their value, or nil if any byte is not a digit (SWAR: check
  /// every byte at once, then combine pairs, quads and halves with three multiplies).
  @inline(__always)
  static func eightDigits(_ data: UnsafeRawBufferPointer, _ at: Int) -> UInt64? {
    let x = UInt64(littleEndian: data.loadUnaligned(fromByteOffset: at, as: UInt64.self))
    let highNibbles: UInt64 = 0xF0F0_F0F0_F0F0_F0F0, zeros: UInt64 = 0x3030_3030_3030_3030
    guard x & highNibbles == zeros, (x &+ 0x0606_0606_0606_0606) & highNibbles == zeros else { return nil }
    var v = ((x & 0x0F0F_0F0F_0F0F_0F0F) &* 2561) >> 8
    v = ((v & 0x00FF_00FF_00FF_00FF) &* 6_553_601) >> 16
    return ((v & 0x0000_FFFF_0000_FFFF) &* 42_949_672_960_001) >> 32
  }

  /// `YYYY-MM-DD` as a day number (`KaggleDate`), or nil when not a real date.
  @inline(__always)
  public static func day(_ data: UnsafeRawBufferPointer, _ f: FieldRange) -> Int32? {
    guard f.count == 10, data[f.start + 4] == 0x2D, data[f.start + 7] == 0x2D else { return nil }
    func digits(_ at: Int, _ n: Int) -> Int? {
      var v = 0
      for i in at..<(at + n) {
        let d = data[f.start + i] &- 48
        guard d < 10 else { return nil }
        v = v * 10 + Int(d)
      }
      return v
    }
    guard let y = digits(0, 4), let m = digits(5, 2), let d = digits(8, 2), (1...12).contains(m),
      d >= 1, d <= CivilCalendar.daysInMonth(m, y)
    else { return nil }
    return KaggleDate.day(y, m, d)
  }

  /// 64 hex digits as four big-endian words, eight digits per step (SWAR on 64-bit words).
  @inline(__always)
  public static func hex256(_ data: UnsafeRawBufferPointer, _ f: FieldRange) -> CustomerKey? {
    guard f.count == 64 else { return nil }
    var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    for w in 0..<4 {
      guard let high = hex8(data, f.start + w * 16), let low = hex8(data, f.start + w * 16 + 8) else { return nil }
      let v = UInt64(high) << 32 | UInt64(low)
      switch w {
      case 0: words.0 = v
      case 1: words.1 = v
      case 2: words.2 = v
      default: words.3 = v
      }
    }
    return CustomerKey(a: words.0, b: words.1, c: words.2, d: words.3)
  }

  /// Eight hex digits at `at` as a 32-bit value, or nil if any is not 0-9, a-f, A-F.
  @inline(__always)
  static func hex8(_ data: UnsafeRawBufferPointer, _ at: Int) -> UInt32? {
    let ones: UInt64 = 0x0101_0101_0101_0101, low7: UInt64 = 0x7F7F_7F7F_7F7F_7F7F, highs: UInt64 = 0x8080_8080_8080_8080
    let x = UInt64(littleEndian: data.loadUnaligned(fromByteOffset: at, as: UInt64.self))
    // Bytes strictly between m and n get their high bit set (exact for ASCII bytes).
    func between(_ m: UInt64, _ n: UInt64) -> UInt64 {
      ((ones &* (127 + n) &- (x & low7)) & ~x & ((x & low7) &+ ones &* (127 - m))) & highs
    }
    guard x & highs == 0, between(0x2F, 0x3A) | between(0x40, 0x47) | between(0x60, 0x67) == highs else { return nil }
    // (c & 0xF) + 9 · (c >> 6) is the digit's value for all three ranges.
    let nibbles = (x & (ones &* 0x0F)) &+ 9 &* ((x >> 6) & ones)
    // Byte i holds digit i (little-endian load): pair them, then gather the four bytes.
    let pairs = ((nibbles & 0x00FF_00FF_00FF_00FF) << 4) | ((nibbles >> 8) & 0x00FF_00FF_00FF_00FF)
    let quads = (pairs | (pairs >> 8)) & 0x0000_FFFF_0000_FFFF
    let packed = UInt32(truncatingIfNeeded: quads | (quads >> 16))
    return packed.byteSwapped
  }

  /// How many bytes of `range` equal `byte`, sixty-four at a time (one AVX-512 compare, or four
  /// SSE ones).
  public static func count(_ byte: UInt8, in data: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int {
    var total = 0
    var i = range.lowerBound
    let target = SIMD64<UInt8>(repeating: byte)
    while i + 64 <= range.upperBound {
      // Up to 255 blocks per lane before the byte counters are folded into the total.
      var counts = SIMD64<UInt8>(repeating: 0)
      var blocks = 0
      while blocks < 255 && i + 64 <= range.upperBound {
        // A true lane of a mask is all ones (-1): subtracting it counts one. (`replacing(with:where:)`
        // on 64 lanes compiles to a loop over single bytes.)
        let equal = data.loadUnaligned(fromByteOffset: i, as: SIMD64<UInt8>.self) .== target
        counts &-= unsafeBitCast(equal, to: SIMD64<UInt8>.self)
        i += 64
        blocks += 1
      }
      total += Int(SIMD64<UInt16>(truncatingIfNeeded: counts).wrappedSum())
    }
    while i < range.upperBound {
      if data[i] == byte { total += 1 }
      i += 1
    }
    return total
  }
}

/// A customer id's 256 bits, ordered as its hex text.
public struct CustomerKey: IndexKey, Comparable {
  public var a, b, c, d: UInt64
  /// Customer ids are hashes already; mixing two words is plenty.
  @inline(__always) public var hash64: UInt64 { CounterRandom.mix(a ^ d) }
  public static func < (x: CustomerKey, y: CustomerKey) -> Bool { (x.a, x.b, x.c, x.d) < (y.a, y.b, y.c, y.d) }

  /// Word `w` (0...3) of the id, in text order.
  @inline(__always) public func word(_ w: Int) -> UInt64 {
    switch w {
    case 0: a
    case 1: b
    case 2: c
    default: d
    }
  }

  /// The 64-character lowercase hex text.
  public var hex: String {
    var out: [UInt8] = []
    for w in [a, b, c, d] { HexText.append(w, to: &out) }
    return String(decoding: out, as: UTF8.self)
  }
}
