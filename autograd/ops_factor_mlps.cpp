#include "autograd/ops_factor_mlps.h"

#include <cstring>

#include "autograd/node.h"
#include "autograd/ops_shape.h"
#include "kernels/fmlp.h"

namespace pmx {

namespace {

// The op's inputs in record order: {x, w1_0..w1_{M-1}, b1_*, w2_*, b2_*}, made contiguous, plus
// the weights packed side by side as the kernels want them (M small copies per call).
struct FmlpInputs {
  std::vector<Tensor> all;
  Tensor w1, b1, w2, b2;  // (M, h, d), (M, h), (M, K, h), (M, K)
  kernels::FmlpSizes s;
};

std::string shape_or_undefined(const Tensor& t) { return t.defined() ? shape_str(t.shape()) : "undefined"; }

// (count, shape...) = the tensors all[first .. first + count) one after the other.
Tensor pack(const std::vector<Tensor>& all, size_t first, int64_t count, const Shape& each) {
  Shape shape{count};
  shape.insert(shape.end(), each.begin(), each.end());
  Tensor out = empty(shape, all[0].dtype());
  size_t bytes = size_t(numel(each)) * dtype_size(out.dtype());
  char* dst = static_cast<char*>(out.storage()->data());
  for (int64_t m = 0; m < count; ++m) {
    const Tensor& t = all[first + size_t(m)];
    std::memcpy(dst + size_t(m) * bytes, static_cast<const char*>(t.storage()->data()) + t.offset() * dtype_size(t.dtype()),
                bytes);
  }
  return out;
}

FmlpInputs checked_inputs(const Tensor& x, const std::vector<Tensor>& w1, const std::vector<Tensor>& b1,
                          const std::vector<Tensor>& w2, const std::vector<Tensor>& b2) {
  PMX_CHECK(x.defined() && x.dim() == 2, "[factor_mlps] x must be (R, d), got ", shape_or_undefined(x));
  PMX_CHECK(is_floating(x.dtype()), "[factor_mlps] expected a floating x, got ", dtype_name(x.dtype()));
  PMX_CHECK(!w1.empty(), "[factor_mlps] needs at least one factor (w1 is empty)");
  const int64_t M = int64_t(w1.size());
  PMX_CHECK(int64_t(b1.size()) == M && int64_t(w2.size()) == M && int64_t(b2.size()) == M, "[factor_mlps] got ", M,
            " w1, ", b1.size(), " b1, ", w2.size(), " w2, ", b2.size(), " b2: need one of each per factor");
  PMX_CHECK(w1[0].defined() && w1[0].dim() == 2 && w1[0].size(1) == x.size(1), "[factor_mlps] w1[0] must be (h, ",
            x.size(1), ") for x ", shape_str(x.shape()), ", got ", shape_or_undefined(w1[0]));
  PMX_CHECK(w2[0].defined() && w2[0].dim() == 2, "[factor_mlps] w2[0] must be (K, h), got ", shape_or_undefined(w2[0]));
  const int64_t R = x.size(0), d = x.size(1), h = w1[0].size(0), K = w2[0].size(0);
  const DType dt = x.dtype();
  auto check = [&](const Tensor& t, const char* name, int64_t m, const Shape& want) {
    PMX_CHECK(t.defined() && t.shape() == want, "[factor_mlps] ", name, "[", m, "] must be ", shape_str(want), ", got ",
              shape_or_undefined(t), " (x ", shape_str(x.shape()), ", w1[0] ", shape_str(w1[0].shape()), ", w2[0] ",
              shape_str(w2[0].shape()), ")");
    PMX_CHECK(t.dtype() == dt, "[factor_mlps] ", name, "[", m, "] is ", dtype_name(t.dtype()), " but x is ",
              dtype_name(dt));
  };
  FmlpInputs in;
  in.all.push_back(contiguous(x));
  for (int64_t m = 0; m < M; ++m) check(w1[m], "w1", m, {h, d}), in.all.push_back(contiguous(w1[m]));
  for (int64_t m = 0; m < M; ++m) check(b1[m], "b1", m, {h}), in.all.push_back(contiguous(b1[m]));
  for (int64_t m = 0; m < M; ++m) check(w2[m], "w2", m, {K, h}), in.all.push_back(contiguous(w2[m]));
  for (int64_t m = 0; m < M; ++m) check(b2[m], "b2", m, {K}), in.all.push_back(contiguous(b2[m]));
  in.s = kernels::FmlpSizes{long(R), long(d), long(h), long(K), long(M)};
  in.w1 = pack(in.all, 1, M, {h, d});
  in.b1 = pack(in.all, 1 + M, M, {h});
  in.w2 = pack(in.all, 1 + 2 * M, M, {K, h});
  in.b2 = pack(in.all, 1 + 3 * M, M, {K});
  return in;
}

Tensor fmlp_forward(const FmlpInputs& in) {
  const kernels::FmlpSizes& s = in.s;
  Tensor out = empty({s.M, s.R, s.K}, in.all[0].dtype());
  Tensor ws = empty({kernels::fmlp_forward_workspace(s)}, out.dtype());
  PMX_DISPATCH_FLOATING(out.dtype(), "factor_mlps", [&] {
    kernels::fmlp_forward(out.data<scalar_t>(), in.all[0].data<scalar_t>(), in.w1.data<scalar_t>(),
                          in.b1.data<scalar_t>(), in.w2.data<scalar_t>(), in.b2.data<scalar_t>(),
                          ws.data<scalar_t>(), s);
  });
  return out;
}

// One gradient per input of in.all (undefined where not needed) from the gradient of each
// factor's (R, K) output: d_outs[m], contiguous, or undefined where it is zero. The parameter
// gradients are views of four packed buffers.
std::vector<Tensor> fmlp_backward(const FmlpInputs& in, const std::vector<Tensor>& d_outs) {
  const kernels::FmlpSizes& s = in.s;
  const DType dt = in.all[0].dtype();
  std::vector<Tensor> grads(in.all.size());
  bool need_params = false;
  for (size_t i = 1; i < in.all.size(); ++i) need_params = need_params || in.all[i].requires_grad();
  Tensor d_x = in.all[0].requires_grad() ? empty({s.R, s.d}, dt) : Tensor();
  if (!d_x.defined() && !need_params) return grads;
  Tensor g_w1, g_b1, g_w2, g_b2;
  if (need_params) {
    g_w1 = empty(in.w1.shape(), dt), g_b1 = empty(in.b1.shape(), dt);
    g_w2 = empty(in.w2.shape(), dt), g_b2 = empty(in.b2.shape(), dt);
  }
  Tensor ws = empty({kernels::fmlp_backward_workspace(s)}, dt);
  PMX_DISPATCH_FLOATING(dt, "factor_mlps", [&] {
    auto ptr = [](const Tensor& t) { return t.defined() ? t.data<scalar_t>() : nullptr; };
    std::vector<const scalar_t*> dy(d_outs.size());
    for (size_t m = 0; m < d_outs.size(); ++m) dy[m] = ptr(d_outs[m]);
    kernels::fmlp_backward(ptr(d_x), ptr(g_w1), ptr(g_b1), ptr(g_w2), ptr(g_b2), dy.data(),
                           in.all[0].data<scalar_t>(), in.w1.data<scalar_t>(), in.b1.data<scalar_t>(),
                           in.w2.data<scalar_t>(), ws.data<scalar_t>(), s);
  });
  grads[0] = d_x;
  if (!need_params) return grads;
  const int64_t M = s.M;
  const Tensor* packed[4] = {&g_w1, &g_b1, &g_w2, &g_b2};
  for (int group = 0; group < 4; ++group)
    for (int64_t m = 0; m < M; ++m) {
      size_t i = size_t(1 + group * M + m);
      if (!in.all[i].requires_grad()) continue;
      const Tensor& p = *packed[group];
      Shape each(p.shape().begin() + 1, p.shape().end());
      Shape strides(p.strides().begin() + 1, p.strides().end());
      grads[i] = make_view(p, each, strides, m * numel(each));
    }
  return grads;
}

// d_out (M, R, K) as M contiguous (R, K) views.
std::vector<Tensor> split_factors(const Tensor& d_out, const kernels::FmlpSizes& s) {
  Tensor all = contiguous_untracked(d_out);
  std::vector<Tensor> parts(size_t(s.M));
  for (int64_t m = 0; m < s.M; ++m)
    parts[size_t(m)] = make_view(all, {s.R, s.K}, {s.K, 1}, all.offset() + m * s.R * s.K);
  return parts;
}

}  // namespace

Tensor factor_mlps(const Tensor& x, const std::vector<Tensor>& w1, const std::vector<Tensor>& b1,
                   const std::vector<Tensor>& w2, const std::vector<Tensor>& b2) {
  auto in = std::make_shared<FmlpInputs>(checked_inputs(x, w1, b1, w2, b2));
  Tensor out = fmlp_forward(*in);
  return record("factor_mlps", out, in->all,
                [in](const Tensor& g) { return fmlp_backward(*in, split_factors(g, in->s)); });
}

std::vector<Tensor> factor_mlps_groups(const Tensor& x, const std::vector<Tensor>& w1,
                                       const std::vector<Tensor>& b1, const std::vector<Tensor>& w2,
                                       const std::vector<Tensor>& b2) {
  auto in = std::make_shared<FmlpInputs>(checked_inputs(x, w1, b1, w2, b2));
  const kernels::FmlpSizes s = in->s;
  Tensor out = fmlp_forward(*in);
  auto group_of = [&](const Tensor& t, int64_t m) {
    return make_view(t, {s.R, s.K}, {s.K, 1}, t.offset() + m * s.R * s.K);
  };
  std::vector<Tensor> groups(size_t(s.M));
  if (!grad_enabled() || !any_requires_grad(in->all)) {
    for (int64_t m = 0; m < s.M; ++m) groups[m] = group_of(out, m);
    return groups;
  }
  // M small nodes feed one shared node (a node has one output): each keeps its gradient (no
  // copy: the kernel reads the M gradients where they are); the shared node then runs with an
  // undefined gradient and passes them on, undefined for the groups nobody reached.
  auto d_outs = std::make_shared<std::vector<Tensor>>(size_t(s.M));
  Tensor all = record("factor_mlps", out, in->all, [in, d_outs](const Tensor&) {
    std::vector<Tensor> grads(d_outs->size());
    std::swap(grads, *d_outs);
    bool any = false;
    for (const Tensor& g : grads) any = any || g.defined();
    if (!any) return std::vector<Tensor>(in->all.size());
    return fmlp_backward(*in, grads);
  });
  for (int64_t m = 0; m < s.M; ++m)
    groups[m] = record("factor_mlps_group", group_of(all, m), {all}, [d_outs, m](const Tensor& g) {
      if (g.defined()) (*d_outs)[size_t(m)] = contiguous_untracked(g);
      return std::vector<Tensor>(1);
    });
  return groups;
}

}  // namespace pmx
