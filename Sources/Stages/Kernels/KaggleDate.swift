import Foundation

/// Days as the Kaggle files print them ("YYYY-MM-DD") and as the tables store them: a day number
/// counted from `epoch` (2018-09-20, the first day of the H&M transactions), in the proleptic
/// Gregorian calendar.
public enum KaggleDate {
  /// Day 0.
  public static let epoch = (year: 2018, month: 9, day: 20)
  private static let epochCivil = civilDays(epoch.year, epoch.month, epoch.day)

  /// "YYYY-MM-DD" for a day number.
  public static func text(day: Int) -> String {
    let (y, m, d) = civilDate(epochCivil + day)
    return String(format: "%04d-%02d-%02d", y, m, d)
  }

  /// The day number of a "YYYY-MM-DD" text, or nil when it is not a real date.
  public static func day(_ text: String) -> Int32? {
    let bytes = Array(text.utf8)
    return bytes.withUnsafeBytes { FieldParser.day($0, FieldRange(start: 0, end: bytes.count, quoted: false)) }
  }

  /// The day number of year-month-day (a real date).
  static func day(_ year: Int, _ month: Int, _ day: Int) -> Int32 { Int32(civilDays(year, month, day) - epochCivil) }

  /// Today's day number (UTC).
  public static var today: Int32 { Int32(Int((Date().timeIntervalSince1970 / 86_400).rounded(.down)) - epochCivil) }

  static func daysInMonth(_ m: Int, _ y: Int) -> Int {
    switch m {
    case 2: (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 29 : 28
    case 4, 6, 9, 11: 30
    default: 31
    }
  }

  /// Days since 1970-01-01 of a date (Howard Hinnant's algorithm).
  static func civilDays(_ year: Int, _ month: Int, _ day: Int) -> Int {
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    return era * 146_097 + doe - 719_468
  }

  /// The date of a day count since 1970-01-01 (the inverse of `civilDays`).
  static func civilDate(_ days: Int) -> (Int, Int, Int) {
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let doe = z - era * 146_097
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let d = doy - (153 * mp + 2) / 5 + 1
    let m = mp < 10 ? mp + 3 : mp - 9
    return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
  }
}
