// dagrad optim: update rules, learning-rate schedules, gradient clipping.
#pragma once
#include "dagrad/optim/clip.h"
#include "dagrad/optim/optimizer.h"
#include "dagrad/optim/schedule.h"
