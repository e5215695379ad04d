// adding_model.h: the adding-problem Paramixer the performance table times (d = h = 32, input
// Linear(2, d), FLATTEN head, MSE) and its data.
// Header-only, for bench/bench_paramixer_step.cpp and bench/bench_step_budget.cpp.
//
//   nn::ParamixerModel model(bench::adding_model_config(1024, 1, "chord"));
//   Tensor x, y;
//   bench::adding_batch(16, 1024, &x, &y);
#pragma once
#include <pmx/pmx.h>

#include <string>

namespace pmx::bench {

inline nn::ParamixerConfig adding_model_config(int64_t n, int64_t layers, const std::string& protocol) {
  nn::ParamixerConfig c;
  c.seq_len = n;
  c.input_features = 2;
  c.dim = c.hidden = 32;
  c.layers = layers;
  c.protocol = protocol == "cdil" ? nn::Protocol::Cdil : nn::Protocol::Chord;
  return c;
}

// The adding problem's data: values in [-1, 1), markers at two positions, target as in the paper.
inline void adding_batch(int64_t batch, int64_t n, Tensor* x, Tensor* y) {
  *x = zeros({batch, n, 2});
  *y = empty({batch, 1});
  float* px = x->data<float>();
  float* py = y->data<float>();
  Tensor u = rand({batch, n});
  const float* pu = u.data<float>();
  for (int64_t b = 0; b < batch; ++b) {
    int64_t p1 = (b * 7919) % n, p2 = (b * 104729 + n / 2) % n;
    if (p2 == p1) p2 = (p1 + 1) % n;
    for (int64_t i = 0; i < n; ++i) px[(b * n + i) * 2] = 1 - 2 * pu[b * n + i];
    px[(b * n + p1) * 2 + 1] = px[(b * n + p2) * 2 + 1] = 1;
    py[b] = 0.5f + (px[(b * n + p1) * 2] + px[(b * n + p2) * 2]) / 4;
  }
}

}  // namespace pmx::bench
