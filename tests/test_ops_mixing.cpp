#include <doctest/doctest.h>

#include "autograd/gradcheck.h"
#include "autograd/ops_mixing.h"
#include "core/random.h"
#include "kernels/mixing.h"

using namespace pmx;

TEST_CASE("mix op: gradcheck for CHORD and CDIL at N not a power of two") {
  long N = 7;
  long M = kernels::num_factors(N);
  for (auto protocol : {kernels::Protocol::Chord, kernels::Protocol::Cdil}) {
    for (long m = 0; m < M; ++m) {
      auto o = kernels::protocol_offsets(protocol, N, m, M);
      Tensor v = randn({2, N, 3}, DType::Float64).set_requires_grad(true);
      Tensor w = randn({2, N, long(o.size())}, DType::Float64).set_requires_grad(true);
      auto r = gradcheck([&](const std::vector<Tensor>& in) { return mix(in[0], in[1], o); }, {v, w});
      CHECK_MESSAGE(r.ok, r.message);
    }
  }
}

TEST_CASE("mix op: bad shapes name the problem") {
  auto o = kernels::chord_offsets(8, 3);
  CHECK_THROWS_WITH_AS(mix(randn({2, 8, 4}), randn({2, 8, 3}), o), doctest::Contains("[mix] weights"), Error);
  CHECK_THROWS_AS(mix(randn({8, 4}), randn({8, 4}), o), Error);
  CHECK_THROWS_AS(mix(randn({1, 8, 4}), randn({1, 8, 4}, DType::Float64), o), Error);
}
