import Foundation
import Testing

@testable import Stages

/// The blocked BLAS top-K equals a naive reference, with exact ties to the lower index, zero rows
/// excluded, and the same result whatever the block size (blocks of 7 and 13 rows put ties and zero
/// rows across block pairs, and exercise the transposed half of each pair).
@Suite struct TopKCosineTests {
  static func matrix(rows: Int, dims: Int, seed: UInt64) -> [Float] {
    var rng = CounterRandom(seed: seed, stream: 0, index: 0)
    var m = (0..<(rows * dims)).map { _ in Float(rng.normal()) }
    // Rows 10, 11 and 12 are the same vector (exact ties); rows 20 and 21 are zero.
    for r in [11, 12] { for d in 0..<dims { m[r * dims + d] = m[10 * dims + d] } }
    for r in [20, 21] { for d in 0..<dims { m[r * dims + d] = 0 } }
    return m
  }

  /// (index, score) best first by `exactSimilarity`, ties to the lower index, over every pair.
  static func reference(_ m: [Float], rows: Int, dims: Int, k: Int) -> [[(Int, Float)]] {
    let (unit, isZero) = TopKCosine.normalised(m.withUnsafeBufferPointer { $0 }, rows: rows, dims: dims)
    return unit.withUnsafeBufferPointer { u in
      (0..<rows).map { q in
        guard !isZero[q] else { return [] }
        let scored = (0..<rows).filter { $0 != q && !isZero[$0] }.map { t in
          (t, TopKCosine.exactSimilarity(u.baseAddress! + q * dims, u.baseAddress! + t * dims, dims: dims))
        }
        return Array(scored.sorted { $0.1 > $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }.prefix(k))
      }
    }
  }

  /// The neighbours are exactly the reference's, indexes and scores, whatever the block size and
  /// margin; margin 0 with a cluster of equal rows forces the search-again path.
  @Test(arguments: [(4096, nil), (7, nil), (11, 2), (64, 0), (13, 0)] as [(Int, Int?)])
  func matchesANaiveReference(block: Int, margin: Int?) {
    let (rows, dims, k) = (300, 12, 10)
    let m = Self.matrix(rows: rows, dims: dims, seed: 9)
    let result = m.withUnsafeBufferPointer {
      TopKCosine.neighbours(of: $0, rows: rows, dims: dims, k: k, block: block, margin: margin)
    }
    let expected = Self.reference(m, rows: rows, dims: dims, k: k)
    for q in 0..<rows {
      let got = Array(Int(result.offsets[q])..<Int(result.offsets[q + 1]))
      #expect(got.map { Int(result.neighbours[$0]) } == expected[q].map(\.0), "row \(q)")
      #expect(got.map { result.scores[$0] } == expected[q].map(\.1), "row \(q)")
    }
    if margin == 0 { #expect(result.rowsSearchedAgain > 0, "rows 10–12 tie: their margin cannot be proven") }
    // Exact ties go to the lower index; zero rows have and are no neighbours.
    let first = { (q: Int) in Array(result.neighbours[Int(result.offsets[q])..<Int(result.offsets[q + 1])].prefix(2)) }
    #expect(first(10) == [11, 12] && first(11) == [10, 12] && first(12) == [10, 11])
    #expect(result.offsets[20] == result.offsets[22])
    #expect(!result.neighbours.contains(20) && !result.neighbours.contains(21))
  }

  /// Blocks 600 wide merge their columns in bands (two or more workers) with a scalar tail: still
  /// the reference's neighbours.
  @Test func wideBlocksMergeColumnsInBands() {
    let (rows, dims, k) = (1300, 12, 10)
    let m = Self.matrix(rows: rows, dims: dims, seed: 5)
    let result = m.withUnsafeBufferPointer { TopKCosine.neighbours(of: $0, rows: rows, dims: dims, k: k, block: 600) }
    let expected = Self.reference(m, rows: rows, dims: dims, k: k)
    for q in 0..<rows {
      let got = Array(Int(result.offsets[q])..<Int(result.offsets[q + 1]))
      #expect(got.map { Int(result.neighbours[$0]) } == expected[q].map(\.0), "row \(q)")
    }
  }

  /// The deciding score is the true inner product to Float precision, and BLAS stays within the
  /// error bound of it.
  @Test func exactSimilarityIsTheInnerProductAndBLASIsWithinTheBound() {
    let (rows, dims) = (50, 37)
    let (unit, _) = TopKCosine.normalised(
      Self.matrix(rows: rows, dims: dims, seed: 4).withUnsafeBufferPointer { $0 }, rows: rows, dims: dims)
    var blas = [Float](repeating: 0, count: rows * rows)
    unit.withUnsafeBufferPointer { u in
      blas.withUnsafeMutableBufferPointer { BLAS.multiplyTransposed(u, u, into: $0, m: rows, n: rows, k: dims) }
      for a in 0..<rows {
        for b in 0..<rows {
          let exact = TopKCosine.exactSimilarity(u.baseAddress! + a * dims, u.baseAddress! + b * dims, dims: dims)
          let naive = (0..<dims).reduce(0.0) { $0 + Double(u[a * dims + $1]) * Double(u[b * dims + $1]) }
          #expect(abs(Double(exact) - naive) <= Double(exact.ulp))
          #expect(abs(blas[a * rows + b] - exact) <= TopKCosine.blasErrorBound(dims: dims))
        }
      }
    }
  }

  /// Data of rank 5 around a mean, 40 wide: PCA to 5 dimensions keeps every inner product of the
  /// centred rows, so the neighbours equal those of the centred data in full; zero rows stay out.
  @Test func pcaToTheDataRankKeepsTheNeighbours() {
    let (rows, dims, rank) = (300, 40, 5)
    var rng = CounterRandom(seed: 21, stream: 0, index: 0)
    let mean = (0..<dims).map { _ in Float(rng.normal()) * 3 }
    let basis = (0..<(rank * dims)).map { _ in Float(rng.normal()) }
    var m = [Float](repeating: 0, count: rows * dims)
    for r in 0..<rows {
      let c = (0..<rank).map { _ in Float(rng.normal()) }
      for d in 0..<dims { m[r * dims + d] = mean[d] + (0..<rank).reduce(0) { $0 + c[$1] * basis[$1 * dims + d] } }
    }
    for r in [7, 8] { for d in 0..<dims { m[r * dims + d] = 0 } }
    let isZero = (0..<rows).map { $0 == 7 || $0 == 8 }
    let centred = PCA.centre(m, rows: rows, dims: dims, isZero: isZero)
    let full = centred.withUnsafeBufferPointer { TopKCosine.neighbours(of: $0, rows: rows, dims: dims, k: 5) }
    let projected = PCA.project(m, rows: rows, dims: dims, components: rank)
    let reduced = projected.withUnsafeBufferPointer { TopKCosine.neighbours(of: $0, rows: rows, dims: rank, k: 5) }
    #expect(reduced.offsets == full.offsets)
    #expect(reduced.neighbours == full.neighbours)
    #expect(zip(reduced.scores, full.scores).allSatisfy { abs($0 - $1) < 1e-4 })
    #expect(projected[7 * rank..<9 * rank].allSatisfy { $0 == 0 }, "zero rows stay zero")
    // Fewer components than the rank lose information: the neighbours change.
    let cut = PCA.project(m, rows: rows, dims: dims, components: 2)
    let coarse = cut.withUnsafeBufferPointer { TopKCosine.neighbours(of: $0, rows: rows, dims: 2, k: 5) }
    #expect(coarse.neighbours != full.neighbours)
  }
}
