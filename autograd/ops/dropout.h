#pragma once
#include "autograd/tensor.h"
