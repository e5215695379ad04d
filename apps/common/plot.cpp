#include "apps/common/plot.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/error.h"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#include <stb/stb_image_write.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include <stb/stb_easy_font.h>
#pragma GCC diagnostic pop

namespace pmx::apps {

namespace {

struct Rgb {
  unsigned char r, g, b;
};

constexpr Rgb kPalette[] = {{31, 119, 180}, {214, 39, 40}, {44, 160, 44}, {148, 103, 189}};

class Canvas {
 public:
  Canvas(int w, int h) : w_(w), h_(h), pixels_(size_t(w) * h * 3, 255) {}
  void set(int x, int y, Rgb c) {
    if (x < 0 || y < 0 || x >= w_ || y >= h_) return;
    unsigned char* p = &pixels_[(size_t(y) * w_ + x) * 3];
    p[0] = c.r, p[1] = c.g, p[2] = c.b;
  }
  void line(double x0, double y0, double x1, double y1, Rgb c, int thick) {
    // A point of a range too wide to map (data spanning +-1e308) lands at NaN or far off: skip
    // it rather than cast it to int, and never walk more than the canvas's width and height.
    if (!(std::isfinite(x0) && std::isfinite(y0) && std::isfinite(x1) && std::isfinite(y1))) return;
    const double length = std::max(std::fabs(x1 - x0), std::fabs(y1 - y0));
    int steps = int(std::min(length, double(w_ + h_))) + 1;
    for (int i = 0; i <= steps; ++i) {
      double t = double(i) / steps;
      int x = int(std::lround(x0 + t * (x1 - x0))), y = int(std::lround(y0 + t * (y1 - y0)));
      for (int dy = 0; dy < thick; ++dy)
        for (int dx = 0; dx < thick; ++dx) set(x + dx - thick / 2, y + dy - thick / 2, c);
    }
  }
  // stb_easy_font emits axis-aligned quads (4 vertices of 16 bytes: x, y, z as floats, then
  // rgba). The buffer is a float array, so reading the coordinates back is well-defined and
  // aligned (a char array read through float* is neither), and local, so plots on two threads
  // do not share it.
  void text(int x, int y, const std::string& s, Rgb c) {
    std::vector<float> buffer(15000);  // 60000 bytes: ~930 quads, more than a label needs
    std::string copy = s;
    int quads = stb_easy_font_print(float(x), float(y), copy.data(), nullptr, buffer.data(),
                                    int(buffer.size() * sizeof(float)));
    for (int q = 0; q < quads; ++q) {
      const float* v0 = buffer.data() + q * 16;  // top-left vertex
      const float* v2 = v0 + 8;                  // bottom-right vertex
      for (int yy = int(v0[1]); yy < int(v2[1]); ++yy)
        for (int xx = int(v0[0]); xx < int(v2[0]); ++xx) set(xx, yy, c);
    }
  }
  static int text_width(const std::string& s) {
    std::string copy = s;
    return stb_easy_font_width(copy.data());
  }
  bool write(const std::string& path) const {
    return stbi_write_png(path.c_str(), w_, h_, 3, pixels_.data(), w_ * 3) != 0;
  }

 private:
  int w_, h_;
  std::vector<unsigned char> pixels_;  // (h, w, 3)
};

std::string tick_label(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

// Ticks at 1, 2 or 5 times a power of ten, about `count` of them across [lo, hi]. Tick k is
// computed as k * step, not by adding step up: where step is below the doubles' spacing at lo
// (values near 1e4 that differ in the last bits) the sum stood still and the loop never ended.
std::vector<double> nice_ticks(double lo, double hi, int count) {
  double raw = (hi - lo) / count, magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude * (raw / magnitude < 1.5 ? 1 : raw / magnitude < 3.5 ? 2 : raw / magnitude < 7.5 ? 5 : 10);
  const double first = std::ceil(lo / step), last = std::floor(hi / step + 1e-9);
  std::vector<double> ticks;
  if (!(last >= first)) return ticks;  // also NaN and infinite ranges
  const int n = int(std::min(last - first, 4.0 * count));
  for (int k = 0; k <= n; ++k) {
    const double t = (first + k) * step;
    ticks.push_back(std::fabs(t) < step * 1e-9 ? 0 : t);
  }
  return ticks;
}

bool usable(double x, double y, bool log_y) { return std::isfinite(x) && std::isfinite(y) && (!log_y || y > 0); }

void draw_panel(Canvas& canvas, const Panel& panel, int top, int width, int height) {
  const int left = 70, right = width - 20, y_top = top + 28, y_bottom = top + height - 30;
  const Rgb axis{90, 90, 90}, grid{225, 225, 225}, ink{20, 20, 20};
  canvas.text(left, top + 8, panel.title, ink);
  double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
  for (const Curve& c : panel.curves)
    for (size_t i = 0; i < c.x.size() && i < c.y.size(); ++i) {
      if (!usable(c.x[i], c.y[i], panel.log_y)) continue;
      double y = panel.log_y ? std::log10(c.y[i]) : c.y[i];
      x_lo = std::min(x_lo, c.x[i]), x_hi = std::max(x_hi, c.x[i]);
      y_lo = std::min(y_lo, y), y_hi = std::max(y_hi, y);
    }
  if (!(x_lo <= x_hi)) {  // no data: an empty frame says so better than a missing file
    x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;
  }
  if (x_hi - x_lo < 1e-12) x_hi = x_lo + 1;
  if (y_hi - y_lo < 1e-12) y_lo -= 0.5, y_hi += 0.5;
  double pad = (y_hi - y_lo) * 0.05;
  y_lo -= pad, y_hi += pad;
  auto px = [&](double x) { return left + (x - x_lo) / (x_hi - x_lo) * (right - left); };
  auto py = [&](double y) { return y_bottom - (y - y_lo) / (y_hi - y_lo) * (y_bottom - y_top); };

  // On a log axis the ticks are whole decades when the data spans at least two of them (at most
  // 617: log10 of the doubles). A linear range too wide for doubles gets no ticks; counting
  // decades up from -inf never ended.
  std::vector<double> y_ticks;
  if (panel.log_y && y_hi - y_lo >= 2) {
    for (double d = std::ceil(y_lo); d <= y_hi && y_ticks.size() < 700; d += 1) y_ticks.push_back(d);
  } else {
    y_ticks = nice_ticks(y_lo, y_hi, 5);
  }
  for (double yv : y_ticks) {
    canvas.line(left, py(yv), right, py(yv), grid, 1);
    std::string label = tick_label(panel.log_y ? std::pow(10.0, yv) : yv);
    canvas.text(left - 6 - Canvas::text_width(label), int(py(yv)) - 3, label, ink);
  }
  for (double xv : nice_ticks(x_lo, x_hi, 6)) {
    canvas.line(px(xv), y_top, px(xv), y_bottom, grid, 1);
    std::string label = tick_label(xv);
    canvas.text(int(px(xv)) - Canvas::text_width(label) / 2, y_bottom + 6, label, ink);
  }
  canvas.text(right - Canvas::text_width("step"), y_bottom + 18, "step", ink);
  canvas.line(left, y_top, left, y_bottom, axis, 1);
  canvas.line(left, y_bottom, right, y_bottom, axis, 1);

  for (size_t ci = 0; ci < panel.curves.size(); ++ci) {
    const Curve& c = panel.curves[ci];
    Rgb color = kPalette[ci % 4];
    canvas.text(right - 10 - Canvas::text_width(c.label), top + 8 + 12 * int(ci), c.label, color);
    bool have_prev = false;
    double prev_x = 0, prev_y = 0;
    for (size_t i = 0; i < c.x.size() && i < c.y.size(); ++i) {
      if (!usable(c.x[i], c.y[i], panel.log_y)) continue;
      double x = px(c.x[i]), y = py(panel.log_y ? std::log10(c.y[i]) : c.y[i]);
      if (have_prev) canvas.line(prev_x, prev_y, x, y, color, 2);
      else canvas.line(x, y, x, y, color, 3);
      prev_x = x, prev_y = y, have_prev = true;
    }
  }
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// gnuplot's single-quoted strings escape a quote by doubling it.
std::string gnuplot_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("''") : std::string(1, c);
  return q + "'";
}

bool gnuplot_available() { return std::system("command -v gnuplot >/dev/null 2>&1") == 0; }

bool write_with_gnuplot(const std::string& path, const std::vector<Panel>& panels, int width, int panel_height) {
  std::string data = path + ".plotdata", script = path + ".gp";
  std::FILE* d = std::fopen(data.c_str(), "w");
  std::FILE* s = std::fopen(script.c_str(), "w");
  bool ok = d && s;
  if (ok) {
    // One gnuplot data block per curve, separated by two blank lines (selected with `index`).
    int block = 0;
    std::fprintf(s, "set terminal pngcairo size %d,%d\nset output %s\nset termoption noenhanced\n", width,
                 panel_height * int(panels.size()), gnuplot_quote(path).c_str());
    std::fprintf(s, "set multiplot layout %zu,1\nset grid\n", panels.size());
    for (const Panel& p : panels) {
      std::fprintf(s, "set title %s\nset xlabel 'step'\n%s\nplot ", gnuplot_quote(p.title).c_str(),
                   p.log_y ? "set logscale y" : "unset logscale y");
      for (size_t ci = 0; ci < p.curves.size(); ++ci) {
        const Curve& c = p.curves[ci];
        for (size_t i = 0; i < c.x.size() && i < c.y.size(); ++i)
          if (usable(c.x[i], c.y[i], p.log_y)) std::fprintf(d, "%.10g %.10g\n", c.x[i], c.y[i]);
        std::fprintf(d, "0 NaN\n\n\n");
        std::fprintf(s, "%s%s index %d using 1:2 with linespoints pt 7 ps 0.4 title %s", ci ? ", " : "",
                     gnuplot_quote(data).c_str(), block++, gnuplot_quote(c.label).c_str());
      }
      std::fprintf(s, "\n");
    }
    std::fprintf(s, "unset multiplot\n");
  }
  if (d) std::fclose(d);
  if (s) std::fclose(s);
  std::remove(path.c_str());
  ok = ok && std::system(("gnuplot " + shell_quote(script) + " >/dev/null 2>&1").c_str()) == 0;
  std::remove(data.c_str());
  std::remove(script.c_str());
  struct stat st;
  return ok && stat(path.c_str(), &st) == 0 && st.st_size > 0;
}

}  // namespace

std::string write_curves_png(const std::string& path, const std::vector<Panel>& panels, PlotBackend backend,
                             int width, int panel_height) {
  PMX_CHECK(!panels.empty() && width >= 200 && panel_height >= 100, "[plot] need >= 1 panel and a canvas of at "
            "least 200 x 100 per panel, got ", panels.size(), " panels of ", width, " x ", panel_height);
  // Drawn into a file beside the target and renamed over it, so a failed or interrupted write
  // (gnuplot dying, a full disk) never replaces the plot of an earlier run with a broken one.
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  std::string used = "gnuplot";
  if (!(backend == PlotBackend::Auto && gnuplot_available() && write_with_gnuplot(tmp, panels, width, panel_height))) {
    used = "builtin";
    Canvas canvas(width, panel_height * int(panels.size()));
    for (size_t i = 0; i < panels.size(); ++i) draw_panel(canvas, panels[i], int(i) * panel_height, width, panel_height);
    if (!canvas.write(tmp)) {
      std::remove(tmp.c_str());
      throw Error(detail::concat("[plot] cannot write PNG ", path));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error(detail::concat("[plot] cannot write PNG ", path, " (renaming ", tmp, " over it failed)"));
  }
  return used;
}

}  // namespace pmx::apps
