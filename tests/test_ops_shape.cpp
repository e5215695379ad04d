#include <doctest/doctest.h>

#include <limits>

#include "autograd/gradcheck.h"
#include "autograd/ops_elementwise.h"
#include "autograd/ops_shape.h"
#include "core/random.h"

using namespace pmx;

static Tensor rand64(const Shape& s) { return randn(s, DType::Float64).set_requires_grad(true); }

TEST_CASE("shape: views and copies give the right values") {
  Tensor x = from_vector(std::vector<float>{0, 1, 2, 3, 4, 5}, {2, 3});
  CHECK(reshape(x, {3, -1}).shape() == Shape{3, 2});
  CHECK(transpose(x, 0, 1).contiguous().to_vector<float>() == std::vector<float>{0, 3, 1, 4, 2, 5});
  CHECK(slice(x, 1, 1, 3).to_vector<float>() == std::vector<float>{1, 2, 4, 5});
  CHECK(slice(x, 1, 0, 3, 2).to_vector<float>() == std::vector<float>{0, 2, 3, 5});
  CHECK(slice(x, -1, -1, 3).to_vector<float>() == std::vector<float>{2, 5});
  CHECK(concat({x, x}, 1).to_vector<float>() == std::vector<float>{0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5});
  CHECK(stack({x, x}, 0).shape() == Shape{2, 2, 3});
  // Different pieces, so the order in which they land is seen (concat({x, x}) cannot show it).
  Tensor y = from_vector(std::vector<float>{6, 7, 8, 9}, {2, 2}), z = from_vector(std::vector<float>{-1, -2, -3}, {1, 3});
  CHECK(concat({x, y}, 1).to_vector<float>() == std::vector<float>{0, 1, 2, 6, 7, 3, 4, 5, 8, 9});
  CHECK(concat({z, x, z}, 0).to_vector<float>() == std::vector<float>{-1, -2, -3, 0, 1, 2, 3, 4, 5, -1, -2, -3});
  CHECK(stack({x, x * 2.0}, 0).to_vector<float>() == std::vector<float>{0, 1, 2, 3, 4, 5, 0, 2, 4, 6, 8, 10});
  CHECK(stack({x, x * 2.0}, -1).to_vector<float>() == std::vector<float>{0, 0, 1, 2, 2, 4, 3, 6, 4, 8, 5, 10});
  CHECK(flatten(randn({2, 3, 4}), 1).shape() == Shape{2, 12});
  CHECK(unsqueeze(x, -1).shape() == Shape{2, 3, 1});
  CHECK(squeeze(unsqueeze(x, 0), 0).shape() == Shape{2, 3});
  CHECK(x.to(DType::Float64).to_vector<double>()[5] == 5.0);
  // Reshape of a transposed view has to copy, and still reads in logical order.
  CHECK(reshape(transpose(x, 0, 1), {6}).to_vector<float>() == std::vector<float>{0, 3, 1, 4, 2, 5});
}

TEST_CASE("shape: bad arguments throw named errors") {
  Tensor x = randn({2, 3});
  CHECK_THROWS_WITH_AS(reshape(x, {4, 2}), doctest::Contains("[reshape]"), Error);
  CHECK_THROWS_AS(reshape(x, {-1, -1}), Error);
  CHECK_THROWS_AS(permute(x, {0, 0}), Error);
  CHECK_THROWS_AS(transpose(x, 0, 2), Error);
  CHECK_THROWS_AS(squeeze(x, 0), Error);
  CHECK_THROWS_AS(concat({x, randn({3, 3})}, 1), Error);
  CHECK_THROWS_AS(slice(x, 0, 0, 1, 0), Error);
}

TEST_CASE("shape: gradcheck every view and copy") {
  std::vector<std::function<Tensor(const std::vector<Tensor>&)>> fns = {
      [](auto& in) { return reshape(in[0], {4, 6}); },
      [](auto& in) { return permute(in[0], {2, 0, 1}).contiguous(); },
      [](auto& in) { return transpose(in[0], 0, 2).reshape({-1}); },
      [](auto& in) { return slice(in[0], 2, 1, 4, 2); },
      [](auto& in) { return concat({in[0], slice(in[0], 1, 0, 2)}, 1); },
      [](auto& in) { return stack({in[0], in[0]}, 1); },
      [](auto& in) { return in[0].clone(); },
  };
  for (auto& f : fns) {
    auto r = gradcheck(f, {rand64({2, 3, 4})}, 1e-6, 1e-5, 1e-4);
    CHECK_MESSAGE(r.ok, r.message);
  }
}

TEST_CASE("shape: the gradient of a dtype round trip is the identity") {
  // Through float32 the function is x rounded to 24 bits, so a finite difference needs a step
  // far above float32 resolution; the function is linear, so a large step is exact.
  auto f = [](auto& in) { return in[0].to(DType::Float32).to(DType::Float64); };
  auto r = gradcheck(f, {rand64({2, 3})}, 1e-2, 1e-5, 1e-4);
  CHECK_MESSAGE(r.ok, r.message);
}

TEST_CASE("shape: dim 0 of a 0-d tensor is handled, not read past the empty shape") {
  // normalize_dim lets dim 0 / -1 through for a 0-d tensor; these ops then indexed the empty
  // shape (or an empty dims list) and crashed. squeeze and transpose are no-ops there, as in
  // PyTorch; slice and concat have no dim to work along and say so.
  Tensor s = scalar(3.0, DType::Float64).set_requires_grad(true);
  Tensor q = squeeze(s, 0);
  CHECK(q.shape() == Shape{});
  CHECK(q.item() == 3.0);
  Tensor t = transpose(s, 0, -1);
  CHECK(t.shape() == Shape{});
  CHECK_THROWS_WITH_AS(slice(s, 0, 0, 1), doctest::Contains("0-d"), Error);
  CHECK_THROWS_WITH_AS(concat({s, s}, 0), doctest::Contains("0-d"), Error);
  CHECK(stack({s, s}, 0).shape() == Shape{2});  // stack adds the dim first, so it works
  auto r = gradcheck([](auto& in) { return transpose(squeeze(in[0], -1), 0, 0); }, {s});
  CHECK_MESSAGE(r.ok, r.message);
}

TEST_CASE("shape: slice with a step longer than the range takes its first element") {
  // The length was (end - start + step - 1) / step, which overflows for a huge step: the
  // slice came back empty (or with a negative size) instead of holding element `start`.
  const int64_t huge = std::numeric_limits<int64_t>::max();
  Tensor x = from_vector(std::vector<double>{0, 1, 2, 3, 4}, {5});
  CHECK(slice(x, 0, 0, 5, huge).to_vector<double>() == std::vector<double>{0});
  CHECK(slice(x, 0, 1, 5, huge - 1).to_vector<double>() == std::vector<double>{1});
  CHECK(slice(x, 0, 3, 3, huge).numel() == 0);
  auto r = gradcheck([huge](auto& in) { return slice(in[0], 1, 1, 4, huge); }, {rand64({2, 4})});
  CHECK_MESSAGE(r.ok, r.message);
}
