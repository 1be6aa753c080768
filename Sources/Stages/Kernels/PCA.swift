import Pipeline

/// Principal component projection of embedding rows: rows are centred on the mean of the non-zero
/// rows and projected onto the top principal axes of their covariance, found by subspace iteration.
/// Zero rows (articles without an image) stay zero, so they keep getting no neighbours.
///
/// Every product goes through BLAS on integers (`ExactIntegers`, `BLAS.multiplyTransposedExactly`):
/// the rows are scaled by a power of two and rounded to as many bits as keep each product exact
/// (16 or more for up to 2²⁰ rows), so the projection has the same bits whatever kernel OpenBLAS
/// picks on the machine. The rounding is far below the noise of any embedding model.
public enum PCA {
  public static let iterations = 40

  /// The `components`-column projection of `matrix` (rows × dims, row-major).
  public static func project(_ matrix: [Float], rows: Int, dims: Int, components: Int) -> [Float] {
    precondition(components > 0 && components <= dims)
    let isZero = (0..<rows).map { r in (0..<dims).allSatisfy { matrix[r * dims + $0] == 0 } }
    let centred = centre(matrix, rows: rows, dims: dims, isZero: isZero)
    let rowBits = min(20, ExactIntegers.bits(terms: rows))
    let (x, rowScale) = ExactIntegers.quantise(centred, bits: rowBits)
    let axes = principalAxes(x, rows: rows, dims: dims, components: components)  // components × dims
    let axisBits = 53 - rowBits - (Int.bitWidth - (dims - 1).leadingZeroBitCount)
    let (q, axisScale) = ExactIntegers.quantise(axes, bits: min(24, axisBits))
    var projected = [Double](repeating: 0, count: rows * components)
    x.withUnsafeBufferPointer { x in
      q.withUnsafeBufferPointer { q in
        projected.withUnsafeMutableBufferPointer { out in
          BLAS.multiplyTransposedExactly(x, q, into: out, m: rows, n: components, k: dims)
        }
      }
    }
    let undo = 1 / (rowScale * axisScale)
    return (0..<(rows * components)).map { isZero[$0 / components] ? 0 : Float(projected[$0] * undo) }
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

  /// The top `components` eigenvectors of XᵀX, as rows, for X of integers (`ExactIntegers`).
  static func principalAxes(_ x: [Double], rows: Int, dims: Int, components: Int) -> [Double] {
    var covariance = [Double](repeating: 0, count: dims * dims)
    x.withUnsafeBufferPointer { x in
      covariance.withUnsafeMutableBufferPointer { c in BLAS.gramExactly(x, into: c, rows: rows, columns: dims) }
    }
    let bits = ExactIntegers.bits(terms: dims)
    let c = ExactIntegers.quantise(covariance, bits: bits).0
    // Start from a fixed pseudo-random basis, then Q ← orthonormalise(C Q) until it settles.
    var random = CounterRandom(seed: 17, stream: 0, index: 0)
    var q = (0..<(components * dims)).map { _ in random.normal() }
    orthonormalise(&q, count: components, dims: dims)
    var product = [Double](repeating: 0, count: components * dims)
    for _ in 0..<iterations {
      // C is symmetric: C Q is (Q C)ᵀ = Qᵀ C as rows.
      ExactIntegers.quantise(q, bits: bits).0.withUnsafeBufferPointer { q in
        c.withUnsafeBufferPointer { c in
          product.withUnsafeMutableBufferPointer { out in BLAS.multiplyTransposedExactly(q, c, into: out, m: components, n: dims, k: dims) }
        }
      }
      q = product
      orthonormalise(&q, count: components, dims: dims)
    }
    return q
  }

  /// Modified Gram–Schmidt on `count` row vectors, in a fixed order.
  static func orthonormalise(_ v: inout [Double], count: Int, dims: Int) {
    v.withUnsafeMutableBufferPointer { v in
      for r in 0..<count {
        let row = v.baseAddress! + r * dims
        for earlier in 0..<r {
          let other = v.baseAddress! + earlier * dims
          var dot = 0.0
          for d in 0..<dims { dot += row[d] * other[d] }
          for d in 0..<dims { row[d] -= dot * other[d] }
        }
        var norm = 0.0
        for d in 0..<dims { norm += row[d] * row[d] }
        norm = norm.squareRoot()
        for d in 0..<dims { row[d] = norm > 0 ? row[d] / norm : 0 }
      }
    }
  }
}
