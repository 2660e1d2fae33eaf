#include "autograd/ops/norm.h"
