#include "data/cifar.h"
