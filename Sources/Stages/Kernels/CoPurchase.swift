import CIntrinsics
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
    let counter: SparseCounter
    var best: [Entry] = []
    var order: [UInt64] = []
    init(articles: Int) { counter = SparseCounter(keys: articles) }
  }

  /// One 64-bit key that sorts ascending as (day descending, key ascending): plain integer sorts
  /// instead of tuple comparisons. Keys are distinct within a list, so the order is total.
  @inline(__always) static func latestFirst(day: Int32, key: UInt32) -> UInt64 {
    UInt64(UInt32(bitPattern: Int32.max &- day)) << 32 | UInt64(key)
  }

  @inline(__always) static func key(_ packed: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: packed) }

  /// Each customer's `limit` most recently bought distinct articles (latest first; ties: lower index).
  static func recentArticles(_ history: PurchaseHistory, limit: Int) -> Lists<UInt32> {
    let (offsets, items) = ListBuilder.build(rows: history.customerCount, scratch: { [UInt64]() }) { c, order, chunk in
      order.removeAll(keepingCapacity: true)
      for cell in history.cells[history.range(of: c)] { order.append(latestFirst(day: cell.lastDay, key: cell.article)) }
      order.sortShortRuns()
      for packed in order.prefix(limit) { chunk.items.append(key(packed)) }
    }
    return Lists(offsets: offsets, items: items)
  }

  /// For each article, the `perArticle` articles most often in the recent lists of its `buyers`
  /// most recent buyers, with those counts, best first.
  static func table(_ history: PurchaseHistory, recent: Lists<UInt32>, articles: Int, buyers: Int, perArticle: Int) -> Lists<Entry> {
    let byArticle = history.byArticle(articles: articles)
    return recent.offsets.withUnsafeBufferPointer { listOffsets in
      recent.items.withUnsafeBufferPointer { lists in
        let recentLists = UnsafeTransfer((listOffsets, lists))
        let (offsets, items) = ListBuilder.build(rows: articles, rowsPerChunk: 256, scratch: { Scratch(articles: articles) }) {
          a, s, chunk in
          s.order.removeAll(keepingCapacity: true)
          for i in byArticle.offsets[a]..<byArticle.offsets[a + 1] {
            s.order.append(latestFirst(day: byArticle.days[i], key: byArticle.customers[i]))
          }
          s.order.smallestFirst(buyers)
          let (listOffsets, lists) = recentLists.wrapped, chosen = min(buyers, s.order.count)
          // The buyers' lists are scattered over the whole table: each list's offset is fetched
          // sixteen buyers ahead and its articles eight ahead, so the cache misses overlap.
          s.order.withUnsafeBufferPointer { order in
            for j in 0..<chosen {
              if j + 16 < chosen { hmpipe_prefetch(listOffsets.baseAddress! + Int(key(order[j + 16]))) }
              if j + 8 < chosen { hmpipe_prefetch(lists.baseAddress! + Int(listOffsets[Int(key(order[j + 8]))])) }
              let buyer = Int(key(order[j]))
              for other in lists[Int(listOffsets[buyer])..<Int(listOffsets[buyer + 1])] where other != UInt32(a) { s.counter.add(other) }
            }
          }
          s.counter.top(perArticle, into: &s.best)
          chunk.items += s.best
          s.counter.reset()
        }
        return Lists(offsets: offsets, items: items)
      }
    }
  }

  /// Fills `scratch.best` with the `limit` articles passing `keep` that are co-bought most often
  /// with the `recent` ones (counts summed over them).
  static func suggest(
    for recent: ArraySlice<UInt32>, table: Lists<Entry>, limit: Int, scratch s: inout Scratch, keep: (UInt32) -> Bool
  ) {
    // The rows are scattered over the table: ask for all of them before reading any.
    table.offsets.withUnsafeBufferPointer { offsets in
      for a in recent { hmpipe_prefetch(offsets.baseAddress! + Int(a)) }
      table.items.withUnsafeBufferPointer { items in
        for a in recent { hmpipe_prefetch(items.baseAddress! + Int(offsets[Int(a)])) }
        for a in recent {
          for (other, count) in items[Int(offsets[Int(a)])..<Int(offsets[Int(a) + 1])] { s.counter.add(other, count) }
        }
      }
    }
    s.counter.top(limit, into: &s.best, where: keep)
    s.counter.reset()
  }
}

extension [UInt64] {
  /// Puts the `k` smallest values first, in ascending order (the rest after, in no order):
  /// quickselect, then a sort of those `k`. Linear on average where a full sort of a popular
  /// article's thousands of buyers is not.
  mutating func smallestFirst(_ k: Int) {
    guard k < count else { return sortShortRuns() }
    guard k > 0 else { return }
    withUnsafeMutableBufferPointer { values in
      var low = 0, high = values.count - 1
      while low < high {
        let (j, i) = values.partition(low, high)
        if k - 1 <= j { high = j } else if k - 1 >= i { low = i } else { break }
      }
      var smallest = UnsafeMutableBufferPointer(rebasing: values[0..<k])
      smallest.sortShortRuns()
    }
  }
}
