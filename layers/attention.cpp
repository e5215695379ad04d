#include "layers/attention.h"

#include <cmath>

#include "autograd/ops_attention.h"
#include "autograd/ops_elementwise.h"
#include "autograd/ops_linalg.h"
#include "autograd/ops_nn.h"
#include "autograd/ops_shape.h"
#include "core/random.h"

namespace pmx::nn {

MultiheadSelfAttention::MultiheadSelfAttention(int64_t dim_, int64_t heads_, double dropout_)
    : dim(dim_), heads(heads_), head_dim(heads_ > 0 ? dim_ / heads_ : 0), dropout(dropout_) {
  PMX_CHECK(dim > 0 && heads > 0, "[MultiheadSelfAttention] dim and heads must be positive, got dim = ",
            dim, ", heads = ", heads);
  PMX_CHECK(dim % heads == 0, "[MultiheadSelfAttention] dim = ", dim, " is not divisible by heads = ",
            heads);
  PMX_CHECK(dropout >= 0 && dropout < 1, "[MultiheadSelfAttention] dropout must be in [0, 1), got ",
            dropout);
  in_proj_weight = register_parameter("in_proj_weight", empty({3 * dim, dim}));
  // PyTorch initialises the packed projection as one Xavier-uniform matrix (fan_in d, fan_out 3d).
  double bound = std::sqrt(6.0 / double(dim + 3 * dim));
  uniform_(in_proj_weight, -bound, bound);
  in_proj_bias = register_parameter("in_proj_bias", zeros({3 * dim}));
  out_proj = register_module("out_proj", std::make_shared<Linear>(dim, dim));
  float* out_bias = out_proj->bias.data<float>();
  for (int64_t i = 0; i < dim; ++i) out_bias[i] = 0.f;
}

Tensor MultiheadSelfAttention::forward(const Tensor& x) {
  PMX_CHECK(x.dim() == 3 && x.size(2) == dim, "[MultiheadSelfAttention] expected input (B, N, ", dim,
            "), got ", shape_str(x.shape()));
  const int64_t B = x.size(0), N = x.size(1);
  Tensor qkv = linear(x, in_proj_weight, in_proj_bias);  // (B, N, 3d)
  if (fused && !(is_training() && dropout > 0)) return (*out_proj)(self_attention(qkv, heads));
  // (B, N, 3, H, dh) -> (3, B, H, N, dh): views only; the batched matmul reads the strided heads
  // in place (rows of one head are 3d apart, columns contiguous), so nothing is copied here.
  Tensor heads_view = permute(reshape(qkv, {B, N, 3, heads, head_dim}), {2, 0, 3, 1, 4});
  auto part = [&](int64_t i) { return squeeze(slice(heads_view, 0, i, i + 1), 0); };  // (B, H, N, dh)
  // Scaling Q (B, H, N, dh) is cheaper than scaling the (B, H, N, N) scores.
  Tensor q = mul(part(0), 1.0 / std::sqrt(double(head_dim)));
  Tensor k = part(1), v = part(2);
  Tensor scores = matmul(q, transpose(k, -2, -1));  // (B, H, N, N)
  Tensor probs = pmx::dropout(softmax(scores, -1), dropout, is_training());  // (B, H, N, N)
  Tensor context = matmul(probs, v);                 // (B, H, N, dh)
  // (B, H, N, dh) -> (B, N, H, dh) -> (B, N, d): heads side by side, as PyTorch concatenates them.
  Tensor merged = reshape(permute(context, {0, 2, 1, 3}), {B, N, dim});
  return (*out_proj)(merged);
}

}  // namespace pmx::nn
