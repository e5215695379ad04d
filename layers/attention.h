// MultiheadSelfAttention: the dot-product attention baseline Paramixer is compared with
// (torch.nn.MultiheadAttention with batch_first = true, query = key = value = x, no mask).
//
// Math, per batch b and head h (d_head = dim / heads):
//   [Q | K | V] = x W_in^T + b_in                       x (B, N, d), W_in (3d, d), b_in (3d)
//   Q_h, K_h, V_h = columns [h*d_head, (h+1)*d_head) of Q, K, V      each (B, N, d_head)
//   A_h = Dropout(softmax(Q_h K_h^T / sqrt(d_head)))    (B, N, N), softmax over the last dim
//   O = [A_1 V_1 | ... | A_H V_H] W_out^T + b_out       (B, N, d)
// Parameters, in PyTorch's order and with its names: "in_proj_weight" (3d, d), "in_proj_bias"
// (3d), "out_proj.weight" (d, d), "out_proj.bias" (d). Init as PyTorch: in_proj_weight
// Xavier-uniform U(+-sqrt(6 / (d + 3d))), out_proj.weight U(+-1/sqrt(d)), both biases zero.
// Count: 4 d^2 + 4 d.
//
// Two paths with the same result. Fused (default, when no dropout is active): the packed
// projection goes to pmx::self_attention (autograd/ops_attention.h), which works in row blocks and
// keeps only each row's softmax max and 1/sum, (B, H, N, 2), for backward: O(B N d) memory, no
// (N, N) matrix. Composed (fused = false, or dropout > 0 in training): linear, views, batched
// matmul, softmax, dropout; the scores and the probabilities are (B, H, N, N) each and both are
// kept for backward (plus the dropped-out copy): at B = 16, H = 4, N = 4096 that is 4 GiB per
// tensor in float32.
// Either way the time is O(B N^2 d): the quadratic cost Paramixer avoids.
//
//   pmx::nn::MultiheadSelfAttention attn(/*dim=*/32, /*heads=*/4);
//   pmx::Tensor y = attn(pmx::randn({8, 100, 32}));   // (8, 100, 32)
//   attn.num_parameters();                            // 4 * 32 * 32 + 4 * 32 = 4224
#pragma once
#include <memory>

#include "layers/linear.h"
#include "layers/module.h"

namespace pmx::nn {

class MultiheadSelfAttention : public Module {
 public:
  // dim must be divisible by heads; dropout (on the attention probabilities) in [0, 1).
  MultiheadSelfAttention(int64_t dim, int64_t heads, double dropout = 0);
  std::string type_name() const override { return "MultiheadSelfAttention"; }
  // x (B, N, dim) -> (B, N, dim).
  Tensor forward(const Tensor& x) override;

  int64_t dim, heads, head_dim;
  double dropout;
  bool fused = true;  // false: always take the composed path (the reference the tests compare with)
  Tensor in_proj_weight;  // (3 dim, dim): rows [0, d) make Q, [d, 2d) K, [2d, 3d) V
  Tensor in_proj_bias;    // (3 dim)
  std::shared_ptr<Linear> out_proj;  // dim -> dim
};

}  // namespace pmx::nn
