#include "autograd/ops/softmax.h"
