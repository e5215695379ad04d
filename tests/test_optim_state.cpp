// Optimizer checkpoints, gradient clipping, learning-rate schedules and the README example.
#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <cstring>
#include <limits>

#include "autograd/ops_loss.h"
#include "autograd/ops_reduce.h"
#include "core/random.h"
#include "core/threads.h"
#include "layers/linear.h"
#include "optim/adam.h"
#include "optim/clip_grad.h"
#include "optim/lr_schedule.h"
#include "optim/sgd.h"

using namespace pmx;

namespace {

// A deep copy, so a snapshot does not follow later steps.
Tensor copy_of(const Tensor& t) {
  Tensor out = empty(t.shape(), t.dtype());
  std::memcpy(out.storage()->data(), t.storage()->data(), size_t(t.numel()) * dtype_size(t.dtype()));
  return out;
}

std::map<std::string, Tensor> snapshot(const std::map<std::string, Tensor>& state) {
  std::map<std::string, Tensor> out;
  for (const auto& [k, v] : state) out[k] = copy_of(v);
  return out;
}

// Gradient of 0.5 |p - target|^2 with target_i = i, written by hand so the test needs no ops.
void quadratic_grad(Tensor p) {
  std::vector<double> v = p.to_vector<double>();
  for (size_t i = 0; i < v.size(); ++i) v[i] -= double(i);
  p.set_grad(from_vector(v, p.shape()));
}

}  // namespace

TEST_CASE("optim: state_dict round trip continues exactly like an uninterrupted run") {
  const std::vector<double> start{3.0, -2.0, 0.5, 8.0};
  auto make = [&] { return from_vector(start, {4}).set_requires_grad(true); };
  for (int kind = 0; kind < 2; ++kind) {
    CAPTURE(kind);
    auto build = [&](const Tensor& p) -> std::unique_ptr<optim::Optimizer> {
      if (kind == 0) return std::make_unique<optim::Adam>(std::vector<Tensor>{p}, 0.1);
      return std::make_unique<optim::SGD>(std::vector<Tensor>{p}, 0.1, 0.9, 0.01, true);
    };
    Tensor straight = make();
    auto opt = build(straight);
    for (int t = 0; t < 6; ++t) { quadratic_grad(straight); opt->step(); }

    Tensor first = make();
    auto opt1 = build(first);
    for (int t = 0; t < 3; ++t) { quadratic_grad(first); opt1->step(); }
    auto saved = snapshot(opt1->state_dict());
    Tensor resumed = from_vector(first.to_vector<double>(), {4}).set_requires_grad(true);
    auto opt2 = build(resumed);
    opt2->load_state_dict(saved);
    CHECK(opt2->step_count() == 3);
    for (int t = 0; t < 3; ++t) { quadratic_grad(resumed); opt2->step(); }
    CHECK(resumed.to_vector<double>() == straight.to_vector<double>());
    CHECK(opt2->step_count() == opt->step_count());
  }
}

TEST_CASE("optim: load_state_dict copies the values in and never aliases the caller's tensors") {
  // Two optimizers loaded from one dict must not share (and advance) the same moments, the dict
  // must not follow their steps, and a non-contiguous value (a transposed view) must land in
  // the parameter's own layout.
  for (int kind = 0; kind < 2; ++kind) {
    CAPTURE(kind);
    auto build = [&](const Tensor& p) -> std::unique_ptr<optim::Optimizer> {
      if (kind == 0) return std::make_unique<optim::Adam>(std::vector<Tensor>{p}, 0.1);
      return std::make_unique<optim::SGD>(std::vector<Tensor>{p}, 0.1, 0.9);
    };
    const std::vector<double> start{3.0, -2.0, 0.5, 8.0, 1.0, -4.0};
    Tensor p0 = from_vector(start, {2, 3}).set_requires_grad(true);
    auto opt0 = build(p0);
    for (int t = 0; t < 2; ++t) { quadratic_grad(p0); opt0->step(); }
    const auto saved = snapshot(opt0->state_dict());
    const auto pristine = snapshot(saved);

    Tensor pa = from_vector(p0.to_vector<double>(), {2, 3}).set_requires_grad(true);
    Tensor pb = from_vector(p0.to_vector<double>(), {2, 3}).set_requires_grad(true);
    auto opta = build(pa), optb = build(pb);
    opta->load_state_dict(saved);
    optb->load_state_dict(saved);
    for (int t = 0; t < 2; ++t) { quadratic_grad(pa); opta->step(); }
    for (int t = 0; t < 2; ++t) { quadratic_grad(pb); optb->step(); }
    for (int t = 0; t < 2; ++t) { quadratic_grad(p0); opt0->step(); }
    CHECK(pa.to_vector<double>() == p0.to_vector<double>());
    CHECK(pb.to_vector<double>() == p0.to_vector<double>());
    for (const auto& [k, v] : pristine) CHECK(saved.at(k).to_vector<double>() == v.to_vector<double>());

    // Each state value handed in as the transpose of a (3, 2) tensor: same values, other strides.
    std::map<std::string, Tensor> strided;
    for (const auto& [k, v] : pristine) {
      if (k == "step") { strided[k] = v; continue; }
      std::vector<double> vals = v.to_vector<double>(), tv(6);
      for (long i = 0; i < 2; ++i)
        for (long j = 0; j < 3; ++j) tv[size_t(j * 2 + i)] = vals[size_t(i * 3 + j)];
      strided[k] = from_vector(tv, {3, 2}).transpose(0, 1);
      REQUIRE_FALSE(strided[k].is_contiguous());
    }
    Tensor pc = from_vector(pa.to_vector<double>(), {2, 3}).set_requires_grad(true);
    Tensor pd = from_vector(pa.to_vector<double>(), {2, 3}).set_requires_grad(true);
    auto optc = build(pc), optd = build(pd);
    optc->load_state_dict(strided);
    optd->load_state_dict(pristine);
    for (int t = 0; t < 2; ++t) { quadratic_grad(pc); optc->step(); quadratic_grad(pd); optd->step(); }
    CHECK(pc.to_vector<double>() == pd.to_vector<double>());

    // And as a contiguous view that starts part-way into its storage (offset 3).
    std::map<std::string, Tensor> offset;
    for (const auto& [k, v] : pristine) {
      if (k == "step") { offset[k] = v; continue; }
      std::vector<double> vals{-7.0, -8.0, -9.0};
      for (double x : v.to_vector<double>()) vals.push_back(x);
      offset[k] = make_view(from_vector(vals, {3, 3}), {2, 3}, {3, 1}, 3);
      REQUIRE(offset[k].is_contiguous());
    }
    Tensor pe = from_vector(pa.to_vector<double>(), {2, 3}).set_requires_grad(true);
    auto opte = build(pe);
    opte->load_state_dict(offset);
    for (int t = 0; t < 2; ++t) { quadratic_grad(pe); opte->step(); }
    CHECK(pe.to_vector<double>() == pd.to_vector<double>());
  }
}

TEST_CASE("optim: load_state_dict validates every key first and names the bad one") {
  Tensor p = from_vector(std::vector<double>{1.0, 2.0}, {2}).set_requires_grad(true);
  Tensor q = from_vector(std::vector<double>{3.0}, {1}).set_requires_grad(true);
  optim::Adam opt({p, q}, 0.1);
  quadratic_grad(p);
  quadratic_grad(q);
  opt.step();
  const auto good = snapshot(opt.state_dict());
  auto with = [&](const std::string& key, Tensor value) {
    auto s = snapshot(good);
    if (value.defined()) s[key] = value;
    else s.erase(key);
    return s;
  };
  auto before = snapshot(opt.state_dict());
  CHECK_THROWS_WITH_AS(opt.load_state_dict(with("step", Tensor())), doctest::Contains("'step'"), Error);
  CHECK_THROWS_WITH_AS(opt.load_state_dict(with("state.1.exp_avg_sq", Tensor())),
                       doctest::Contains("state.1.exp_avg_sq"), Error);
  CHECK_THROWS_WITH_AS(opt.load_state_dict(with("state.0.exp_avg", zeros({3}, DType::Float64))),
                       doctest::Contains("state.0.exp_avg"), Error);
  CHECK_THROWS_WITH_AS(opt.load_state_dict(with("state.0.exp_avg", zeros({2}))), doctest::Contains("float32"), Error);
  CHECK_THROWS_WITH_AS(opt.load_state_dict(with("state.5.exp_avg", zeros({2}, DType::Float64))),
                       doctest::Contains("state.5.exp_avg"), Error);
  CHECK_THROWS_WITH_AS(opt.load_state_dict(with("state.0.momentum_buffer", zeros({2}, DType::Float64))),
                       doctest::Contains("state.0.momentum_buffer"), Error);
  CHECK_THROWS_WITH_AS(opt.load_state_dict(with("lr", scalar(0.1))), doctest::Contains("'lr'"), Error);
  CHECK_THROWS_AS(opt.load_state_dict(with("step", scalar(-1, DType::Int64))), Error);
  // Out of int64's range: refused by name, not converted (undefined behaviour).
  for (double bad : {1e300, 9223372036854775808.0, std::numeric_limits<double>::infinity(), 2.5})
    CHECK_THROWS_WITH_AS(opt.load_state_dict(with("step", scalar(bad, DType::Float64))), doctest::Contains("'step'"),
                         Error);
  // Every failure above left the state exactly as it was.
  auto after = opt.state_dict();
  REQUIRE(after.size() == before.size());
  for (const auto& [k, v] : before) CHECK(after.at(k).to_vector<double>() == v.to_vector<double>());
  CHECK(opt.step_count() == 1);
  // A state dict with no per-parameter entries is valid: every parameter starts fresh.
  opt.load_state_dict({{"step", scalar(0, DType::Int64)}});
  CHECK(opt.step_count() == 0);
  CHECK(opt.state_dict().size() == 1);
}

TEST_CASE("optim: clip_grad_norm_ returns the global norm and rescales only above max_norm") {
  Tensor a = zeros({2}).set_requires_grad(true), b = zeros({1}, DType::Float64).set_requires_grad(true);
  Tensor c = zeros({3}).set_requires_grad(true);  // no gradient: skipped
  a.set_grad(from_vector(std::vector<float>{3, 4}, {2}));
  b.set_grad(from_vector(std::vector<double>{12}, {1}));
  CHECK(optim::clip_grad_norm_({a, b, c}, 100.0) == doctest::Approx(13.0).epsilon(1e-15));
  CHECK(a.grad().to_vector<float>() == std::vector<float>{3, 4});  // under the limit: untouched
  double total = optim::clip_grad_norm_({a, b, c}, 1.0);
  CHECK(total == doctest::Approx(13.0));
  double scale = 1.0 / (13.0 + 1e-6);
  CHECK(a.grad().to_vector<float>()[1] == doctest::Approx(4 * scale).epsilon(1e-6));
  CHECK(b.grad().to_vector<double>()[0] == doctest::Approx(12 * scale).epsilon(1e-14));
  CHECK(optim::clip_grad_norm_({a, b}, 1.0) == doctest::Approx(13.0 * scale).epsilon(1e-6));  // a is float32
  CHECK_FALSE(c.grad().defined());
  CHECK_THROWS_WITH_AS(optim::clip_grad_norm_({a}, 0.0), doctest::Contains("[clip_grad_norm_]"), Error);
}

TEST_CASE("optim: clip_grad_norm_ leaves gradients alone when the norm is inf or NaN") {
  // The header promises that a non-finite total scales nothing: an inf gradient must not turn
  // the finite ones into zeros and itself into NaN (max_norm / inf = 0, and inf * 0 = NaN).
  for (double bad : {double(INFINITY), double(NAN)}) {
    CAPTURE(bad);
    Tensor a = zeros({3}, DType::Float64).set_requires_grad(true);
    Tensor b = zeros({2}).set_requires_grad(true);
    a.set_grad(from_vector(std::vector<double>{1.0, bad, 2.0}, {3}));
    b.set_grad(from_vector(std::vector<float>{3, 4}, {2}));
    double total = optim::clip_grad_norm_({a, b}, 1.0);
    CHECK_FALSE(std::isfinite(total));
    std::vector<double> ga = a.grad().to_vector<double>();
    CHECK(ga[0] == 1.0);
    CHECK(ga[2] == 2.0);
    CHECK((std::isnan(bad) ? std::isnan(ga[1]) : ga[1] == bad));
    CHECK(b.grad().to_vector<float>() == std::vector<float>{3, 4});
  }
}

TEST_CASE("optim: clip_grad_norm_ gives the same bits at 1 and 2 threads") {
  const int previous = get_num_threads();
  Generator g(3);
  Tensor p = zeros({200003}).set_requires_grad(true);
  Tensor grad = randn({200003}, DType::Float32, g);
  std::vector<double> norms;
  std::vector<std::vector<float>> clipped;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    p.set_grad(copy_of(grad));
    norms.push_back(optim::clip_grad_norm_({p}, 0.5));
    clipped.push_back(p.grad().to_vector<float>());
  }
  set_num_threads(previous);
  CHECK(norms[0] == norms[1]);
  CHECK(clipped[0] == clipped[1]);
  double reference = 0;  // plain sequential sum: the chunked order must agree closely
  for (float v : grad.to_vector<float>()) reference += double(v) * double(v);
  CHECK(norms[0] == doctest::Approx(std::sqrt(reference)).epsilon(1e-12));
}

TEST_CASE("optim: learning-rate schedules") {
  optim::ConstantLR constant(3e-4);
  CHECK(constant.lr_at(0) == 3e-4);
  CHECK(constant.lr_at(123456) == 3e-4);

  optim::WarmupCosine schedule(1.0, /*warmup_steps=*/4, /*total_steps=*/14, /*min_lr_ratio=*/0.1);
  CHECK(schedule.lr_at(0) == doctest::Approx(0.25));
  CHECK(schedule.lr_at(3) == doctest::Approx(1.0));
  CHECK(schedule.lr_at(4) == doctest::Approx(1.0));
  CHECK(schedule.lr_at(9) == doctest::Approx(0.1 + 0.9 * 0.5));  // halfway through the cosine
  // Every step by its formula: the warmup ramp between its ends, and the cosine off its
  // midpoint (where a linear decay would give the same value).
  CHECK(schedule.lr_at(1) == doctest::Approx(0.5));
  CHECK(schedule.lr_at(2) == doctest::Approx(0.75));
  for (int64_t s = 4; s <= 14; ++s) {
    CAPTURE(s);
    const double progress = double(s - 4) / 10.0;
    CHECK(schedule.lr_at(s) == doctest::Approx(0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * progress))).epsilon(1e-12));
  }
  CHECK(schedule.lr_at(14) == doctest::Approx(0.1));
  CHECK(schedule.lr_at(1000) == doctest::Approx(0.1));
  for (int64_t s = 4; s < 14; ++s) CHECK(schedule.lr_at(s + 1) <= schedule.lr_at(s));

  Tensor p = zeros({1}).set_requires_grad(true);
  optim::SGD opt({p}, 0.0);
  optim::WarmupCosine(2e-3, 0, 10).apply(opt, 0);
  CHECK(opt.lr() == doctest::Approx(2e-3));
  CHECK_THROWS_WITH_AS(optim::WarmupCosine(1.0, 10, 10), doctest::Contains("[WarmupCosine]"), Error);
  CHECK_THROWS_AS(optim::WarmupCosine(1.0, 0, 10, 1.5), Error);
  CHECK_THROWS_AS(optim::ConstantLR(-1.0), Error);
  CHECK_THROWS_AS(schedule.lr_at(-1), Error);
}

// examples/quickstart/main.cpp, as a test: a Linear layer learns y = sum(x).
TEST_CASE("optim: the README quick example reaches a loss below 1e-3") {
  manual_seed(0);
  nn::Linear layer(4, 1);
  optim::Adam opt(layer.parameters(), /*lr=*/1e-2);
  Tensor x = randn({64, 4});
  Tensor y = sum(x, /*dim=*/1, /*keepdim=*/true);
  for (int step = 0; step < 500; ++step) {
    Tensor loss = mse_loss(layer(x), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  double final_loss = mse_loss(layer(x), y).item();
  CHECK(final_loss < 1e-3);
  CHECK(opt.step_count() == 500);
}
