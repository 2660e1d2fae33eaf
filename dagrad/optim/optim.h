// dagrad optim: update rules, learning-rate schedules, gradient clipping and the Solver.
#pragma once
#include "dagrad/optim/clip.h"
#include "dagrad/optim/optimizer.h"
#include "dagrad/optim/schedule.h"
#include "dagrad/optim/solver.h"
