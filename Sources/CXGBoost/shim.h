#ifndef HMPIPE_CXGBOOST_SHIM_H
#define HMPIPE_CXGBOOST_SHIM_H
#include <xgboost/c_api.h>
#endif
