// dagrad: include this one header for everything (autograd, nn, optim, data, io), or include a
// part's own header: <dagrad/autograd/autograd.h>, <dagrad/nn/nn.h>, <dagrad/optim/optim.h>,
// <dagrad/data/data.h>, <dagrad/io/io.h>.
#pragma once
#include "dagrad/autograd/autograd.h"
#include "dagrad/data/data.h"
#include "dagrad/io/io.h"
#include "dagrad/nn/nn.h"
#include "dagrad/optim/optim.h"
