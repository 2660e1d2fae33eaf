#include "autograd/forward_mode.h"
