#ifndef HMPIPE_COPENBLAS_SHIM_H
#define HMPIPE_COPENBLAS_SHIM_H
#include <cblas.h>
#endif
