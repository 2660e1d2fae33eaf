#include "autograd/ops/linalg.h"
