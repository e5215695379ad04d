#include "apps/datasets/synthetic.h"
#include <cstdio>
using namespace pmx;
int main() {
  const int64_t n = 6;
  const char* names[3] = {"Train", "Validation", "Test"};
  apps::AddingTask adding(n, 0);
  apps::OrderTask order(n, 0);
  for (int s = 0; s < 3; ++s) {
    apps::Batch b = adding.batch(apps::Split(s), 0, 2);
    const float* x = b.input.data<float>();
    const float* y = b.target.data<float>();
    for (int i = 0; i < 2; ++i) {
      std::printf("adding %s %d: {", names[s], i);
      for (int t = 0; t < n; ++t) std::printf("%.9gf, ", x[(i * n + t) * 2]);
      std::printf("} markers {");
      for (int t = 0; t < n; ++t) if (x[(i * n + t) * 2 + 1] != 0) std::printf("%d %g, ", t, x[(i * n + t) * 2 + 1]);
      std::printf("} target %.9gf\n", y[i]);
    }
  }
  for (int s = 0; s < 3; ++s) {
    apps::Batch b = order.batch(apps::Split(s), 0, 2);
    const int64_t* x = b.input.data<int64_t>();
    const int64_t* y = b.target.data<int64_t>();
    for (int i = 0; i < 2; ++i) {
      std::printf("order %s %d: {", names[s], i);
      for (int t = 0; t < n; ++t) std::printf("%ld, ", (long)x[i * n + t]);
      std::printf("} label %ld\n", (long)y[i]);
    }
  }
}
