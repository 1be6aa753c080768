/// A vector's low and high halves, the same lanes as the standard library's `lowHalf` and
/// `highHalf`, but always inlined: those are left as calls in the kernels' loops, and every call
/// spills all the live vector registers around it.
extension SIMD16<Float> {
  @inline(__always) var halves: (low: SIMD8<Float>, high: SIMD8<Float>) {
    unsafeBitCast(self, to: (low: SIMD8<Float>, high: SIMD8<Float>).self)
  }
}

extension SIMD8<Float> {
  @inline(__always) var halves: (low: SIMD4<Float>, high: SIMD4<Float>) {
    unsafeBitCast(self, to: (low: SIMD4<Float>, high: SIMD4<Float>).self)
  }
}

extension SIMD4<Float> {
  @inline(__always) var halves: (low: SIMD2<Float>, high: SIMD2<Float>) {
    unsafeBitCast(self, to: (low: SIMD2<Float>, high: SIMD2<Float>).self)
  }
}
