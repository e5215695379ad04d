// Timer: wall-clock seconds since construction or the last reset().
//
//   pmx::Timer t;  work();  double s = t.seconds();
#pragma once
#include <chrono>

namespace pmx {

class Timer {
 public:
  Timer() { reset(); }
  void reset() { start_ = std::chrono::steady_clock::now(); }
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  double milliseconds() const { return seconds() * 1e3; }

 private:
  std::chrono::steady_clock::time_point start_;
};

}  // namespace pmx
