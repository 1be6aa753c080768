import Pipeline

/// Counting over many rows into a dense array of counters, in parallel: each piece of the rows
/// counts into its own counters, and the pieces' counters are added at the end. Integer sums, so
/// the result is the same whatever the number of pieces.
enum PieceCounts {
  /// `bins` counters filled by `count`, called once per piece with the piece's rows (a range of
  /// `0..<rows`) and that piece's counters.
  static func count(rows: Int, bins: Int, _ count: @Sendable (Range<Int>, inout [UInt32]) -> Void) -> [UInt32] {
    // A piece per worker, but not for a few rows: each piece costs a pass over its own counters.
    let pieces = max(1, min(Parallel.share, rows / (1 << 20)))
    let partial = Parallel.map(chunks: pieces) { piece -> [UInt32] in
      var counters = [UInt32](repeating: 0, count: bins)
      count(Parallel.range(piece, of: pieces, count: rows), &counters)
      return counters
    }
    return partial.dropFirst().reduce(into: partial[0]) { total, counters in
      for i in total.indices { total[i] += counters[i] }
    }
  }
}
