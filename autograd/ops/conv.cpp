#include "autograd/ops/conv.h"
