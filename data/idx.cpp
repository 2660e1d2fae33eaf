#include "data/idx.h"
