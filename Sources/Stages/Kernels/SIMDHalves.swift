/// A vector's low and high halves, the same lanes as the standard library's `lowHalf` and
/// `highHalf`, built lane by lane so the optimizer sees one shuffle: the standard library's are
/// left as calls in the ALS kernels, and each call spills every live vector register.
extension SIMD16<Float> {
  @inline(__always) var low8: SIMD8<Float> { SIMD8(self[0], self[1], self[2], self[3], self[4], self[5], self[6], self[7]) }
  @inline(__always) var high8: SIMD8<Float> {
    SIMD8(self[8], self[9], self[10], self[11], self[12], self[13], self[14], self[15])
  }
}

extension SIMD8<Float> {
  @inline(__always) var low4: SIMD4<Float> { SIMD4(self[0], self[1], self[2], self[3]) }
  @inline(__always) var high4: SIMD4<Float> { SIMD4(self[4], self[5], self[6], self[7]) }
}
