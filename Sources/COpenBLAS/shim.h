#ifndef HMPIPE_COPENBLAS_SHIM_H
#define HMPIPE_COPENBLAS_SHIM_H
#include <cblas.h>

/* Joins OpenBLAS's worker threads (exported by the library, declared in no header). A later call
   that asks for more than one thread starts them again. */
void blas_thread_shutdown_(void);
#endif
