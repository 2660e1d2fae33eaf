#include "data/preprocess.h"
