import Foundation
import Pipeline
@_exported import TestSupport

/// The lines of a CSV file we wrote (no quoted newlines), split on commas outside quotes.
func csvRows(_ path: String) throws -> [[Substring]] {
  let text = try String(contentsOfFile: path, encoding: .utf8)
  return text.split(separator: "\n").dropFirst().map { line in
    var fields: [Substring] = []
    var start = line.startIndex
    var quoted = false
    var i = line.startIndex
    while i < line.endIndex {
      if line[i] == "\"" {
        quoted.toggle()
      } else if line[i] == "," && !quoted {
        fields.append(line[start..<i])
        start = line.index(after: i)
      }
      i = line.index(after: i)
    }
    fields.append(line[start...])
    return fields
  }
}

func share<T>(_ items: [T], _ predicate: (T) -> Bool) -> Double {
  Double(items.filter(predicate).count) / Double(max(items.count, 1))
}

func correlation(_ a: [Double], _ b: [Double]) -> Double {
  let n = Double(a.count)
  let ma = a.reduce(0, +) / n, mb = b.reduce(0, +) / n
  var sab = 0.0, saa = 0.0, sbb = 0.0
  for (x, y) in zip(a, b) {
    sab += (x - ma) * (y - mb)
    saa += (x - ma) * (x - ma)
    sbb += (y - mb) * (y - mb)
  }
  return sab / (saa * sbb).squareRoot()
}
