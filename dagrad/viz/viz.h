// dagrad viz: the tape listing, DOT graphs, the interactive graph page, SVG charts.
#pragma once
#include "dagrad/viz/chart.h"
#include "dagrad/viz/graph.h"
