import Pipeline

/// Articles by recent sales: rows in the last `days` days of the data, ties broken by all-time rows,
/// then by the lower index. Every article appears.
enum Popularity {
  static func ranking(_ transactions: Table, articles: Int, days: Int) throws -> [UInt32] {
    let day = try transactions.column("day").values(Int32.self), article = try transactions.column("article").values(UInt32.self)
    let last = day.max() ?? 0, first = last - Int32(days) + 1
    var recent = [Int](repeating: 0, count: articles), total = [Int](repeating: 0, count: articles)
    for row in 0..<day.count {
      let a = Int(article[row])
      total[a] += 1
      if day[row] >= first { recent[a] += 1 }
    }
    return (0..<articles).sorted { (recent[$0], total[$0], -$0) > (recent[$1], total[$1], -$1) }.map(UInt32.init)
  }
}
