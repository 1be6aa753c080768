import Pipeline

/// A split of the customers into bands (history length, age), for scores per segment: each
/// customer's band index into `labels`.
public struct CustomerSegments: Sendable {
  /// The figure prefix: `history`, `age`.
  public var name: String
  public var labels: [String]
  /// Per customer, the index of their band in `labels`.
  public var band: [UInt8]

  /// Training rows bought: none, 1–4, 5–19, 20–49, 50 and more; `customer` is the training rows'
  /// customer column.
  public static func byHistoryLength(customer: TypedValues<UInt32>, customers: Int) -> CustomerSegments {
    let upper = [0, 4, 19, 49]
    let band = rowsPerCustomer(customer, customers: customers).map { rows in
      UInt8(upper.firstIndex { Int(rows) <= $0 } ?? upper.count)
    }
    return CustomerSegments(name: "history", labels: historyLabels, band: band)
  }

  /// How many rows each customer below `customers` has in `customer`.
  static func rowsPerCustomer(_ customer: TypedValues<UInt32>, customers: Int) -> [UInt32] {
    customer.withUnsafeBufferPointer { column in
      let column = UnsafeTransfer(column)
      return PieceCounts.count(rows: column.wrapped.count, bins: customers) { rows, counts in
        for r in rows where Int(column.wrapped[r]) < customers { counts[Int(column.wrapped[r])] += 1 }
      }
    }
  }

  /// The age bands of trending (under 20, 20s … 50s, 60 and over) and unknown age.
  public static func byAge(_ ages: TypedValues<UInt8>) -> CustomerSegments {
    CustomerSegments(name: "age", labels: ageLabels, band: ages.map { UInt8(TrendingStage.band($0)) })
  }

  static let historyLabels = ["0", "1-4", "5-19", "20-49", "50+"]
  static let ageLabels = ["<20", "20-29", "30-39", "40-49", "50-59", "60+", "unknown"]
}
