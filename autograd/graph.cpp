#include "autograd/graph.h"
