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
  ///   - block: rows per block of the product (4096 × 4096 Floats is 64 MB).
  ///   - progress: the fraction of block pairs done.
  /// - Complexity: O(rows² · dims / 2) arithmetic in BLAS: similarity is symmetric, so each pair of
  ///   blocks is multiplied once and merged both ways. Targets still reach every query in
  ///   increasing order, which is what makes ties go to the lower index.
  public static func neighbours(
    of matrix: UnsafeBufferPointer<Float>, rows: Int, dims: Int, k: Int, block: Int = 4096,
    progress: (Double) -> Void = { _ in }, cancelled: () -> Bool = { false }
  ) -> Result {
    precondition(matrix.count >= rows * dims && k >= 0 && block > 0)
    let (unit, isZero) = normalised(matrix, rows: rows, dims: dims)
    var best = [Float](repeating: -.infinity, count: rows * k)
    var bestIndex = [UInt32](repeating: UInt32.max, count: rows * k)
    var product = [Float](repeating: 0, count: block * block)
    var transposed = [Float](repeating: 0, count: block * block)
    let blocks = (rows + block - 1) / block
    var done = 0
    for i in 0..<blocks {
      for j in i..<blocks {
        if cancelled() { return compact(best, bestIndex, rows: rows, k: k) }
        let a = (i * block)..<min(rows, (i + 1) * block), b = (j * block)..<min(rows, (j + 1) * block)
        unit.withUnsafeBufferPointer { u in
          product.withUnsafeMutableBufferPointer { c in
            BLAS.multiplyTransposedInParallel(
              UnsafeBufferPointer(rebasing: u[(a.lowerBound * dims)..<(a.upperBound * dims)]),
              UnsafeBufferPointer(rebasing: u[(b.lowerBound * dims)..<(b.upperBound * dims)]), into: c, m: a.count, n: b.count, k: dims)
          }
        }
        merge(product, queries: a, targets: b, k: k, isZero: isZero, best: &best, bestIndex: &bestIndex)
        if i != j {
          transpose(product, rows: a.count, columns: b.count, into: &transposed)
          merge(transposed, queries: b, targets: a, k: k, isZero: isZero, best: &best, bestIndex: &bestIndex)
        }
        done += 1
        progress(Double(done) / Double(blocks * (blocks + 1) / 2))
      }
    }
    return compact(best, bestIndex, rows: rows, k: k)
  }

  /// `out` (columns × rows) = `c` (rows × columns)ᵀ, in 32 × 32 tiles so both sides stay in cache,
  /// bands of 32 source rows in parallel (each writes its own columns of `out`).
  static func transpose(_ c: [Float], rows: Int, columns: Int, into out: inout [Float]) {
    let tile = 32
    c.withUnsafeBufferPointer { c in
      out.withUnsafeMutableBufferPointer { out in
        let shared = UnsafeTransfer((c, out))
        Parallel.forEach(chunks: (rows + tile - 1) / tile) { band in
          let (c, out) = shared.wrapped
          let r0 = band * tile
          for c0 in stride(from: 0, to: columns, by: tile) {
            for r in r0..<min(rows, r0 + tile) {
              for col in c0..<min(columns, c0 + tile) { out[col * rows + r] = c[r * columns + col] }
            }
          }
        }
      }
    }
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
  /// query row writes only its own k slots). Eight similarities at a time are compared with the
  /// row's k-th best; only the rare lanes that beat it take the scalar insertion.
  static func merge(
    _ block: [Float], queries: Range<Int>, targets: Range<Int>, k: Int, isZero: [Bool],
    best: inout [Float], bestIndex: inout [UInt32]
  ) {
    guard k > 0 else { return }
    block.withUnsafeBufferPointer { block in
      isZero.withUnsafeBufferPointer { isZero in
        best.withUnsafeMutableBufferPointer { bestScores in
          bestIndex.withUnsafeMutableBufferPointer { bestRows in
            let shared = UnsafeTransfer((bestScores, bestRows, block, isZero))
            let chunks = (queries.count + 63) / 64
            Parallel.forEach(chunks: chunks) { chunk in
              let (scores, indexes, block, isZero) = shared.wrapped
              for q in Parallel.range(chunk, of: chunks, count: queries.count).map({ $0 + queries.lowerBound }) where !isZero[q] {
                let row = block.baseAddress! + (q - queries.lowerBound) * targets.count
                let slots = q * k
                var threshold = scores[slots + k - 1]
                // Targets come in increasing order, so a later equal score never displaces an
                // earlier one: ties go to the lower index.
                func consider(_ offset: Int) {
                  let t = targets.lowerBound + offset, s = row[offset]
                  guard s > threshold, t != q, !isZero[t] else { return }
                  var i = k - 1
                  while i > 0 && scores[slots + i - 1] < s {
                    scores[slots + i] = scores[slots + i - 1]
                    indexes[slots + i] = indexes[slots + i - 1]
                    i -= 1
                  }
                  scores[slots + i] = s
                  indexes[slots + i] = UInt32(t)
                  threshold = scores[slots + k - 1]
                }
                var offset = 0
                while offset + 8 <= targets.count {
                  let v = UnsafeRawPointer(row + offset).loadUnaligned(as: SIMD8<Float>.self)
                  if any(v .> SIMD8(repeating: threshold)) {
                    for lane in 0..<8 { consider(offset + lane) }
                  }
                  offset += 8
                }
                while offset < targets.count {
                  consider(offset)
                  offset += 1
                }
              }
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
