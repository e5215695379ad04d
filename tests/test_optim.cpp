// Optimizer updates against their closed forms, computed here by hand in double.
#include <doctest/doctest.h>

#include <cmath>
#include <memory>

#include "core/random.h"
#include "core/threads.h"
#include "optim/adam.h"
#include "optim/sgd.h"

using namespace pmx;

namespace {

Tensor param(const std::vector<double>& values) {
  return from_vector(values, {int64_t(values.size())}).set_requires_grad(true);
}

// The gradient fed at step t (1-based) to element i: varied in sign and size across steps.
double grad_at(int t, size_t i) { return std::sin(1.3 * t + 0.7 * double(i)) * (1.0 + double(i)); }

void set_grads(Tensor p, int t) {
  std::vector<double> g(size_t(p.numel()));
  for (size_t i = 0; i < g.size(); ++i) g[i] = grad_at(t, i);
  p.set_grad(from_vector(g, p.shape()));
}

// Textbook Adam (Kingma & Ba) with L2 or decoupled decay, in double.
std::vector<double> adam_reference(std::vector<double> p, int steps, double lr, double b1, double b2, double eps,
                                   double wd, bool decoupled, int first_step = 1) {
  std::vector<double> m(p.size(), 0.0), v(p.size(), 0.0);
  for (int t = first_step; t < first_step + steps; ++t) {
    for (size_t i = 0; i < p.size(); ++i) {
      double g = grad_at(t - first_step + 1, i);
      if (decoupled) p[i] -= lr * wd * p[i];
      else g += wd * p[i];
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      double m_hat = m[i] / (1 - std::pow(b1, t)), v_hat = v[i] / (1 - std::pow(b2, t));
      p[i] -= lr * m_hat / (std::sqrt(v_hat) + eps);
    }
  }
  return p;
}

void check_close(const std::vector<double>& got, const std::vector<double>& expected, double tol) {
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(expected[i]).epsilon(tol));
}

}  // namespace

TEST_CASE("optim: Adam matches its closed form over several steps") {
  const std::vector<double> start{0.5, -1.0, 2.0, 0.0};
  for (double wd : {0.0, 0.1}) {
    CAPTURE(wd);
    Tensor p = param(start);
    optim::Adam opt({p}, 0.05, 0.8, 0.95, 1e-8, wd);
    for (int t = 1; t <= 5; ++t) {
      set_grads(p, t);
      opt.step();
    }
    CHECK(opt.step_count() == 5);
    check_close(p.to_vector<double>(), adam_reference(start, 5, 0.05, 0.8, 0.95, 1e-8, wd, false), 1e-12);
  }
}

TEST_CASE("optim: AdamW decays decoupled from the moments") {
  const std::vector<double> start{0.5, -1.0, 2.0};
  Tensor p = param(start);
  optim::AdamW opt({p}, 0.05, 0.9, 0.999, 1e-8, 0.2);
  CHECK(opt.type_name() == "AdamW");
  for (int t = 1; t <= 4; ++t) {
    set_grads(p, t);
    opt.step();
  }
  check_close(p.to_vector<double>(), adam_reference(start, 4, 0.05, 0.9, 0.999, 1e-8, 0.2, true), 1e-12);
  // Coupled L2 gives a different trajectory, so the test can tell them apart.
  std::vector<double> coupled = adam_reference(start, 4, 0.05, 0.9, 0.999, 1e-8, 0.2, false);
  CHECK(std::abs(coupled[2] - p.to_vector<double>()[2]) > 1e-6);
}

TEST_CASE("optim: Adam float32 tracks the float64 closed form") {
  const std::vector<double> start{0.25, -0.5, 1.5, 3.0, -2.0};
  Tensor p = from_vector(std::vector<float>(start.begin(), start.end()), {5}).set_requires_grad(true);
  optim::Adam opt({p}, 1e-2);
  for (int t = 1; t <= 3; ++t) {
    std::vector<float> g(5);
    for (size_t i = 0; i < 5; ++i) g[i] = float(grad_at(t, i));
    p.set_grad(from_vector(g, {5}));
    opt.step();
  }
  std::vector<double> expected = adam_reference(start, 3, 1e-2, 0.9, 0.999, 1e-8, 0, false);
  std::vector<float> got = p.to_vector<float>();
  for (size_t i = 0; i < 5; ++i) CHECK(got[i] == doctest::Approx(expected[i]).epsilon(1e-6));
}

TEST_CASE("optim: the step counter advances once per step, not once per parameter") {
  const std::vector<double> a0{1.0, 2.0}, b0{-3.0, 0.5, 4.0}, c0{7.0};
  Tensor a = param(a0), b = param(b0), c = param(c0);
  optim::Adam opt({a, b, c}, 0.1);
  for (int t = 1; t <= 3; ++t) {
    set_grads(a, t);
    set_grads(b, t);
    opt.step();  // c never has a gradient: skipped, untouched
  }
  CHECK(opt.step_count() == 3);
  // Each parameter sees bias corrections for t = 1, 2, 3; a per-tensor counter would give b t = 2, 4, 6.
  check_close(a.to_vector<double>(), adam_reference(a0, 3, 0.1, 0.9, 0.999, 1e-8, 0, false), 1e-12);
  check_close(b.to_vector<double>(), adam_reference(b0, 3, 0.1, 0.9, 0.999, 1e-8, 0, false), 1e-12);
  CHECK(c.to_vector<double>() == c0);
  auto state = opt.state_dict();
  CHECK(state.count("state.0.exp_avg") == 1);
  CHECK(state.count("state.1.exp_avg_sq") == 1);
  CHECK(state.count("state.2.exp_avg") == 0);
  CHECK(state.at("step").item() == 3);
}

TEST_CASE("optim: state_dict entries hold what their PyTorch names say") {
  // Adam: exp_avg is the first moment, exp_avg_sq the second (a checkpoint read by name, or
  // written for PyTorch, depends on it); SGD: momentum_buffer is PyTorch's buf.
  const std::vector<double> p0{1.0, -2.0, 0.5};
  Tensor p = param(p0);
  const double b1 = 0.8, b2 = 0.9;
  optim::Adam adam({p}, 0.01, b1, b2);
  std::vector<double> m(3, 0.0), v(3, 0.0);
  for (int t = 1; t <= 2; ++t) {
    set_grads(p, t);
    adam.step();
    for (size_t i = 0; i < 3; ++i) {
      m[i] = b1 * m[i] + (1 - b1) * grad_at(t, i);
      v[i] = b2 * v[i] + (1 - b2) * grad_at(t, i) * grad_at(t, i);
    }
  }
  auto state = adam.state_dict();
  check_close(state.at("state.0.exp_avg").to_vector<double>(), m, 1e-14);
  check_close(state.at("state.0.exp_avg_sq").to_vector<double>(), v, 1e-14);

  Tensor q = param(p0);
  optim::SGD sgd({q}, 0.01, 0.5);
  std::vector<double> buf(3);
  for (int t = 1; t <= 2; ++t) {
    set_grads(q, t);
    sgd.step();
    for (size_t i = 0; i < 3; ++i) buf[i] = t == 1 ? grad_at(t, i) : 0.5 * buf[i] + grad_at(t, i);
  }
  check_close(sgd.state_dict().at("state.0.momentum_buffer").to_vector<double>(), buf, 1e-14);
}

TEST_CASE("optim: a non-contiguous gradient updates each element by its own gradient") {
  // A gradient adopted as a view (here the transpose of a (3, 2) tensor) has strides the
  // parameter does not: the update must read it by index, not as dense memory.
  const std::vector<double> p0{1.0, -2.0, 0.5, 3.0, -1.5, 2.5};
  const std::vector<double> gt{0.3, -0.7, 1.1, 0.2, -0.4, 0.9};  // (3, 2) row-major
  std::vector<double> g(6);                                     // its transpose, (2, 3)
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) g[size_t(i * 3 + j)] = gt[size_t(j * 2 + i)];
  for (int kind = 0; kind < 2; ++kind) {
    CAPTURE(kind);
    Tensor p = from_vector(p0, {2, 3}).set_requires_grad(true);
    Tensor grad = from_vector(gt, {3, 2}).transpose(0, 1);
    REQUIRE_FALSE(grad.is_contiguous());
    p.set_grad(grad);
    std::vector<double> want(6);
    if (kind == 0) {
      optim::SGD opt({p}, 0.1);
      opt.step();
      for (size_t i = 0; i < 6; ++i) want[i] = p0[i] - 0.1 * g[i];
    } else {
      optim::Adam opt({p}, 0.1);
      opt.step();  // first step: m_hat = g, v_hat = g^2, so the step is lr g / (|g| + eps)
      for (size_t i = 0; i < 6; ++i) want[i] = p0[i] - 0.1 * g[i] / (std::fabs(g[i]) + 1e-8);
    }
    check_close(p.to_vector<double>(), want, 1e-12);
  }
}

TEST_CASE("optim: a parameter joining late uses the optimizer's step for bias correction") {
  const std::vector<double> a0{1.0}, b0{2.0};
  Tensor a = param(a0), b = param(b0);
  optim::Adam opt({a, b}, 0.1);
  set_grads(a, 1);
  opt.step();
  set_grads(b, 1);  // a has its old gradient; b first steps at t = 2
  set_grads(a, 2);
  opt.step();
  check_close(b.to_vector<double>(), adam_reference(b0, 1, 0.1, 0.9, 0.999, 1e-8, 0, false, /*first_step=*/2), 1e-12);
}

// torch.optim.SGD's recurrence (dampening 0), written out per element.
static std::vector<double> sgd_reference(std::vector<double> p, int steps, double lr, double momentum, double wd,
                                         bool nesterov) {
  std::vector<double> buf(p.size(), 0.0);
  for (int t = 1; t <= steps; ++t) {
    for (size_t i = 0; i < p.size(); ++i) {
      double g = grad_at(t, i) + wd * p[i];
      if (momentum != 0) {
        buf[i] = t == 1 ? g : momentum * buf[i] + g;
        g = nesterov ? g + momentum * buf[i] : buf[i];
      }
      p[i] -= lr * g;
    }
  }
  return p;
}

TEST_CASE("optim: SGD plain, momentum and Nesterov follow PyTorch's recurrence") {
  const std::vector<double> start{0.3, -0.7, 1.1};
  struct Config { double momentum, wd; bool nesterov; };
  for (Config c : {Config{0, 0, false}, Config{0, 0.1, false}, Config{0.9, 0, false}, Config{0.9, 0.05, true}}) {
    CAPTURE(c.momentum);
    CAPTURE(c.nesterov);
    Tensor p = param(start);
    optim::SGD opt({p}, 0.1, c.momentum, c.wd, c.nesterov);
    for (int t = 1; t <= 4; ++t) {
      set_grads(p, t);
      opt.step();
    }
    check_close(p.to_vector<double>(), sgd_reference(start, 4, 0.1, c.momentum, c.wd, c.nesterov), 1e-13);
    CHECK(opt.state_dict().count("state.0.momentum_buffer") == (c.momentum != 0 ? 1u : 0u));
  }
}

TEST_CASE("optim: zero_grad makes gradients undefined and step then skips them") {
  Tensor p = param({1.0, 2.0});
  optim::SGD opt({p}, 0.5);
  set_grads(p, 1);
  opt.zero_grad();
  CHECK_FALSE(p.grad().defined());
  opt.step();
  CHECK(p.to_vector<double>() == std::vector<double>{1.0, 2.0});
  opt.set_lr(0.25);
  CHECK(opt.lr() == 0.25);
}

TEST_CASE("optim: Adam and SGD updates are bit-identical at 1 and 2 threads") {
  const int previous = get_num_threads();
  const int64_t n = 100003;  // above the parallel threshold, odd so the split is uneven
  auto run = [&](int threads, bool adam) {
    set_num_threads(threads);
    Generator g(7);
    Tensor p = randn({n}, DType::Float32, g).set_requires_grad(true);
    std::unique_ptr<optim::Optimizer> opt;
    if (adam) opt = std::make_unique<optim::AdamW>(std::vector<Tensor>{p}, 1e-2);
    else opt = std::make_unique<optim::SGD>(std::vector<Tensor>{p}, 1e-2, 0.9, 1e-4, true);
    for (int t = 0; t < 3; ++t) {
      p.set_grad(randn({n}, DType::Float32, g));
      opt->step();
    }
    return p.to_vector<float>();
  };
  for (bool adam : {true, false}) {
    std::vector<float> one = run(1, adam), two = run(2, adam);
    CHECK(one == two);
  }
  set_num_threads(previous);
}

TEST_CASE("optim: invalid construction throws, naming the optimizer") {
  Tensor p = param({1.0});
  CHECK_THROWS_WITH_AS(optim::Adam({}, 1e-3), doctest::Contains("empty parameter list"), Error);
  CHECK_THROWS_WITH_AS(optim::Adam({p, p}, 1e-3), doctest::Contains("more than once"), Error);
  CHECK_THROWS_AS(optim::Adam({p}, -1.0), Error);
  CHECK_THROWS_WITH_AS(optim::Adam({p}, 1e-3, 1.0), doctest::Contains("[Adam] beta1"), Error);
  CHECK_THROWS_WITH_AS(optim::Adam({p}, 1e-3, 0.9, -0.1), doctest::Contains("[Adam] beta2"), Error);
  CHECK_THROWS_WITH_AS(optim::AdamW({p}, 1e-3, 0.9, 0.999, 1e-8, -1.0), doctest::Contains("[AdamW] weight_decay"), Error);
  CHECK_THROWS_WITH_AS(optim::SGD({p}, 0.1, 0.0, 0.0, true), doctest::Contains("[SGD] nesterov"), Error);
  CHECK_THROWS_AS(optim::SGD({p}, 0.1, -0.5), Error);
  CHECK_THROWS_AS(optim::SGD({zeros({2}, DType::Int64)}, 0.1), Error);
  CHECK_THROWS_AS(optim::SGD({Tensor()}, 0.1), Error);
  optim::SGD ok({p}, 0.1);
  CHECK_THROWS_WITH_AS(ok.set_lr(-1), doctest::Contains("[SGD]"), Error);
}
