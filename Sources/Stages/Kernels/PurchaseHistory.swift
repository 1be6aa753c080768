import Pipeline

/// Each customer's distinct purchased articles (sorted by article index) with, per cell, how many
/// transaction rows it has, the last day bought and the sum of a per-row weight: the sparse
/// customer × article matrix later stages start from. Built by a stable counting sort on the
/// customer, then a per-customer sort, in parallel chunks fixed by the data, so it is deterministic.
public struct PurchaseHistory: Sendable {
  /// One customer-article pair.
  public struct Cell: Sendable, Equatable {
    public var article: UInt32
    public var rows: UInt32
    public var lastDay: Int32
    public var weight: Float
  }

  /// Customer `c`'s cells are `cells[offsets[c]..<offsets[c + 1]]`.
  public let offsets: [Int]
  public let cells: [Cell]

  public var customerCount: Int { offsets.count - 1 }
  public func range(of customer: Int) -> Range<Int> { offsets[customer]..<offsets[customer + 1] }

  /// - Parameter weight: the weight of one transaction row on `day` (1 when only counts matter).
  public init(
    customer: TypedValues<UInt32>, article: TypedValues<UInt32>, day: TypedValues<Int32>, customers: Int,
    weight: @Sendable (Int32) -> Float = { _ in 1 }
  ) {
    let (keys, rowOffsets) = Self.groupByCustomer(customer, article, day, customers: customers)
    defer { keys.deallocate() }
    let chunks = Self.chunks(customers)
    let shared = UnsafeTransfer(keys)
    let perChunk = Parallel.map(chunks: chunks) { chunk in
      var cells: [Cell] = [], counts: [Int] = []
      for c in Parallel.range(chunk, of: chunks, count: customers) {
        var slice = UnsafeMutableBufferPointer(rebasing: shared.wrapped[rowOffsets[c]..<rowOffsets[c + 1]])
        slice.sortShortRuns()
        let before = cells.count
        for key in slice {
          let article = UInt32(truncatingIfNeeded: key >> 32)
          let day = Int32(bitPattern: UInt32(truncatingIfNeeded: key) ^ 0x8000_0000)
          if cells.count == before || cells[cells.count - 1].article != article {
            cells.append(Cell(article: article, rows: 0, lastDay: day, weight: 0))
          }
          cells[cells.count - 1].rows += 1
          cells[cells.count - 1].lastDay = day  // days ascend within an article
          cells[cells.count - 1].weight += weight(day)
        }
        counts.append(cells.count - before)
      }
      return (cells, counts)
    }
    var offsets = [0]
    offsets.reserveCapacity(customers + 1)
    for (_, counts) in perChunk { for n in counts { offsets.append(offsets[offsets.count - 1] + n) } }
    self.offsets = offsets
    self.cells = perChunk.flatMap { $0.0 }
  }

  static func chunks(_ customers: Int) -> Int { max(1, min(256, customers / 4096)) }

  /// Every row's (article << 32 | order-preserving day) key, grouped by customer in row order.
  private static func groupByCustomer(
    _ customer: TypedValues<UInt32>, _ article: TypedValues<UInt32>, _ day: TypedValues<Int32>, customers: Int
  ) -> (UnsafeMutableBufferPointer<UInt64>, [Int]) {
    var offsets = [Int](repeating: 0, count: customers + 1)
    customer.withUnsafeBufferPointer { for c in $0 { offsets[Int(c) + 1] += 1 } }
    for c in 0..<customers { offsets[c + 1] += offsets[c] }
    let keys = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: customer.count)
    var next = offsets
    customer.withUnsafeBufferPointer { customer in
      article.withUnsafeBufferPointer { article in
        day.withUnsafeBufferPointer { day in
          for row in 0..<customer.count {
            let c = Int(customer[row])
            keys[next[c]] = UInt64(article[row]) << 32 | UInt64(UInt32(bitPattern: day[row]) ^ 0x8000_0000)
            next[c] += 1
          }
        }
      }
    }
    return (keys, offsets)
  }

  /// The transpose: for each article, the customers who bought it (ascending) and the last day
  /// each bought it.
  public func byArticle(articles articleCount: Int) -> (offsets: [Int], customers: [UInt32], days: [Int32]) {
    var offsets = [Int](repeating: 0, count: articleCount + 1)
    for cell in cells { offsets[Int(cell.article) + 1] += 1 }
    for a in 0..<articleCount { offsets[a + 1] += offsets[a] }
    var next = offsets
    var customers = [UInt32](repeating: 0, count: cells.count), days = [Int32](repeating: 0, count: cells.count)
    for c in 0..<customerCount {
      for i in range(of: c) {
        let a = Int(cells[i].article)
        customers[next[a]] = UInt32(c)
        days[next[a]] = cells[i].lastDay
        next[a] += 1
      }
    }
    return (offsets, customers, days)
  }
}

extension ArraySlice<PurchaseHistory.Cell> {
  /// Whether these cells (sorted by article) include `article`.
  func contains(article: UInt32) -> Bool { sortedContains(article, by: \.article) }
}

extension PurchaseHistory {
  /// The history of a transactions table with `day`, `customer` and `article` columns.
  init(_ transactions: Table, customers: Int, weight: @Sendable (Int32) -> Float = { _ in 1 }) throws {
    self.init(
      customer: try transactions.column("customer").values(UInt32.self),
      article: try transactions.column("article").values(UInt32.self),
      day: try transactions.column("day").values(Int32.self), customers: customers, weight: weight)
  }
}
