import Foundation

/// Times as records store them: ISO 8601 in UTC to the millisecond ("2026-11-29T20:08:09.314Z").
/// Written and read by hand: Foundation's ISO 8601 formatter costs about 100 µs to make (ICU), and
/// `runs`, `diff` and `report` read every time of hundreds of records.
public enum Timestamp {
  public static func text(_ date: Date) -> String {
    let milliseconds = Int((date.timeIntervalSince1970 * 1000).rounded(.down))
    let (days, ms) = milliseconds.quotientAndRemainder(dividingBy: 86_400_000)
    let (day, millisecond) = ms < 0 ? (days - 1, ms + 86_400_000) : (days, ms)
    let (y, m, d) = CivilCalendar.date(day)
    let seconds = millisecond / 1000
    return String(
      format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m, d, seconds / 3600, seconds / 60 % 60, seconds % 60, millisecond % 1000)
  }

  /// The time of "YYYY-MM-DDTHH:MM:SS[.fff…]Z"; nil for any other text.
  public static func date(_ text: String) -> Date? {
    let b = Array(text.utf8)
    guard b.count >= 20, b.last == UInt8(ascii: "Z"), b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"),
      b[10] == UInt8(ascii: "T"), b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":")
    else { return nil }
    func number(_ range: Range<Int>) -> Int? {
      var value = 0
      for i in range {
        guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b[i]) else { return nil }
        value = value * 10 + Int(b[i] - UInt8(ascii: "0"))
      }
      return value
    }
    guard let y = number(0..<4), let mo = number(5..<7), let d = number(8..<10), let h = number(11..<13), let mi = number(14..<16),
      let s = number(17..<19), (1...12).contains(mo), (1...CivilCalendar.daysInMonth(mo, y)).contains(d), h < 24, mi < 60, s < 61
    else { return nil }
    var fraction = 0.0
    if b.count > 20 {
      guard b[19] == UInt8(ascii: "."), b.count > 21, let digits = number(20..<(b.count - 1)) else { return nil }
      fraction = Double(digits) / pow(10, Double(b.count - 21))
    } else if b[19] != UInt8(ascii: "Z") {
      return nil
    }
    let seconds = Double(CivilCalendar.days(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s) + fraction
    return Date(timeIntervalSince1970: seconds)
  }
}
