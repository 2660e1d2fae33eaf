#include "autograd/ops/loss.h"
