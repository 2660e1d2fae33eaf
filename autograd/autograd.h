// dagrad autograd: include this one header to get tensors, every op, the engine, forward
// mode, gradient checking and the graph tools.
#pragma once
#include "autograd/dtype.h"
#include "autograd/engine.h"
#include "autograd/gradcheck.h"
#include "autograd/node.h"
#include "autograd/ops/elementwise.h"
#include "autograd/ops/reduction.h"
#include "autograd/ops/shape_ops.h"
#include "autograd/ops/unary.h"
#include "autograd/random.h"
#include "autograd/shape.h"
#include "autograd/tensor.h"
#include "autograd/version.h"
