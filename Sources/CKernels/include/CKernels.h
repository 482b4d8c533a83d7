// Umbrella header of the C kernels. List every header here: a new header must be added to this file so
// that existing build folders see it (an umbrella directory is cached and misses new files).
#include "dl_kernels.h"
#include "dl_blas.h"
#include "dl_bench.h"
#include "dl_index.h"
#include "dl_optim.h"
#include "dl_norm.h"
#include "dl_conv.h"
#include "dl_gemm.h"
#include "dl_pool.h"
