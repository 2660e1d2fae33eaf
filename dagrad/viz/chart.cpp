// Hand-written SVG: every chart is a <g> in local coordinates, so single charts and stacked
// figures share one renderer.
#include "dagrad/viz/chart.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <string_view>

#include "dagrad/base/file.h"

namespace dagrad::viz {
namespace {

// A colour-blind-friendly categorical palette (the widely used "tab10" colours).
constexpr const char* palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                   "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

constexpr int min_width = 160, min_height = 120;
constexpr double char_width = 7.0;  // rough advance of an 11px sans-serif glyph, for layout

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        // Control characters other than tab/newline are not allowed in XML 1.0 at all.
        if (static_cast<unsigned char>(ch) < 0x20 && ch != '\t' && ch != '\n') {
          out += ' ';
        } else {
          out += ch;
        }
    }
  }
  return out;
}

// Tick positions are stored in axis space (log10 of the value on a log axis).
struct Axis {
  double lo = 0, hi = 1;
  bool log = false;
  std::vector<double> ticks;
  std::vector<std::string> labels;

  // Halving first keeps hi - lo finite even for values near the double limits.
  double unit(double axis_value) const { return (axis_value / 2 - lo / 2) / (hi / 2 - lo / 2); }
  double to_axis(double v) const { return log ? std::log10(v) : v; }
};

// 1, 2 or 5 times a power of ten, at least `raw`.
double nice_step(double raw) {
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

// Labels for ticks spaced `step` apart: just enough decimals to tell them apart.
std::string tick_label(double v, double step, double max_abs) {
  const int step_exp = static_cast<int>(std::floor(std::log10(step) + 1e-9));
  if (max_abs >= 1e6 || step_exp < -5) {
    const int mag = max_abs > 0 ? static_cast<int>(std::floor(std::log10(max_abs))) : step_exp;
    return fmt::format("{:.{}g}", v, std::clamp(mag - step_exp + 1, 1, 15));
  }
  return fmt::format("{:.{}f}", v, std::max(0, -step_exp));
}

// Data range widened around a constant so that the axis has some extent.
void widen_if_flat(double& lo, double& hi) {
  const double scale = std::max(std::abs(lo), std::abs(hi));
  if (hi - lo > 1e-12 * scale && hi > lo) return;
  const double d = scale > 0 ? 0.1 * scale : 1.0;
  lo -= d;
  hi += d;
}

Axis linear_axis(double lo, double hi, int target_ticks) {
  Axis a;
  widen_if_flat(lo, hi);
  const double span = hi - lo;
  if (std::isfinite(span)) {
    // Among 1-2-5 steps near span / target, prefer the one whose tick range wastes the least
    // space around the data and whose tick count is closest to the target.
    const double base = nice_step(span / std::max(1, target_ticks - 1));
    double best_step = 0, best_score = std::numeric_limits<double>::infinity();
    for (double step : {base / 2.5, base / 2, base, base * 2, base * 2.5}) {
      const double m = step / std::pow(10.0, std::floor(std::log10(step) + 1e-9));
      if (std::abs(m - 1) > 1e-6 && std::abs(m - 2) > 1e-6 && std::abs(m - 5) > 1e-6) continue;
      const double t_lo = std::floor(lo / step) * step, t_hi = std::ceil(hi / step) * step;
      const double count = std::round((t_hi - t_lo) / step) + 1;
      if (!std::isfinite(t_lo) || !std::isfinite(t_hi) || count < 2 ||
          count > std::max(2 * target_ticks + 1, 3)) {
        continue;
      }
      const double score = 2 * (1 - span / (t_hi - t_lo)) + 0.15 * std::abs(count - target_ticks);
      if (score < best_score) best_score = score, best_step = step;
    }
    if (best_step > 0) {
      const double step = best_step;
      const double t_lo = std::floor(lo / step) * step, t_hi = std::ceil(hi / step) * step;
      const int count = static_cast<int>(std::round((t_hi - t_lo) / step)) + 1;
      a.lo = t_lo;
      a.hi = t_hi;
      const double max_abs = std::max(std::abs(t_lo), std::abs(t_hi));
      for (int i = 0; i < count; ++i) {
        double v = t_lo + i * step;
        if (std::abs(v) < step * 1e-9) v = 0;  // avoid "-0.0" and 1e-17 style labels
        a.ticks.push_back(v);
        a.labels.push_back(tick_label(v, step, max_abs));
      }
      return a;
    }
  }
  // Range too wide for the arithmetic above (near the double limits): five plain ticks.
  a.lo = lo;
  a.hi = hi;
  for (int i = 0; i <= 4; ++i) {
    const double t = i / 4.0;
    const double v = lo * (1 - t) + hi * t;
    a.ticks.push_back(v);
    a.labels.push_back(fmt::format("{:.3g}", v));
  }
  return a;
}

std::string power_label(int m, int k) {
  if (k >= -4 && k <= 5) return fmt::format("{:g}", m * std::pow(10.0, k));
  return fmt::format("{}e{}", m, k);
}

// Log axis over positive data [lo, hi]: 1-2-5 ticks for narrow ranges, powers of ten for wide
// ones, and linear ticks when the range is too narrow for even 1-2-5 to give three ticks.
Axis log_axis(double lo, double hi, int target_ticks) {
  Axis a;
  a.log = true;
  double la = std::log10(lo), lb = std::log10(hi);
  if (lb - la < 1e-9) {
    la -= 0.30103;  // constant data: show a factor of two either side
    lb += 0.30103;
  }
  if (lb - la > 3) {
    const int k_lo = static_cast<int>(std::floor(la)), k_hi = static_cast<int>(std::ceil(lb));
    const int every = std::max(1, (k_hi - k_lo + target_ticks - 2) / std::max(1, target_ticks - 1));
    const int start = static_cast<int>(std::floor(static_cast<double>(k_lo) / every)) * every;
    int k = start;
    for (; k < k_hi; k += every) {
      a.ticks.push_back(k);
      a.labels.push_back(power_label(1, k));
    }
    a.ticks.push_back(k);
    a.labels.push_back(power_label(1, k));
    a.lo = start;
    a.hi = k;
    return a;
  }
  // Candidates m * 10^k with m in 1-2-5 (only 1 from two decades up, where 2s and 5s would
  // crowd); the bounds snap to the candidates just outside the data.
  const std::vector<int> mantissas = lb - la >= 2 ? std::vector<int>{1} : std::vector<int>{1, 2, 5};
  std::vector<std::pair<double, std::string>> cands;
  for (int k = static_cast<int>(std::floor(la)) - 1; k <= static_cast<int>(std::ceil(lb)); ++k) {
    for (int m : mantissas) cands.emplace_back(k + std::log10(m), power_label(m, k));
  }
  size_t first = 0, last = cands.size() - 1;
  for (size_t i = 0; i < cands.size(); ++i) {
    if (cands[i].first <= la + 1e-12) first = i;
  }
  for (size_t i = cands.size(); i-- > 0;) {
    if (cands[i].first >= lb - 1e-12) last = i;
  }
  if (last - first + 1 < 3) {
    Axis lin = linear_axis(std::pow(10.0, la), std::pow(10.0, lb), target_ticks);
    if (lin.lo > 0 && std::isfinite(std::log10(lin.hi))) {
      lin.log = true;
      for (double& t : lin.ticks) t = std::log10(t);
      lin.lo = std::log10(lin.lo);
      lin.hi = std::log10(lin.hi);
      return lin;
    }
  }
  a.lo = cands[first].first;
  a.hi = cands[last].first;
  for (size_t i = first; i <= last; ++i) {
    a.ticks.push_back(cands[i].first);
    a.labels.push_back(cands[i].second);
  }
  return a;
}

struct Point {
  double x, y;
  bool ok;  // false = skipped (non-finite, or non-positive on a log axis)
};

std::vector<Point> series_points(const Series& s, bool log_y) {
  if (!s.x.empty() && s.x.size() != s.y.size()) {
    throw std::invalid_argument(fmt::format("to_svg: series '{}' has {} x values but {} y values",
                                            s.label, s.x.size(), s.y.size()));
  }
  std::vector<Point> pts(s.y.size());
  for (size_t i = 0; i < s.y.size(); ++i) {
    const double x = s.x.empty() ? static_cast<double>(i) : s.x[i], y = s.y[i];
    const bool ok = std::isfinite(x) && std::isfinite(y) && (!log_y || y > 0);
    pts[i] = {x, y, ok};
  }
  return pts;
}

// Pixel coordinates are finite by construction; the guard keeps "nan" out of the file regardless.
std::string coord(double v) { return fmt::format("{:.1f}", std::isfinite(v) ? v : 0.0); }

void text(std::string& out, double x, double y, std::string_view anchor, int size,
          std::string_view content, std::string_view extra = "") {
  out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"{}\" font-size=\"{}\"{}>{}</text>\n",
                     coord(x), coord(y), anchor, size, extra, xml_escape(content));
}

// The chart's points per series and the box around the drawable ones (a unit box when none is).
struct Data {
  std::vector<std::vector<Point>> series;
  double x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;
  bool any = false;
};

Data gather_points(const Chart& chart) {
  Data d;
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo, y_lo = x_lo, y_hi = -x_lo;
  for (const Series& s : chart.series) {
    d.series.push_back(series_points(s, chart.log_y));
    for (const Point& p : d.series.back()) {
      if (!p.ok) continue;
      d.any = true;
      x_lo = std::min(x_lo, p.x);
      x_hi = std::max(x_hi, p.x);
      y_lo = std::min(y_lo, p.y);
      y_hi = std::max(y_hi, p.y);
    }
  }
  if (d.any) {
    d.x_lo = x_lo, d.x_hi = x_hi, d.y_lo = y_lo, d.y_hi = y_hi;
  } else if (chart.log_y) {
    d.y_lo = 1, d.y_hi = 10;
  }
  return d;
}

// The plot area inside the margins, its axes, and data -> pixel maps.
struct Layout {
  double left, right, top, bottom;
  Axis xa, ya;
  double px(double x) const { return left + xa.unit(x) * (right - left); }
  double py(double y) const { return py_axis(ya.to_axis(y)); }
  double py_axis(double t) const { return bottom - ya.unit(t) * (bottom - top); }
};

// The y axis is built first because its label widths decide the left margin.
Layout lay_out(const Chart& chart, const Data& d, int width, int height) {
  Layout l;
  l.top = chart.title.empty() ? 16 : 36;
  l.bottom = height - (chart.x_label.empty() ? 28 : 46);
  const int y_target = std::clamp(static_cast<int>((l.bottom - l.top) / 45), 2, 10);
  l.ya = chart.log_y ? log_axis(d.y_lo, d.y_hi, y_target) : linear_axis(d.y_lo, d.y_hi, y_target);
  size_t max_label = 1;
  for (const auto& s : l.ya.labels) max_label = std::max(max_label, s.size());
  l.left = std::min(width / 2.0, 14 + char_width * max_label + (chart.y_label.empty() ? 0 : 20));
  const int x_target = std::clamp(static_cast<int>((width - 16 - l.left) / 90), 2, 10);
  l.xa = linear_axis(d.x_lo, d.x_hi, x_target);
  // The last x label is centred on the right edge of the plot: leave room for its right half.
  l.right = width - std::max(20.0, 6 + char_width * l.xa.labels.back().size() / 2);
  return l;
}

// Background, title, grid, ticks with their labels, the frame and the axis labels.
void draw_frame(std::string& out, const Chart& chart, const Layout& l, bool any, int width,
                int height) {
  out += fmt::format("<rect x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"white\"/>\n", width,
                     height);
  if (!chart.title.empty()) {
    text(out, width / 2.0, 22, "middle", 15, chart.title, " font-weight=\"bold\"");
  }
  std::string grid, ticks;
  for (size_t i = 0; i < l.xa.ticks.size(); ++i) {
    const double x = l.px(l.xa.ticks[i]);
    grid += fmt::format("M{} {}V{}", coord(x), coord(l.top), coord(l.bottom));
    ticks += fmt::format("M{} {}v4", coord(x), coord(l.bottom));
    text(out, x, l.bottom + 16, "middle", 11, l.xa.labels[i]);
  }
  for (size_t i = 0; i < l.ya.ticks.size(); ++i) {
    const double y = l.py_axis(l.ya.ticks[i]);
    grid += fmt::format("M{} {}H{}", coord(l.left), coord(y), coord(l.right));
    ticks += fmt::format("M{} {}h-4", coord(l.left), coord(y));
    text(out, l.left - 7, y + 4, "end", 11, l.ya.labels[i]);
  }
  out +=
      fmt::format("<path d=\"{}\" stroke=\"#e3e3e3\" stroke-width=\"1\" fill=\"none\"/>\n", grid);
  out += fmt::format("<path d=\"{}\" stroke=\"#444\" stroke-width=\"1\" fill=\"none\"/>\n", ticks);
  out += fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" stroke=\"#444\" fill=\"none\"/>\n",
      coord(l.left), coord(l.top), coord(l.right - l.left), coord(l.bottom - l.top));
  if (!chart.x_label.empty())
    text(out, (l.left + l.right) / 2, height - 10, "middle", 12, chart.x_label);
  if (!chart.y_label.empty()) {
    const double x = 16, y = (l.top + l.bottom) / 2;
    text(out, x, y, "middle", 12, chart.y_label,
         fmt::format(" transform=\"rotate(-90 {} {})\"", coord(x), coord(y)));
  }
  if (!any)
    text(out, (l.left + l.right) / 2, (l.top + l.bottom) / 2, "middle", 13, "no data",
         " fill=\"#888\"");
}

// Where the series went: each one's colour, and pixel positions (points along each segment too)
// so that the legend can go where it hides the least.
struct Drawn {
  std::vector<std::string> colors;
  std::vector<std::pair<double, double>> pixels;
};

// A skipped point breaks the line; a point with no drawable neighbour gets a dot so that it
// does not vanish.
Drawn draw_series(std::string& out, const Chart& chart, const Data& d, const Layout& l) {
  Drawn drawn;
  for (size_t si = 0; si < chart.series.size(); ++si) {
    const Series& s = chart.series[si];
    drawn.colors.push_back(
        xml_escape(s.color.empty() ? palette[si % std::size(palette)] : s.color));
    const auto& pts = d.series[si];
    std::string path, dots;
    double prev_x = 0, prev_y = 0;
    for (size_t i = 0; i < pts.size(); ++i) {
      if (!pts[i].ok) continue;
      const bool joined = i > 0 && pts[i - 1].ok;
      const bool alone = !joined && (i + 1 >= pts.size() || !pts[i + 1].ok);
      const double x = l.px(pts[i].x), y = l.py(pts[i].y);
      path += fmt::format("{}{} {}", joined ? "L" : "M", coord(x), coord(y));
      if (s.markers || alone) {
        dots += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"2.5\"/>", coord(x), coord(y));
      }
      if (joined) {
        for (int k = 1; k < 8; ++k) {
          drawn.pixels.emplace_back(prev_x + (x - prev_x) * k / 8, prev_y + (y - prev_y) * k / 8);
        }
      }
      drawn.pixels.emplace_back(x, y);
      prev_x = x, prev_y = y;
    }
    if (path.empty()) continue;
    out += fmt::format(
        "<path class=\"series\" d=\"{}\" stroke=\"{}\" stroke-width=\"1.5\" fill=\"none\" "
        "stroke-linejoin=\"round\" stroke-linecap=\"round\"/>\n",
        path, drawn.colors.back());
    if (!dots.empty()) out += fmt::format("<g fill=\"{}\">{}</g>\n", drawn.colors.back(), dots);
  }
  return drawn;
}

// The legend, in whichever corner of the plot area covers the fewest drawn points.
void draw_legend(std::string& out, const Chart& chart, const Layout& l, const Drawn& drawn) {
  size_t entries = 0, longest = 0;
  for (const Series& s : chart.series) {
    if (s.label.empty()) continue;
    ++entries;
    longest = std::max(longest, s.label.size());
  }
  if (entries == 0) return;
  const double w = 38 + char_width * longest, h = 8 + 18.0 * entries;
  const double x_right = std::max(l.left + 4, l.right - 8 - w),
               y_bottom = std::max(l.top + 8, l.bottom - 8 - h);
  const std::pair<double, double> corners[] = {
      {x_right, l.top + 8}, {l.left + 8, l.top + 8}, {x_right, y_bottom}, {l.left + 8, y_bottom}};
  double lx = corners[0].first, ly = corners[0].second;
  size_t best = std::numeric_limits<size_t>::max();
  for (const auto& [cx, cy] : corners) {
    size_t covered = 0;
    for (const auto& [x, y] : drawn.pixels)
      covered += x >= cx - 3 && x <= cx + w + 3 && y >= cy - 3 && y <= cy + h + 3;
    if (covered < best) best = covered, lx = cx, ly = cy;
  }
  out += fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"white\" fill-opacity=\"0.85\" "
      "stroke=\"#bbb\"/>\n",
      coord(lx), coord(ly), coord(w), coord(h));
  double ey = ly + 4 + 9;
  for (size_t si = 0; si < chart.series.size(); ++si) {
    const Series& s = chart.series[si];
    if (s.label.empty()) continue;
    out += fmt::format("<path d=\"M{} {}h20\" stroke=\"{}\" stroke-width=\"2\"/>\n", coord(lx + 6),
                       coord(ey), drawn.colors[si]);
    if (s.markers) {
      out += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"2.5\" fill=\"{}\"/>\n", coord(lx + 16),
                         coord(ey), drawn.colors[si]);
    }
    text(out, lx + 32, ey + 4, "start", 11, s.label);
    ey += 18;
  }
}

// Appends one chart's elements, in a group translated to (ox, oy).
void render_chart(std::string& out, const Chart& chart, int width, int height, int ox, int oy) {
  if (width < min_width || height < min_height) {
    throw std::invalid_argument(fmt::format("to_svg: chart size {}x{} is too small (minimum {}x{})",
                                            width, height, min_width, min_height));
  }
  const Data data = gather_points(chart);
  const Layout layout = lay_out(chart, data, width, height);
  out += fmt::format("<g transform=\"translate({},{})\">\n", ox, oy);
  draw_frame(out, chart, layout, data.any, width, height);
  const Drawn drawn = draw_series(out, chart, data, layout);
  draw_legend(out, chart, layout, drawn);
  out += "</g>\n";
}

std::string svg_open(int width, int height) {
  return fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" "
      "viewBox=\"0 0 {0} {1}\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n",
      width, height);
}

}  // namespace

std::string to_svg(const Chart& chart, int width, int height) {
  std::string out = svg_open(width, height);
  if (!chart.title.empty()) out += fmt::format("<title>{}</title>\n", xml_escape(chart.title));
  render_chart(out, chart, width, height, 0, 0);
  out += "</svg>\n";
  return out;
}

std::string to_svg(const std::vector<Chart>& charts, int columns, int chart_width,
                   int chart_height) {
  if (charts.empty()) throw std::invalid_argument("to_svg: no charts given");
  if (columns < 1) {
    throw std::invalid_argument(fmt::format("to_svg: columns must be >= 1, got {}", columns));
  }
  const int cols = std::min<int>(columns, static_cast<int>(charts.size()));
  const int rows = (static_cast<int>(charts.size()) + cols - 1) / cols;
  std::string out = svg_open(cols * chart_width, rows * chart_height);
  for (size_t i = 0; i < charts.size(); ++i) {
    const int col = static_cast<int>(i) % cols, row = static_cast<int>(i) / cols;
    render_chart(out, charts[i], chart_width, chart_height, col * chart_width, row * chart_height);
  }
  out += "</svg>\n";
  return out;
}

void save_svg(const Chart& chart, const std::string& path, int width, int height) {
  std::string svg;
  try {
    svg = to_svg(chart, width, height);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(fmt::format("save_svg: '{}': {}", path, e.what()));
  }
  base::write_file_atomically(svg, path, fmt::format("save_svg: '{}'", path));
}

void save_svg(const std::vector<Chart>& charts, const std::string& path, int columns,
              int chart_width, int chart_height) {
  std::string svg;
  try {
    svg = to_svg(charts, columns, chart_width, chart_height);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(fmt::format("save_svg: '{}': {}", path, e.what()));
  }
  base::write_file_atomically(svg, path, fmt::format("save_svg: '{}'", path));
}

}  // namespace dagrad::viz
