#ifndef HMPIPE_CPREFETCH_SHIM_H
#define HMPIPE_CPREFETCH_SHIM_H
/* Swift has no prefetch instruction of its own: this asks for the cache line at `address`
   without waiting for it, so lookups a few keys apart overlap their cache misses. */
static inline void hmpipe_prefetch(const void *address) { __builtin_prefetch(address, 0, 3); }
#endif
