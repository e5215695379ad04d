// Training curves as a PNG: one panel per quantity (train loss, validation metric), stacked,
// each with its own axes, ticks and title. Uses gnuplot when it is installed (nicer output);
// otherwise, or when gnuplot fails, draws lines and stb_easy_font text into an RGB buffer and
// writes it with stb_image_write. Both produce `path`; the builtin path needs nothing installed.
//
//   Panel loss{"train loss", /*log_y=*/true, {{"train loss", steps, losses}}};
//   Panel err{"validation error %", false, {{"val error %", steps, errors}}};
//   write_curves_png("curves.png", {loss, err});
#pragma once
#include <string>
#include <vector>

namespace pmx::apps {

struct Curve {
  std::string label;
  std::vector<double> x, y;  // same length; non-finite points (and y <= 0 on a log axis) are skipped
};

struct Panel {
  std::string title;
  bool log_y = false;
  std::vector<Curve> curves;
};

enum class PlotBackend { Auto, Builtin };

// Throws pmx::Error if the file cannot be written. Returns the backend used ("gnuplot"/"builtin").
std::string write_curves_png(const std::string& path, const std::vector<Panel>& panels,
                             PlotBackend backend = PlotBackend::Auto, int width = 900, int panel_height = 320);

}  // namespace pmx::apps
