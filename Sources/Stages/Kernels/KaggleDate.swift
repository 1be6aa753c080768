import Foundation
import Pipeline

/// Days as the Kaggle files print them ("YYYY-MM-DD") and as the tables store them: a day number
/// counted from `epoch` (2018-09-20, the first day of the H&M transactions), in the proleptic
/// Gregorian calendar.
public enum KaggleDate {
  /// Day 0.
  public static let epoch = (year: 2018, month: 9, day: 20)
  private static let epochCivil = CivilCalendar.days(epoch.year, epoch.month, epoch.day)

  /// "YYYY-MM-DD" for a day number.
  public static func text(day: Int) -> String {
    let (y, m, d) = CivilCalendar.date(epochCivil + day)
    return String(format: "%04d-%02d-%02d", y, m, d)
  }

  /// The day number of a "YYYY-MM-DD" text, or nil when it is not a real date.
  public static func day(_ text: String) -> Int32? {
    let bytes = Array(text.utf8)
    return bytes.withUnsafeBytes { FieldParser.day($0, FieldRange(start: 0, end: bytes.count, quoted: false)) }
  }

  /// The day number of year-month-day (a real date).
  static func day(_ year: Int, _ month: Int, _ day: Int) -> Int32 { Int32(CivilCalendar.days(year, month, day) - epochCivil) }

  /// Today's day number (UTC).
  public static var today: Int32 { Int32(Int((Date().timeIntervalSince1970 / 86_400).rounded(.down)) - epochCivil) }
}
