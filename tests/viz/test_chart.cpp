// Tests for viz/chart: SVG line charts.
#include "dagrad/viz/chart.h"

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using dagrad::viz::Chart;
using dagrad::viz::Series;

namespace {

size_t count(const std::string& s, const std::string& part) {
  size_t n = 0;
  for (size_t pos = s.find(part); pos != std::string::npos; pos = s.find(part, pos + 1)) ++n;
  return n;
}

bool contains(const std::string& s, const std::string& part) { return count(s, part) > 0; }

std::string temp_path(const std::string& name) {
  static const std::string tag = std::to_string(std::random_device{}());
  return (fs::temp_directory_path() / ("dagrad_test_plot_" + tag + "_" + name)).string();
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

Series series(const std::string& label, std::vector<double> x, std::vector<double> y,
              bool markers = false) {
  Series s;
  s.label = label;
  s.x = std::move(x);
  s.y = std::move(y);
  s.markers = markers;
  return s;
}

Chart chart(const std::string& title, std::vector<Series> s, bool log_y = false) {
  Chart c;
  c.title = title;
  c.x_label = "iteration";
  c.y_label = "loss";
  c.series = std::move(s);
  c.log_y = log_y;
  return c;
}

// Cheap structural checks that every rendering must pass: one document, balanced text elements,
// and no non-finite number leaking into coordinates.
void check_well_formed(const std::string& svg) {
  CHECK(svg.rfind("<?xml", 0) == 0);
  CHECK(count(svg, "<svg ") == 1);
  CHECK(svg.size() >= 7);
  CHECK(svg.substr(svg.size() - 7) == "</svg>\n");
  CHECK(count(svg, "<text") == count(svg, "</text>"));
  CHECK(count(svg, "<g") == count(svg, "</g>"));
  CHECK_FALSE(contains(svg, "nan"));
  CHECK_FALSE(contains(svg, "inf"));
}

}  // namespace

TEST_CASE("chart: to_svg draws title, axis labels, legend and one path per series") {
  std::vector<double> loss;
  for (int i = 0; i < 200; ++i) loss.push_back(2.3 * std::exp(-i / 50.0) + 0.1);
  Chart c = chart("Training loss",
                  {series("train", {}, loss), series("val", {0, 100, 199}, {2, 1, 0.5}, true)});
  const std::string svg = dagrad::viz::to_svg(c);
  check_well_formed(svg);
  CHECK(contains(svg, "width=\"640\" height=\"400\""));
  CHECK(contains(svg, ">Training loss</text>"));
  CHECK(contains(svg, ">iteration</text>"));
  CHECK(contains(svg, ">loss</text>"));
  CHECK(contains(svg, ">train</text>"));
  CHECK(contains(svg, ">val</text>"));
  CHECK(count(svg, "class=\"series\"") == 2);
  CHECK(count(svg, "<circle") >= 3);  // the markers of "val" (plus its legend sample)
  // Nice ticks: x covers 0..200 in round steps, y covers 0..2.5.
  CHECK(contains(svg, ">0</text>"));
  CHECK(contains(svg, ">100</text>"));
  CHECK(contains(svg, ">200</text>"));
  CHECK(contains(svg, ">0.5</text>"));
  CHECK(contains(svg, ">2.5</text>"));
  // Palette colours differ between series.
  CHECK(contains(svg, "#1f77b4"));
  CHECK(contains(svg, "#ff7f0e"));
}

TEST_CASE("chart: to_svg uses the given colours and escapes XML in text") {
  Series s = series("a < b & \"c\"", {0, 1}, {0, 1});
  s.color = "rebeccapurple";
  Chart c = chart("<script>alert('x')</script> & more", {s});
  c.x_label = "x > 0";
  const std::string svg = dagrad::viz::to_svg(c);
  check_well_formed(svg);
  CHECK(contains(svg, "stroke=\"rebeccapurple\""));
  CHECK_FALSE(contains(svg, "<script>"));
  CHECK(contains(svg, "&lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt; &amp; more"));
  CHECK(contains(svg, ">x &gt; 0</text>"));
  CHECK(contains(svg, ">a &lt; b &amp; &quot;c&quot;</text>"));
}

TEST_CASE("chart: to_svg skips NaN and infinite points and breaks the line there") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  Chart c = chart("gaps", {series("s", {0, 1, 2, 3, 4, 5}, {1, 2, nan, 3, inf, 4}),
                           series("bad x", {nan, 1, -inf}, {1, 2, 3})});
  const std::string svg = dagrad::viz::to_svg(c);
  check_well_formed(svg);
  CHECK(count(svg, "class=\"series\"") == 2);
  // First series: a two-point segment, then two isolated points (each its own subpath + dot).
  const size_t at = svg.find("class=\"series\" d=\"");
  REQUIRE(at != std::string::npos);
  const std::string d = svg.substr(at, svg.find('"', at + 18) - at);
  CHECK(count(d, "M") == 3);
  CHECK(count(d, "L") == 1);
}

TEST_CASE("chart: to_svg handles empty, single-point and constant data") {
  SUBCASE("no series at all") {
    const std::string svg = dagrad::viz::to_svg(chart("empty", {}));
    check_well_formed(svg);
    CHECK(contains(svg, "no data"));
    CHECK_FALSE(contains(svg, "class=\"series\""));
  }
  SUBCASE("a series without points keeps its legend entry but draws no path") {
    const std::string svg =
        dagrad::viz::to_svg(chart("t", {series("nothing", {}, {}), series("one", {}, {3})}));
    check_well_formed(svg);
    CHECK(contains(svg, ">nothing</text>"));
    CHECK(count(svg, "class=\"series\"") == 1);
  }
  SUBCASE("a single point is drawn as a dot") {
    const std::string svg = dagrad::viz::to_svg(chart("one", {series("p", {5}, {7})}));
    check_well_formed(svg);
    CHECK(count(svg, "class=\"series\"") == 1);
    CHECK(count(svg, "<circle") == 1);
    CHECK_FALSE(contains(svg, "no data"));
  }
  SUBCASE("constant y gets a non-degenerate axis") {
    const std::string svg = dagrad::viz::to_svg(chart("flat", {series("c", {}, {5, 5, 5, 5})}));
    check_well_formed(svg);
    // The flat line sits mid-axis, with distinct ticks either side.
    CHECK(contains(svg, ">5.0</text>"));
    CHECK(contains(svg, ">4.8</text>"));
    CHECK(contains(svg, ">5.2</text>"));
  }
  SUBCASE("only NaN data") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const std::string svg =
        dagrad::viz::to_svg(chart("no finite values", {series("s", {}, {nan, nan})}));
    check_well_formed(svg);
    CHECK(contains(svg, "no data"));
  }
  SUBCASE("values near the limits of double") {
    const double big = std::numeric_limits<double>::max();
    const std::string svg =
        dagrad::viz::to_svg(chart("huge", {series("s", {-big, big}, {big, -big})}));
    check_well_formed(svg);
    CHECK(count(svg, "class=\"series\"") == 1);
  }
}

TEST_CASE("chart: to_svg log_y: powers of ten, non-positive values skipped") {
  Chart c = chart("log", {series("s", {}, {10, 1, 0.1, 0, -5, 0.01})}, /*log_y=*/true);
  const std::string svg = dagrad::viz::to_svg(c);
  check_well_formed(svg);
  CHECK(contains(svg, ">0.01</text>"));
  CHECK(contains(svg, ">0.1</text>"));
  CHECK(contains(svg, ">1</text>"));
  CHECK(contains(svg, ">10</text>"));
  const size_t at = svg.find("class=\"series\" d=\"");
  REQUIRE(at != std::string::npos);
  const std::string d = svg.substr(at, svg.find('"', at + 18) - at);
  CHECK(count(d, "M") == 2);  // 10, 1, 0.1 joined; 0 and -5 skipped; 0.01 on its own
  CHECK(count(d, "L") == 2);

  // Narrow positive ranges still get several labelled ticks.
  const std::string narrow =
      dagrad::viz::to_svg(chart("n", {series("s", {}, {0.55, 0.6, 0.58})}, true));
  check_well_formed(narrow);
  CHECK(contains(narrow, ">0.55</text>"));
  CHECK(contains(narrow, ">0.60</text>"));
  // All values non-positive: nothing to draw.
  const std::string none = dagrad::viz::to_svg(chart("z", {series("s", {}, {0, -1})}, true));
  check_well_formed(none);
  CHECK(contains(none, "no data"));
}

TEST_CASE("chart: to_svg rejects mismatched series and tiny canvases") {
  try {
    dagrad::viz::to_svg(chart("t", {series("broken", {1, 2, 3}, {1, 2})}));
    FAIL("expected an exception");
  } catch (const std::invalid_argument& e) {
    CHECK(contains(e.what(), "broken"));
    CHECK(contains(e.what(), "3 x values but 2 y values"));
  }
  CHECK_THROWS_AS(dagrad::viz::to_svg(chart("t", {}), 50, 50), std::invalid_argument);
}

TEST_CASE("plot: save_svg and save_charts_svg write complete files atomically") {
  const Chart loss = chart("Loss", {series("loss", {}, {3, 2, 1.5, 1.2})});
  Chart acc = chart("Accuracy", {series("train", {1, 2, 3}, {0.5, 0.7, 0.8}, true),
                                 series("val", {1, 2, 3}, {0.45, 0.6, 0.65}, true)});
  acc.x_label = "epoch";
  acc.y_label = "accuracy";

  const std::string one = temp_path("chart.svg");
  dagrad::viz::save_svg(loss, one);
  CHECK(read_text(one) == dagrad::viz::to_svg(loss));
  CHECK_FALSE(fs::exists(one + ".tmp"));
  fs::remove(one);

  const std::string both = temp_path("curves.svg");
  dagrad::viz::save_svg({loss, acc}, both);
  const std::string svg = read_text(both);
  check_well_formed(svg);
  CHECK(contains(svg, "width=\"640\" height=\"800\""));
  CHECK(contains(svg, "translate(0,400)"));
  CHECK(contains(svg, ">Loss</text>"));
  CHECK(contains(svg, ">Accuracy</text>"));
  CHECK(count(svg, "class=\"series\"") == 3);
  CHECK_FALSE(fs::exists(both + ".tmp"));

  dagrad::viz::save_svg({loss, acc, loss}, both, 2, 400, 300);
  const std::string grid = read_text(both);
  check_well_formed(grid);
  CHECK(contains(grid, "width=\"800\" height=\"600\""));
  CHECK(contains(grid, "translate(400,0)"));
  CHECK(contains(grid, "translate(0,300)"));
  fs::remove(both);

  std::string msg;
  try {
    dagrad::viz::save_svg(std::vector<dagrad::viz::Chart>{}, both);
  } catch (const std::invalid_argument& e) {
    msg = e.what();
  }
  CHECK(contains(msg, both));
  CHECK_FALSE(fs::exists(both));

  const std::string bad = temp_path("missing_dir") + "/chart.svg";
  msg.clear();
  try {
    dagrad::viz::save_svg(loss, bad);
  } catch (const std::runtime_error& e) {
    msg = e.what();
  }
  CHECK(contains(msg, bad));
  CHECK_FALSE(fs::exists(bad));
}
