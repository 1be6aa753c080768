#ifndef HMPIPE_CZSTD_SHIM_H
#define HMPIPE_CZSTD_SHIM_H
#include <zstd.h>
#endif
