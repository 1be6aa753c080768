#ifndef HMPIPE_CINTRINSICS_SHIM_H
#define HMPIPE_CINTRINSICS_SHIM_H
/* What Swift cannot say for itself, for the kernels. */
/* Swift has no prefetch instruction of its own: this asks for the cache line at `address`
   without waiting for it, so lookups a few keys apart overlap their cache misses. */
static inline void hmpipe_prefetch(const void *address) { __builtin_prefetch(address, 0, 3); }

/* The vector registers of the processor the build targets (`-target-cpu`): kernels size their
   register tiles by it, since a tile written for AVX-512's 32 spills on AVX2's 16. */
#if defined(__AVX512F__)
#define HMPIPE_VECTOR_REGISTERS 32
#else
#define HMPIPE_VECTOR_REGISTERS 16
#endif

/* One fused multiply-add of eight floats, a·b + c rounded once per lane: Swift's SIMD8
   `addingProduct` is a loop over lanes that the optimizer may regroup into 128-bit halves. */
typedef float hmpipe_float8 __attribute__((ext_vector_type(8)));
static inline hmpipe_float8 hmpipe_fma8(hmpipe_float8 a, hmpipe_float8 b, hmpipe_float8 c) {
  return __builtin_elementwise_fma(a, b, c);
}

/* The same for sixteen floats, one 512-bit instruction where the processor has them: the
   standard library's SIMD16 `addingProduct` was lowered as 128-bit pieces joined by inserts. */
typedef float hmpipe_float16 __attribute__((ext_vector_type(16)));
static inline hmpipe_float16 hmpipe_fma16(hmpipe_float16 a, hmpipe_float16 b, hmpipe_float16 c) {
  return __builtin_elementwise_fma(a, b, c);
}
#endif
