#ifndef ULTRAGATE_CLMDB_SHIM_H
#define ULTRAGATE_CLMDB_SHIM_H
#include <lmdb.h>
#endif
