#ifndef HMPIPE_COPENBLAS_SHIM_H
#define HMPIPE_COPENBLAS_SHIM_H
#include <cblas.h>

/* Joins OpenBLAS's worker threads (exported by the library, declared in no header). hmpipe asks
   for one thread only, so they are never wanted again. */
void blas_thread_shutdown_(void);
#endif
