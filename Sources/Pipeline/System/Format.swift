import Foundation

/// Numbers for people.
public enum Format {
  public static func bytes(_ n: Int) -> String {
    let units = ["B", "KB", "MB", "GB", "TB"]
    var value = Double(n)
    var unit = 0
    while value >= 1000 && unit < units.count - 1 {
      value /= 1000
      unit += 1
    }
    return unit == 0 ? "\(n) B" : String(format: "%.1f %@", value, units[unit])
  }

  public static func count(_ n: Int) -> String {
    let digits = String(n)
    var out = ""
    for (i, c) in digits.reversed().enumerated() {
      if i > 0 && i % 3 == 0 { out.append(",") }
      out.append(c)
    }
    return String(out.reversed())
  }

  public static func seconds(_ s: Double) -> String {
    s < 60 ? String(format: "%.2fs", s) : String(format: "%dm%02ds", Int(s) / 60, Int(s) % 60)
  }

  public static func number(_ d: Double?) -> String {
    guard let d else { return "-" }
    if d == d.rounded() && abs(d) < 1e15 { return String(Int64(d)) }
    return String(format: "%.6g", d)
  }

  /// Left-aligned columns.
  public static func table(_ rows: [[String]]) -> String {
    guard let first = rows.first else { return "" }
    let widths = (0..<first.count).map { c in rows.map { $0[c].count }.max() ?? 0 }
    return rows.map { row in
      row.enumerated().map { c, cell in cell.padding(toLength: widths[c], withPad: " ", startingAt: 0) }
        .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
    }.joined(separator: "\n")
  }
}
