// The graph page carries dagrad/viz/graph_page.css and graph_page.js byte for byte (embed.py
// turns them into string constants at build time); reads the committed files, so it is built
// with DAGRAD_SOURCE_ROOT like the other fixture tests.
#include <doctest/doctest.h>

#include <string>

#include "dagrad/autograd/autograd.h"
#include "dagrad/base/file.h"
#include "dagrad/viz/graph.h"

using namespace dagrad;

TEST_CASE("to_html: the page embeds graph_page.css and graph_page.js unchanged") {
  const std::string dir = std::string(DAGRAD_SOURCE_ROOT) + "/dagrad/viz/";
  const std::string css = base::read_file(dir + "graph_page.css", "graph page style");
  const std::string js = base::read_file(dir + "graph_page.js", "graph page script");
  REQUIRE(css.size() > 1000);
  REQUIRE(js.size() > 1000);
  Tensor x = scalar_tensor(2, float64).set_name("x").requires_grad_();
  const std::string page = viz::to_html({(x * x).set_name("y")}, {.title = "assets"});
  CHECK(page.find("<style>\n" + css) != std::string::npos);
  CHECK(page.find("<script>\n" + js) != std::string::npos);
}
