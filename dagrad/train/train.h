// dagrad train: the Solver (cs231n's), its options, and resumable training states.
#pragma once
#include "dagrad/train/solver.h"
