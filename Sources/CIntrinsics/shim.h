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

/* How every ALS dot product ends, in C because Swift's SIMD halves are loops over lanes the
   optimizer either left as calls (each spilling every live vector register) or took apart into
   scalar adds, some thirty instructions a row against its six multiply-adds. The partial sums
   are a 16-float vector, even lanes low and odd lanes high; `hmpipe_add_halves` adds the halves
   (after the odd last lane's products into the low half, for `_fma`), and the tree adds that
   sum's eight lanes: h[i] = s[i] + s[i + 4], then (h[0] + h[2]) + (h[1] + h[3]). */
typedef float hmpipe_float4 __attribute__((ext_vector_type(4)));
static inline hmpipe_float8 hmpipe_low8(hmpipe_float16 s) {
  return (hmpipe_float8)__builtin_shufflevector(s, s, 0, 1, 2, 3, 4, 5, 6, 7);
}
static inline hmpipe_float8 hmpipe_high8(hmpipe_float16 s) {
  return (hmpipe_float8)__builtin_shufflevector(s, s, 8, 9, 10, 11, 12, 13, 14, 15);
}
static inline hmpipe_float8 hmpipe_add_halves(hmpipe_float16 s) { return hmpipe_low8(s) + hmpipe_high8(s); }
static inline hmpipe_float8 hmpipe_add_halves_fma(hmpipe_float16 s, hmpipe_float8 a, hmpipe_float8 b) {
  return __builtin_elementwise_fma(a, b, hmpipe_low8(s)) + hmpipe_high8(s);
}
static inline float hmpipe_sum_tree(hmpipe_float8 s) {
  hmpipe_float4 h = (hmpipe_float4)__builtin_shufflevector(s, s, 0, 1, 2, 3) +
                    (hmpipe_float4)__builtin_shufflevector(s, s, 4, 5, 6, 7);
  return (h[0] + h[2]) + (h[1] + h[3]);
}

/* Four rows' trees side by side in vector registers, into out[0..3]: every add is lane for lane
   the one `hmpipe_sum_tree` does, so the same bits, in a dozen instructions for the four. */
static inline void hmpipe_sum_trees4(hmpipe_float8 s0, hmpipe_float8 s1, hmpipe_float8 s2, hmpipe_float8 s3, float *out) {
  hmpipe_float16 a = (hmpipe_float16)__builtin_shufflevector(s0, s1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  hmpipe_float16 b = (hmpipe_float16)__builtin_shufflevector(s2, s3, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  hmpipe_float16 h =
    (hmpipe_float16)__builtin_shufflevector(a, b, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27) +
    (hmpipe_float16)__builtin_shufflevector(a, b, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
  hmpipe_float8 pairs = (hmpipe_float8)__builtin_shufflevector(h, h, 0, 1, 4, 5, 8, 9, 12, 13) +
                        (hmpipe_float8)__builtin_shufflevector(h, h, 2, 3, 6, 7, 10, 11, 14, 15);
  hmpipe_float4 sums = (hmpipe_float4)__builtin_shufflevector(pairs, pairs, 0, 2, 4, 6) +
                       (hmpipe_float4)__builtin_shufflevector(pairs, pairs, 1, 3, 5, 7);
  __builtin_memcpy(out, &sums, sizeof sums);
}
#endif
