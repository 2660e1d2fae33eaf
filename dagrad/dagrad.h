// dagrad: include this one header for everything, or one part's own header:
// <dagrad/autograd/autograd.h>, <dagrad/io/io.h>, <dagrad/nn/nn.h>, <dagrad/optim/optim.h>,
// <dagrad/data/data.h>, <dagrad/viz/viz.h>, <dagrad/train/train.h>.
#pragma once
#include "dagrad/autograd/autograd.h"
#include "dagrad/data/data.h"
#include "dagrad/io/io.h"
#include "dagrad/nn/nn.h"
#include "dagrad/optim/optim.h"
#include "dagrad/train/train.h"
#include "dagrad/viz/viz.h"
