import Pipeline

/// Exact top-K cosine neighbours of every row of a matrix, by blocked matrix products through BLAS
/// and a streaming top-K per row: memory is one block of similarities, never n × n.
///
/// Determinism: each similarity comes from one sgemm dot product and rows are merged block by block
/// in a fixed order; ties go to the lower row index. Rows whose norm is zero (no image) get no
/// neighbours and are nobody's neighbour.
public enum TopKCosine {
  /// Neighbours in CSR form: row r's are `neighbours[offsets[r] ..< offsets[r+1]]`, best first.
  public struct Result: Sendable {
    public var offsets: [UInt64]
    public var neighbours: [UInt32]
    public var scores: [Float]
  }


  /// - Parameters:
  ///   - matrix: `rows` × `dims`, row-major.
  ///   - queryBlock, targetBlock: rows per block of the product (1024 × 8192 Floats is 32 MB).
  ///   - progress: the fraction of query blocks done.
  /// - Complexity: O(rows² · dims) arithmetic in BLAS, O(rows · k) memory for the result.
  public static func neighbours(
    of matrix: UnsafeBufferPointer<Float>, rows: Int, dims: Int, k: Int,
    queryBlock: Int = 1024, targetBlock: Int = 8192, progress: (Double) -> Void = { _ in }, cancelled: () -> Bool = { false }
  ) -> Result {
    precondition(matrix.count >= rows * dims && k >= 0)
    let (unit, isZero) = normalised(matrix, rows: rows, dims: dims)
    var best = [Float](repeating: -.infinity, count: rows * k)
    var bestIndex = [UInt32](repeating: UInt32.max, count: rows * k)
    var block = [Float](repeating: 0, count: queryBlock * targetBlock)
    let queryBlocks = (rows + queryBlock - 1) / queryBlock
    for qb in 0..<queryBlocks where !cancelled() {
      let q0 = qb * queryBlock, qn = min(queryBlock, rows - q0)
      for t0 in stride(from: 0, to: rows, by: targetBlock) {
        let tn = min(targetBlock, rows - t0)
        unit.withUnsafeBufferPointer { u in
          block.withUnsafeMutableBufferPointer { c in
            BLAS.multiplyTransposed(
              UnsafeBufferPointer(rebasing: u[(q0 * dims)..<((q0 + qn) * dims)]),
              UnsafeBufferPointer(rebasing: u[(t0 * dims)..<((t0 + tn) * dims)]), into: c, m: qn, n: tn, k: dims)
          }
        }
        merge(block, queries: q0..<(q0 + qn), targets: t0..<(t0 + tn), k: k, isZero: isZero, best: &best, bestIndex: &bestIndex)
      }
      progress(Double(qb + 1) / Double(queryBlocks))
    }
    return compact(best, bestIndex, rows: rows, k: k)
  }

  /// Unit rows (zero rows stay zero) and which rows are zero.
  static func normalised(_ matrix: UnsafeBufferPointer<Float>, rows: Int, dims: Int) -> ([Float], [Bool]) {
    var unit = [Float](repeating: 0, count: rows * dims)
    var isZero = [Bool](repeating: false, count: rows)
    for r in 0..<rows {
      var norm: Float = 0
      for d in 0..<dims { norm += matrix[r * dims + d] * matrix[r * dims + d] }
      guard norm > 0, norm.isFinite else { isZero[r] = true; continue }
      let scale = 1 / norm.squareRoot()
      for d in 0..<dims { unit[r * dims + d] = matrix[r * dims + d] * scale }
    }
    return (unit, isZero)
  }

  /// Folds one block of similarities into each query's running top-K, queries in parallel (each
  /// query row writes only its own k slots).
  static func merge(
    _ block: [Float], queries: Range<Int>, targets: Range<Int>, k: Int, isZero: [Bool],
    best: inout [Float], bestIndex: inout [UInt32]
  ) {
    guard k > 0 else { return }
    best.withUnsafeMutableBufferPointer { bestScores in
      bestIndex.withUnsafeMutableBufferPointer { bestRows in
        let out = UnsafeTransfer((bestScores, bestRows))
        let chunks = (queries.count + 63) / 64
        Parallel.forEach(chunks: chunks) { chunk in
          let (scores, indexes) = out.wrapped
          for q in Parallel.range(chunk, of: chunks, count: queries.count).map({ $0 + queries.lowerBound }) where !isZero[q] {
            let row = (q - queries.lowerBound) * targets.count
            let slots = q * k
            for t in targets where t != q && !isZero[t] {
              let s = block[row + t - targets.lowerBound]
              // Worse than the k-th (or equal with a higher index, as targets come in order): skip.
              if s <= scores[slots + k - 1] { continue }
              var i = k - 1
              while i > 0 && scores[slots + i - 1] < s {
                scores[slots + i] = scores[slots + i - 1]
                indexes[slots + i] = indexes[slots + i - 1]
                i -= 1
              }
              scores[slots + i] = s
              indexes[slots + i] = UInt32(t)
            }
          }
        }
      }
    }
  }

  static func compact(_ best: [Float], _ bestIndex: [UInt32], rows: Int, k: Int) -> Result {
    var offsets: [UInt64] = [0]
    var neighbours: [UInt32] = [], scores: [Float] = []
    for r in 0..<rows {
      for i in 0..<k where bestIndex[r * k + i] != UInt32.max {
        neighbours.append(bestIndex[r * k + i])
        scores.append(best[r * k + i])
      }
      offsets.append(UInt64(neighbours.count))
    }
    return Result(offsets: offsets, neighbours: neighbours, scores: scores)
  }
}
