#include <doctest/doctest.h>

#include "autograd/autograd.h"
