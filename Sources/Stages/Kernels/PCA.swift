import Pipeline

/// Principal component projection of embedding rows: rows are centred on the mean of the non-zero
/// rows and projected onto the top principal axes of their covariance, found by subspace iteration
/// (the covariance product through BLAS, orthonormalisation in Double). Zero rows (articles without
/// an image) stay zero, so they keep getting no neighbours.
public enum PCA {
  public static let iterations = 40

  /// The `components`-column projection of `matrix` (rows × dims, row-major).
  public static func project(_ matrix: [Float], rows: Int, dims: Int, components: Int) -> [Float] {
    precondition(components > 0 && components <= dims)
    let isZero = (0..<rows).map { r in (0..<dims).allSatisfy { matrix[r * dims + $0] == 0 } }
    let centred = centre(matrix, rows: rows, dims: dims, isZero: isZero)
    let axes = principalAxes(centred, rows: rows, dims: dims, components: components)  // components × dims
    var projected = [Float](repeating: 0, count: rows * components)
    centred.withUnsafeBufferPointer { x in
      axes.withUnsafeBufferPointer { q in
        projected.withUnsafeMutableBufferPointer { out in
          BLAS.multiplyTransposedInParallel(x, q, into: out, m: rows, n: components, k: dims)
        }
      }
    }
    for r in 0..<rows where isZero[r] { for c in 0..<components { projected[r * components + c] = 0 } }
    return projected
  }

  /// Rows minus the mean of the non-zero rows; zero rows stay zero.
  static func centre(_ matrix: [Float], rows: Int, dims: Int, isZero: [Bool]) -> [Float] {
    var mean = [Double](repeating: 0, count: dims)
    let counted = isZero.filter { !$0 }.count
    for r in 0..<rows where !isZero[r] { for d in 0..<dims { mean[d] += Double(matrix[r * dims + d]) } }
    var out = matrix
    for r in 0..<rows where !isZero[r] {
      for d in 0..<dims { out[r * dims + d] = Float(Double(matrix[r * dims + d]) - mean[d] / Double(max(counted, 1))) }
    }
    return out
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

  /// The top `components` eigenvectors of XᵀX, as rows.
  static func principalAxes(_ x: [Float], rows: Int, dims: Int, components: Int) -> [Float] {
    var transposed = [Float](repeating: 0, count: rows * dims)
    transpose(x, rows: rows, columns: dims, into: &transposed)
    var covariance = [Float](repeating: 0, count: dims * dims)
    transposed.withUnsafeBufferPointer { t in
      covariance.withUnsafeMutableBufferPointer { c in BLAS.multiplyTransposedInParallel(t, t, into: c, m: dims, n: dims, k: rows) }
    }
    // Start from a fixed pseudo-random basis, then Q ← orthonormalise(C Q) until it settles.
    var random = CounterRandom(seed: 17, stream: 0, index: 0)
    var q = (0..<(components * dims)).map { _ in Float(random.normal()) }
    orthonormalise(&q, count: components, dims: dims)
    var product = [Float](repeating: 0, count: components * dims)
    for _ in 0..<iterations {
      q.withUnsafeBufferPointer { q in
        covariance.withUnsafeBufferPointer { c in
          product.withUnsafeMutableBufferPointer { out in BLAS.multiplyTransposedInParallel(q, c, into: out, m: components, n: dims, k: dims) }
        }
      }
      q = product
      orthonormalise(&q, count: components, dims: dims)
    }
    return q
  }

  /// Modified Gram–Schmidt on `count` row vectors, in Double.
  static func orthonormalise(_ v: inout [Float], count: Int, dims: Int) {
    var rows = (0..<count).map { r in (0..<dims).map { Double(v[r * dims + $0]) } }
    for r in 0..<count {
      for earlier in 0..<r {
        let dot = zip(rows[r], rows[earlier]).reduce(0) { $0 + $1.0 * $1.1 }
        for d in 0..<dims { rows[r][d] -= dot * rows[earlier][d] }
      }
      let norm = rows[r].reduce(0) { $0 + $1 * $1 }.squareRoot()
      for d in 0..<dims { rows[r][d] = norm > 0 ? rows[r][d] / norm : 0 }
    }
    for r in 0..<count { for d in 0..<dims { v[r * dims + d] = Float(rows[r][d]) } }
  }
}
