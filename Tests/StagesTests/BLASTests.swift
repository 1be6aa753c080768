import Foundation
import Testing

@testable import Stages

@Suite struct BLASTests {
  @Test func sgemmMatchesANaiveProduct() {
    let (m, n, k) = (37, 53, 71)
    var rng = CounterRandom(seed: 5, stream: 0, index: 0)
    let a = (0..<(m * k)).map { _ in Float(rng.normal()) }
    let b = (0..<(n * k)).map { _ in Float(rng.normal()) }
    var c = [Float](repeating: .nan, count: m * n)
    a.withUnsafeBufferPointer { a in
      b.withUnsafeBufferPointer { b in
        c.withUnsafeMutableBufferPointer { BLAS.multiplyTransposed(a, b, into: $0, m: m, n: n, k: k) }
      }
    }
    for i in 0..<m {
      for j in 0..<n {
        let expected = (0..<k).reduce(0.0) { $0 + Double(a[i * k + $1]) * Double(b[j * k + $1]) }
        #expect(abs(Double(c[i * n + j]) - expected) < 1e-3 * max(1, abs(expected)), "c[\(i), \(j)]")
      }
    }
  }

  /// With OpenBLAS's own threads stopped (hmpipe's first step; any BLAS call here does it first),
  /// calls run on the caller's thread and still multiply correctly.
  @Test func productsAfterTheLibrarysThreadsStop() {
    BLAS.stopOwnThreads()
    #expect(BLAS.threads == 1)
    let (m, n, k) = (300, 200, 64)
    let a = (0..<(m * k)).map { Float($0 % 13) - 6 }, b = (0..<(n * k)).map { Float($0 % 7) - 3 }
    var c = [Float](repeating: .nan, count: m * n)
    a.withUnsafeBufferPointer { a in
      b.withUnsafeBufferPointer { b in c.withUnsafeMutableBufferPointer { BLAS.multiplyTransposed(a, b, into: $0, m: m, n: n, k: k) } }
    }
    for (i, j) in [(0, 0), (17, 199), (299, 3), (150, 100)] {
      #expect(c[i * n + j] == (0..<k).reduce(Float(0)) { $0 + a[i * k + $1] * b[j * k + $1] }, "c[\(i), \(j)]")
    }
  }

  /// Integer operands within the 2⁵³ bound multiply exactly: the product equals integer arithmetic,
  /// and the Gram matrix equals XᵀX, to the last bit.
  @Test func exactProductsAreExact() {
    let (m, n, k) = (9, 70, 130)
    let bits = ExactIntegers.bits(terms: k)
    var rng = CounterRandom(seed: 8, stream: 0, index: 0)
    let (a, _) = ExactIntegers.quantise((0..<(m * k)).map { _ in rng.normal() }, bits: bits)
    let (b, scale) = ExactIntegers.quantise((0..<(n * k)).map { _ in rng.normal() }, bits: bits)
    #expect(
      b.allSatisfy { abs($0) <= Double(1 << bits) && $0 == $0.rounded() } && scale == scale.significand * pow(2, Double(scale.exponent)))
    var c = [Double](repeating: .nan, count: m * n), gram = [Double](repeating: .nan, count: n * n)
    a.withUnsafeBufferPointer { a in
      b.withUnsafeBufferPointer { b in
        c.withUnsafeMutableBufferPointer { BLAS.multiplyTransposedExactly(a, b, into: $0, m: m, n: n, k: k) }
      }
    }
    let bt = (0..<(k * n)).map { b[($0 % n) * k + $0 / n] }  // n columns of k rows: XᵀX = b bᵀ
    bt.withUnsafeBufferPointer { x in gram.withUnsafeMutableBufferPointer { BLAS.gramExactly(x, into: $0, rows: k, columns: n) } }
    for i in 0..<m {
      for j in 0..<n { #expect(c[i * n + j] == Double((0..<k).reduce(Int64(0)) { $0 + Int64(a[i * k + $1]) * Int64(b[j * k + $1]) })) }
    }
    for i in 0..<n {
      for j in 0..<n { #expect(gram[i * n + j] == Double((0..<k).reduce(Int64(0)) { $0 + Int64(b[i * k + $1]) * Int64(b[j * k + $1]) })) }
    }
  }

  @Test func kernelFollowsTheProcessorsFeatures() {
    let avx512 = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma avx512f avx512dq avx512bw avx512vl\n"
    let avx2 = "flags\t\t: fpu sse2 avx avx2 fma bmi2\n"
    let old = "flags\t\t: fpu sse2 sse4_2\n"
    #expect(BLASKernel.choice(environment: [:], cpuinfo: avx512) == "SkylakeX")
    #expect(BLASKernel.choice(environment: [:], cpuinfo: avx2) == "Haswell")
    #expect(BLASKernel.choice(environment: [:], cpuinfo: old) == nil)
    #expect(BLASKernel.choice(environment: ["OPENBLAS_CORETYPE": "Zen"], cpuinfo: avx512) == nil, "never override the user")
    #expect(BLASKernel.choice(environment: [:], cpuinfo: nil) == nil)
  }
}
