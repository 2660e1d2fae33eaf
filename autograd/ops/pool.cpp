#include "autograd/ops/pool.h"
