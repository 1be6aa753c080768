import Pipeline

/// Bounded "customers who bought this also bought".
enum CoPurchase {
  /// Rows of lists (CSR): articles, or (article, count) pairs.
  struct Lists<Item: Sendable>: Sendable {
    let offsets: [UInt64]
    let items: [Item]
    func row(_ r: Int) -> ArraySlice<Item> { items[Int(offsets[r])..<Int(offsets[r + 1])] }
  }
  typealias Entry = (key: UInt32, count: UInt32)

  struct Scratch {
    var counter: SparseCounter
    var best: [Entry] = []
    var order: [(day: Int32, key: UInt32)] = []
    init(articles: Int) { counter = SparseCounter(keys: articles) }
  }

  /// Each customer's `limit` most recently bought distinct articles (latest first; ties: lower index).
  static func recentArticles(_ history: PurchaseHistory, limit: Int) -> Lists<UInt32> {
    let (offsets, items) = ListBuilder.build(rows: history.customerCount, scratch: { [(day: Int32, key: UInt32)]() }) { c, order, chunk in
      order.removeAll(keepingCapacity: true)
      for cell in history.cells[history.range(of: c)] { order.append((cell.lastDay, cell.article)) }
      order.sort { $0.day > $1.day || ($0.day == $1.day && $0.key < $1.key) }
      for (_, a) in order.prefix(limit) { chunk.items.append(a) }
    }
    return Lists(offsets: offsets, items: items)
  }

  /// For each article, the `perArticle` articles most often in the recent lists of its `buyers`
  /// most recent buyers, with those counts, best first.
  static func table(_ history: PurchaseHistory, recent: Lists<UInt32>, articles: Int, buyers: Int, perArticle: Int) -> Lists<Entry> {
    let byArticle = history.byArticle(articles: articles)
    let (offsets, items) = ListBuilder.build(rows: articles, rowsPerChunk: 256, scratch: { Scratch(articles: articles) }) { a, s, chunk in
      s.order.removeAll(keepingCapacity: true)
      for i in byArticle.offsets[a]..<byArticle.offsets[a + 1] {
        s.order.append((history.cells[Int(byArticle.cells[i])].lastDay, byArticle.customers[i]))
      }
      s.order.sort { $0.day > $1.day || ($0.day == $1.day && $0.key < $1.key) }
      for (_, buyer) in s.order.prefix(buyers) {
        for other in recent.row(Int(buyer)) where other != UInt32(a) { s.counter.add(other) }
      }
      s.counter.top(perArticle, into: &s.best)
      chunk.items += s.best
      s.counter.reset()
    }
    return Lists(offsets: offsets, items: items)
  }

  /// Fills `scratch.best` with the `limit` articles passing `keep` that are co-bought most often
  /// with the `recent` ones (counts summed over them).
  static func suggest(
    for recent: ArraySlice<UInt32>, table: Lists<Entry>, limit: Int, scratch s: inout Scratch, keep: (UInt32) -> Bool
  ) {
    for a in recent {
      for (other, count) in table.row(Int(a)) { s.counter.add(other, count) }
    }
    s.counter.top(limit, into: &s.best, where: keep)
    s.counter.reset()
  }
}
