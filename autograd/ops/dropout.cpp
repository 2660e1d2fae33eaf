#include "autograd/ops/dropout.h"
