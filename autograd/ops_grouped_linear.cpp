#include "autograd/ops_grouped_linear.h"

#include <cstring>

#include "autograd/node.h"
#include "autograd/ops_shape.h"
#include "kernels/bias.h"
#include "kernels/blas.h"

namespace pmx {

namespace {

struct GroupSizes {
  int64_t G, R, h, K;
};

// out: (G, R, K).  hidden: (R, G*h).  weights[m]: (K, h).  biases[m]: (K) or none.
template <class T>
void grouped_linear_forward(const Tensor& out, const Tensor& hidden, const std::vector<Tensor>& weights,
                            const std::vector<Tensor>& biases, GroupSizes s) {
  T* y = out.data<T>();
  const T* H = hidden.data<T>();
  for (int64_t m = 0; m < s.G; ++m) {
    T* y_m = y + m * s.R * s.K;  // (R, K)
    bool with_bias = !biases.empty();
    if (with_bias) kernels::fill_rows(y_m, biases[m].data<T>(), s.R, s.K);
    kernels::gemm(false, true, s.R, s.K, s.h, T(1), H + m * s.h, s.G * s.h, weights[m].data<T>(), s.h,
                  with_bias ? T(1) : T(0), y_m, s.K);
  }
}

// grads = {d_hidden (R, G*h), d_w_0..d_w_{G-1} (K, h), d_b_0..d_b_{G-1} (K)}, undefined when not needed.
// d_out: (G, R, K).
template <class T>
void grouped_linear_backward(std::vector<Tensor>& grads, const Tensor& d_out, const Tensor& hidden,
                             const std::vector<Tensor>& weights, GroupSizes s) {
  const T* dy = d_out.data<T>();
  const T* H = hidden.data<T>();
  for (int64_t m = 0; m < s.G; ++m) {
    const T* dy_m = dy + m * s.R * s.K;  // (R, K)
    if (grads[0].defined())  // dH[:, block m] (R, h) = dy_m (R, K) W_m (K, h)
      kernels::gemm(false, false, s.R, s.h, s.K, T(1), dy_m, s.K, weights[m].data<T>(), s.h, T(0),
                    grads[0].data<T>() + m * s.h, s.G * s.h);
    const Tensor& d_w = grads[1 + m];
    if (d_w.defined())  // dW_m (K, h) = dy_m^T (K, R) H[:, block m] (R, h)
      kernels::gemm(true, false, s.K, s.h, s.R, T(1), dy_m, s.K, H + m * s.h, s.G * s.h, T(0), d_w.data<T>(), s.h);
    if (size_t(1 + s.G + m) < grads.size() && grads[1 + s.G + m].defined())
      kernels::column_sum(grads[1 + s.G + m].data<T>(), dy_m, s.R, s.K);
  }
}

// Validates the arguments; returns {hidden, weights..., biases...} made contiguous.
std::vector<Tensor> checked_inputs(const Tensor& hidden_in, const std::vector<Tensor>& weights_in,
                                   const std::vector<Tensor>& biases_in, GroupSizes* sizes) {
  PMX_CHECK(!weights_in.empty(), "[grouped_linear] needs at least one weight");
  int64_t G = int64_t(weights_in.size());
  PMX_CHECK(weights_in[0].defined() && weights_in[0].dim() == 2, "[grouped_linear] weight 0 must be (K, h), got ",
            weights_in[0].defined() ? shape_str(weights_in[0].shape()) : "undefined");
  int64_t K = weights_in[0].size(0), h = weights_in[0].size(1);
  PMX_CHECK(hidden_in.dim() == 2 && hidden_in.size(1) == G * h, "[grouped_linear] hidden must be (R, G*h) = (R, ",
            G * h, ") for ", G, " weights of shape ", shape_str(weights_in[0].shape()), ", got ",
            shape_str(hidden_in.shape()));
  PMX_CHECK(biases_in.empty() || int64_t(biases_in.size()) == G, "[grouped_linear] got ", biases_in.size(),
            " biases for ", G, " weights (pass none or one per weight)");
  DType dt = hidden_in.dtype();
  std::vector<Tensor> inputs{contiguous(hidden_in)};
  for (int64_t m = 0; m < G; ++m) {
    const Tensor& w = weights_in[m];
    PMX_CHECK(w.defined() && w.dim() == 2 && w.size(0) == K && w.size(1) == h, "[grouped_linear] weight ", m,
              " must be (", K, ", ", h, ") like weight 0, got ", w.defined() ? shape_str(w.shape()) : "undefined");
    PMX_CHECK(w.dtype() == dt, "[grouped_linear] weight ", m, " is ", dtype_name(w.dtype()), " but hidden is ",
              dtype_name(dt));
    inputs.push_back(contiguous(w));
  }
  for (int64_t m = 0; m < int64_t(biases_in.size()); ++m) {
    const Tensor& b = biases_in[m];
    PMX_CHECK(b.defined() && b.dim() == 1 && b.size(0) == K, "[grouped_linear] bias ", m, " must be (", K,
              "), got ", b.defined() ? shape_str(b.shape()) : "undefined");
    PMX_CHECK(b.dtype() == dt, "[grouped_linear] bias ", m, " is ", dtype_name(b.dtype()), " but hidden is ",
              dtype_name(dt));
    inputs.push_back(contiguous(b));
  }
  *sizes = GroupSizes{G, hidden_in.size(0), h, K};
  return inputs;
}

// out (G, R, K) = the forward of every group, no autograd.
Tensor grouped_forward(const std::vector<Tensor>& inputs, GroupSizes s) {
  std::vector<Tensor> weights(inputs.begin() + 1, inputs.begin() + 1 + s.G);
  std::vector<Tensor> biases(inputs.begin() + 1 + s.G, inputs.end());
  Tensor out = empty({s.G, s.R, s.K}, inputs[0].dtype());
  PMX_DISPATCH_FLOATING(out.dtype(), "grouped_linear", [&] {
    grouped_linear_forward<scalar_t>(out, inputs[0], weights, biases, s);
  });
  return out;
}

// One gradient per input (undefined where not needed) from d_out (G, R, K).
std::vector<Tensor> grouped_backward(const std::vector<Tensor>& inputs, const Tensor& d_out, GroupSizes s) {
  std::vector<Tensor> grads(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].requires_grad()) grads[i] = empty(inputs[i].shape(), inputs[i].dtype());
  std::vector<Tensor> weights(inputs.begin() + 1, inputs.begin() + 1 + s.G);
  PMX_DISPATCH_FLOATING(d_out.dtype(), "grouped_linear", [&] {
    grouped_linear_backward<scalar_t>(grads, d_out, inputs[0], weights, s);
  });
  return grads;
}

// Gradients of the slabs of grouped_linear_groups, gathered until the shared node runs.
struct SlabGradients {
  Tensor d_out;               // (G, R, K), allocated by the first slab that gets a gradient
  std::vector<char> written;  // which slabs were written (the others are zero)
};

}  // namespace

Tensor grouped_linear(const Tensor& hidden, const std::vector<Tensor>& weights, const std::vector<Tensor>& biases) {
  GroupSizes s;
  std::vector<Tensor> inputs = checked_inputs(hidden, weights, biases, &s);
  Tensor out = grouped_forward(inputs, s);
  return record("grouped_linear", out, inputs,
                [inputs, s](const Tensor& g) { return grouped_backward(inputs, g, s); });
}

std::vector<Tensor> grouped_linear_groups(const Tensor& hidden, const std::vector<Tensor>& weights,
                                          const std::vector<Tensor>& biases) {
  GroupSizes s;
  std::vector<Tensor> inputs = checked_inputs(hidden, weights, biases, &s);
  Tensor out = grouped_forward(inputs, s);
  auto slab_of = [&](const Tensor& t, int64_t m) { return make_view(t, {s.R, s.K}, {s.K, 1}, t.offset() + m * s.R * s.K); };
  std::vector<Tensor> slabs(s.G);
  if (!grad_enabled() || !any_requires_grad(inputs)) {
    for (int64_t m = 0; m < s.G; ++m) slabs[m] = slab_of(out, m);
    return slabs;
  }
  // A node has one output, so the G slabs are G small nodes that feed one shared node. Each
  // slab copies its gradient into its block of one shared (G, R, K) buffer and passes nothing
  // on the edge; the engine then runs the shared node (with an undefined gradient), which reads
  // the buffer. Slicing would instead hand the engine G full-size, mostly-zero gradients to
  // allocate, clear and add.
  auto state = std::make_shared<SlabGradients>();
  state->written.assign(size_t(s.G), 0);
  Tensor all = record("grouped_linear", out, inputs, [inputs, s, state](const Tensor&) {
    Tensor d_out = std::move(state->d_out);
    std::vector<char> written(size_t(s.G), 0);
    std::swap(written, state->written);
    if (!d_out.defined()) return std::vector<Tensor>(inputs.size());
    size_t slab_bytes = size_t(s.R * s.K) * dtype_size(d_out.dtype());
    char* base = static_cast<char*>(d_out.storage()->data());
    for (int64_t m = 0; m < s.G; ++m)
      if (!written[m]) std::memset(base + m * slab_bytes, 0, slab_bytes);
    return grouped_backward(inputs, d_out, s);
  });
  for (int64_t m = 0; m < s.G; ++m)
    slabs[m] = record("grouped_linear_slab", slab_of(all, m), {all}, [state, s, m](const Tensor& g) {
      if (g.defined()) {
        if (!state->d_out.defined()) state->d_out = empty({s.G, s.R, s.K}, g.dtype());
        size_t slab_bytes = size_t(s.R * s.K) * dtype_size(g.dtype());
        std::memcpy(static_cast<char*>(state->d_out.storage()->data()) + m * slab_bytes,
                    static_cast<const char*>(g.storage()->data()) + g.offset() * dtype_size(g.dtype()), slab_bytes);
        state->written[m] = 1;
      }
      return std::vector<Tensor>(1);
    });
  return slabs;
}

}  // namespace pmx
