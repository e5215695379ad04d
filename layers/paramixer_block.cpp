#include "layers/paramixer_block.h"

#include "autograd/checkpoint.h"
#include "autograd/node.h"
#include "autograd/ops_elementwise.h"
#include "autograd/ops_factor_mlps.h"
#include "autograd/ops_grouped_linear.h"
#include "autograd/ops_linalg.h"
#include "autograd/ops_mixing.h"
#include "autograd/ops_nn.h"
#include "autograd/ops_shape.h"
#include "layers/linear.h"

namespace pmx::nn {

ParamixerMLP::ParamixerMLP(int64_t in, int64_t hidden, int64_t out) {
  network = register_module("network", std::make_shared<MLP>(in, std::vector<int64_t>{hidden}, out, Activation::Gelu));
}

Linear& ParamixerMLP::first() const { return static_cast<Linear&>((*network)[0]); }
Linear& ParamixerMLP::second() const { return static_cast<Linear&>((*network)[2]); }

ParamixerBlock::ParamixerBlock(int64_t n_, int64_t dim_, int64_t hidden_, Protocol protocol_, bool floor_factors,
                               double p2_)
    : n(n_), dim(dim_), hidden(hidden_), protocol(protocol_), p2(p2_) {
  PMX_CHECK(n >= 2 && dim > 0 && hidden > 0, "[ParamixerBlock] need n >= 2, dim > 0, hidden > 0, got n = ", n,
            ", dim = ", dim, ", hidden = ", hidden);
  PMX_CHECK(p2 >= 0 && p2 < 1, "[ParamixerBlock] p2 must be in [0, 1), got ", p2);
  num_factors = kernels::num_factors(n, floor_factors);
  for (int64_t m = 0; m < num_factors; ++m)
    offsets.push_back(kernels::protocol_offsets(protocol, n, m, num_factors));
  links = int64_t(offsets[0].size());
  g = register_module("g", std::make_shared<ParamixerMLP>(dim, hidden, dim));
  // A plain Module as a list (torch.nn.ModuleList): children "0", "1", ... and no forward.
  auto fs_list = register_module("fs", std::make_shared<Module>());
  for (int64_t m = 0; m < num_factors; ++m)
    fs.push_back(fs_list->register_module(std::to_string(m), std::make_shared<ParamixerMLP>(dim, hidden, links)));
}

void ParamixerBlock::check_input(const Tensor& t, const char* what) const {
  PMX_CHECK(t.defined() && t.dim() == 3, "[ParamixerBlock] ", what, " must be (B, N, d), got ",
            t.defined() ? shape_str(t.shape()) : "undefined");
  PMX_CHECK(t.size(1) == n, "[ParamixerBlock] ", what, " ", shape_str(t.shape()), " has sequence length N = ",
            t.size(1), " but the block was built for n = ", n);
  PMX_CHECK(t.size(2) == dim, "[ParamixerBlock] ", what, " ", shape_str(t.shape()), " has d = ", t.size(2),
            " but the block was built for dim = ", dim);
  // Checked here so the message names the argument: the f- and g-MLPs would call either one "x".
  const DType params = g->first().weight.dtype();
  PMX_CHECK(t.dtype() == params, "[ParamixerBlock] ", what, " is ", dtype_name(t.dtype()),
            " but the block's parameters are ", dtype_name(params));
}

std::vector<Tensor> ParamixerBlock::factor_weights(const Tensor& x) {
  check_input(x, "x");
  int64_t B = x.size(0), M = num_factors, K = links;
  std::vector<Tensor> w(M);
  const bool chunked = fused_f && chunked_f;  // the row-chunked op: no hidden layer is kept
  if (recompute_f && !chunked && grad_enabled()) {
    // Per factor, so only one f_m's hidden layer exists at a time, in forward and in backward.
    for (int64_t m = 0; m < M; ++m)
      w[m] = checkpoint([f = fs[m]](const std::vector<Tensor>& in) { return (*f)(in[0]); }, {x});
    return w;
  }
  if (!fused_f) {
    for (int64_t m = 0; m < M; ++m) w[m] = (*fs[m])(x);
    return w;
  }
  std::vector<Tensor> w1, b1, w2, b2;
  for (const auto& f : fs) {
    w1.push_back(f->first().weight);
    b1.push_back(f->first().bias);
    w2.push_back(f->second().weight);
    b2.push_back(f->second().bias);
  }
  Tensor x2 = reshape(x, {B * n, dim});  // (R, d)
  if (chunked) {
    std::vector<Tensor> groups = factor_mlps_groups(x2, w1, b1, w2, b2);  // M x (R, K)
    for (int64_t m = 0; m < M; ++m) w[m] = reshape(groups[m], {B, n, K});
    return w;
  }
  // All f_m read the same X: their first layers run as ONE tall GEMM (d -> M*h) over
  // concatenated weights instead of M skinny ones, so X is read once and BLAS gets a wide N.
  // The concat of the small weight matrices is cheap, and its backward splits the gradient back.
  Tensor hid = gelu(linear(x2, concat(w1, 0), concat(b1, 0)));           // (R, M*h)
  // Second layers read their column block of hid in place (no slice copies), and hand back
  // M views whose gradients land in one shared buffer (see grouped_linear_groups).
  std::vector<Tensor> slabs = grouped_linear_groups(hid, w2, b2);        // M x (R, K)
  for (int64_t m = 0; m < M; ++m) w[m] = reshape(slabs[m], {B, n, K});
  return w;
}

Tensor ParamixerBlock::g_value(const Tensor& v_in) {
  if (!(fused_f && chunked_f)) return (*g)(v_in);
  // g has the f-MLPs' shape (d -> h -> d instead of d -> h -> K), so the same row-chunked op
  // runs it with M = 1: micro-kernels instead of skinny BLAS calls, and its (B*N, h) hidden
  // layer is recomputed in backward instead of kept.
  const int64_t B = v_in.size(0);
  Tensor rows = reshape(v_in, {B * n, dim});  // (R, d)
  Tensor out = factor_mlps_groups(rows, {g->first().weight}, {g->first().bias}, {g->second().weight},
                                  {g->second().bias})[0];  // (R, d)
  return reshape(out, {B, n, dim});
}

Tensor ParamixerBlock::forward(const Tensor& v_in, const Tensor& x) {
  check_input(v_in, "v_in");
  check_input(x, "x");
  PMX_CHECK(v_in.size(0) == x.size(0), "[ParamixerBlock] batch sizes differ: v_in ", shape_str(v_in.shape()),
            ", x ", shape_str(x.shape()));
  Tensor v = g_value(v_in);
  std::vector<Tensor> w = factor_weights(x);
  for (int64_t m = 0; m < num_factors; ++m) v = mix(v, w[m], offsets[m]);
  return p2 > 0 ? dropout(v, p2, is_training()) : v;
}

}  // namespace pmx::nn
