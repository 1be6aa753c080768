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
    let chunks = Self.chunks(customers), shared = UnsafeTransfer(keys)
    @Sendable @inline(__always) func keysOf(_ c: Int) -> UnsafeMutableBufferPointer<UInt64> {
      UnsafeMutableBufferPointer(rebasing: shared.wrapped[rowOffsets[c]..<rowOffsets[c + 1]])
    }
    // Two passes, so that every customer's cells go straight to their place: sort each customer's
    // keys and count its distinct articles, then (offsets known) write the cells.
    var offsets = [Int](repeating: 0, count: customers + 1)
    offsets.withUnsafeMutableBufferPointer { counts in
      let out = UnsafeTransfer(counts)
      Parallel.forEach(chunks: chunks) { chunk in
        let customersOfChunk = Parallel.range(chunk, of: chunks, count: customers)
        let longest = customersOfChunk.reduce(0) { Swift.max($0, rowOffsets[$1 + 1] - rowOffsets[$1]) }
        let scratch = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: longest)
        defer { scratch.deallocate() }
        for c in customersOfChunk {
          let slice = keysOf(c)
          slice.sortKeys(scratch: scratch)
          var distinct = 0, previous = UInt64.max
          for key in slice where key >> 32 != previous {
            distinct += 1
            previous = key >> 32
          }
          out.wrapped[c + 1] = distinct  // each customer writes only its own count
        }
      }
    }
    for c in 0..<customers { offsets[c + 1] += offsets[c] }
    self.offsets = offsets
    let cellOffsets = offsets
    self.cells = [Cell](unsafeUninitializedCapacity: cellOffsets[customers]) { buffer, initialized in
      let out = UnsafeTransfer(buffer)
      Parallel.forEach(chunks: chunks) { chunk in
        for c in Parallel.range(chunk, of: chunks, count: customers) {
          // Each customer writes only its own cells, offsets[c]..<offsets[c + 1].
          var next = cellOffsets[c]
          for key in keysOf(c) {
            let article = UInt32(truncatingIfNeeded: key >> 32)
            let day = Int32(bitPattern: UInt32(truncatingIfNeeded: key) ^ 0x8000_0000)
            if next == cellOffsets[c] || out.wrapped[next - 1].article != article {
              (out.wrapped.baseAddress! + next).initialize(to: Cell(article: article, rows: 0, lastDay: day, weight: 0))
              next += 1
            }
            out.wrapped[next - 1].rows += 1
            out.wrapped[next - 1].lastDay = day  // days ascend within an article
            out.wrapped[next - 1].weight += weight(day)
          }
        }
      }
      initialized = cellOffsets[customers]
    }
  }

  static func chunks(_ customers: Int) -> Int { max(1, min(256, customers / 4096)) }

  /// Every row's (article << 32 | order-preserving day) key, grouped by customer in row order.
  private static func groupByCustomer(
    _ customer: TypedValues<UInt32>, _ article: TypedValues<UInt32>, _ day: TypedValues<Int32>, customers: Int
  ) -> (UnsafeMutableBufferPointer<UInt64>, [Int]) {
    let keys = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: customer.count), out = UnsafeTransfer(keys)
    let offsets = customer.withUnsafeBufferPointer { customer in
      article.withUnsafeBufferPointer { article in
        day.withUnsafeBufferPointer { day in
          let columns = UnsafeTransfer((customer, article, day))
          return StableScatter.sort(buckets: customers, items: customer.count) { slice, slices, place in
            let (customer, article, day) = columns.wrapped
            for row in Parallel.range(slice, of: slices, count: customer.count) {
              if let at = place(Int(customer[row])) {
                out.wrapped[at] = UInt64(article[row]) << 32 | UInt64(UInt32(bitPattern: day[row]) ^ 0x8000_0000)
              }
            }
          }
        }
      }
    }
    return (keys, offsets)
  }

  /// The transpose: for each article, the customers who bought it (ascending) and the last day
  /// each bought it.
  public func byArticle(articles articleCount: Int) -> (offsets: [Int], customers: [UInt32], days: [Int32]) {
    var customers = [UInt32](repeating: 0, count: cells.count), days = [Int32](repeating: 0, count: cells.count)
    let offsets = customers.withUnsafeMutableBufferPointer { customers in
      days.withUnsafeMutableBufferPointer { days in
        let out = UnsafeTransfer((customers, days))
        return StableScatter.sort(buckets: articleCount, items: cells.count) { slice, slices, place in
          for c in Parallel.range(slice, of: slices, count: customerCount) {
            for cell in cells[range(of: c)] {
              if let at = place(Int(cell.article)) {
                out.wrapped.0[at] = UInt32(c)
                out.wrapped.1[at] = cell.lastDay
              }
            }
          }
        }
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
