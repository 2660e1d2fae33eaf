// SVG line charts (training curves and the like) that open in any browser; no dependencies
// beyond fmt, so examples can emit figures without a plotting stack.
#pragma once
#include <string>
#include <vector>

namespace dagrad::viz {

struct Series {
  std::string label;         // shown in the legend; an empty label is left out of it
  std::vector<double> x, y;  // x empty = 0, 1, 2, ... (e.g. per-iteration losses)
  std::string color;         // any SVG colour; empty = next colour of the built-in palette
  bool markers = false;      // draw a dot at every point
};

struct Chart {
  std::string title, x_label, y_label;
  std::vector<Series> series;
  bool log_y = false;  // log10 y axis; points with y <= 0 are skipped
};

// A standalone SVG document with axes, "nice" ticks, grid lines, a legend and the title.
// Points whose x or y is NaN/inf are skipped (the line is broken there); a chart without any
// drawable point still renders its frame with a "no data" note. Throws std::invalid_argument
// when a series has x and y of different lengths or the size is too small to draw in.
std::string to_svg(const Chart& chart, int width = 640, int height = 400);

// Several charts in one SVG, laid out row by row in `columns` columns, each chart_width x
// chart_height (e.g. loss per iteration above train/val accuracy per epoch).
std::string to_svg(const std::vector<Chart>& charts, int columns = 1, int chart_width = 640,
                   int chart_height = 400);

// Writes to_svg's output to `path` atomically (base::write_file_atomically: a failure never
// leaves a half-written file); std::runtime_error naming `path` on failure.
void save_svg(const Chart& chart, const std::string& path, int width = 640, int height = 400);
void save_svg(const std::vector<Chart>& charts, const std::string& path, int columns = 1,
              int chart_width = 640, int chart_height = 400);

}  // namespace dagrad::viz
