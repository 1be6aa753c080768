# Sourced by the benchmarks: hmpipe and its peers run OpenBLAS's best kernel for this processor,
# the same for both. hmpipe picks it by itself, but never overrides an OPENBLAS_CORETYPE already in
# the environment (some machines preset Haswell, whose sgemm is half SkylakeX's on AVX-512), and
# the peers' OpenBLAS builds each detect on their own.
OPENBLAS_CORETYPE=Haswell
grep -q avx512bw /proc/cpuinfo && OPENBLAS_CORETYPE=SkylakeX
export OPENBLAS_CORETYPE
