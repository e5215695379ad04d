// The curve plot's builtin renderer on data at the edges: it always ends with a PNG.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "apps/common/plot.h"
#include "test_util.h"

using namespace pmx;

TEST_CASE("plot: values that differ only in their last bits, and non-finite ones, still make a PNG") {
  pmx_test::TempDir tmp("plot_edges");
  const double inf = std::numeric_limits<double>::infinity(), nan = std::nan("");
  // 1e4 and the next double: the ticks' step was below the spacing of doubles there, and adding
  // it up never reached the end of the axis (the plot hung, its tick list growing).
  const double near = std::nextafter(1e4, 2e4);
  const std::vector<apps::Panel> cases[] = {
      {apps::Panel{"y", false, {apps::Curve{"c", {1, 2}, {1e4, near}}}}},
      {apps::Panel{"x", false, {apps::Curve{"c", {1e17, 1e17 + 16}, {1, 2}}}}},
      {apps::Panel{"wide", false, {apps::Curve{"c", {1, 2, 3}, {-1e308, 1e308, 0}}}}},
      {apps::Panel{"non-finite", true, {apps::Curve{"c", {1, 2, 3, nan}, {nan, inf, -1, 5}}}}},
  };
  for (const auto& panels : cases) {
    CAPTURE(panels[0].title);
    const std::string png = tmp / (panels[0].title + ".png");
    CHECK(apps::write_curves_png(png, panels, apps::PlotBackend::Builtin) == "builtin");
    CHECK(pmx_test::read_text(png).substr(1, 3) == "PNG");
  }
}

TEST_CASE("plot: titles and labels are drawn") {
  // Two plots that differ only in a panel's title must differ in their pixels (the PNG bytes):
  // the text goes through stb_easy_font's quads, read back from a float buffer.
  pmx_test::TempDir tmp("plot_text");
  auto draw = [&](const std::string& title) {
    const std::string png = tmp / (std::to_string(title.size()) + ".png");
    REQUIRE(apps::write_curves_png(png, {apps::Panel{title, false, {apps::Curve{"c", {1, 2}, {3, 4}}}}},
                                   apps::PlotBackend::Builtin) == "builtin");
    return pmx_test::read_text(png);
  };
  CHECK(draw("a") != draw("a much longer title"));
  CHECK(draw("x") == draw("x"));  // and the drawing is deterministic
}
