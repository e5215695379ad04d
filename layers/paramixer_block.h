// ParamixerBlock: one Paramixer layer (Yu et al., CVPR 2022), as the official PyTorch code
// computes it (see /work/shared/docs/paramixer.md).
//
//   V = g(V_in)                          g   = Linear(d,h) -> GELU -> Linear(h,d), per position
//   for m = 0..M-1:
//     W_m = f_m(X)                       f_m = Linear(d,h) -> GELU -> Linear(h,K), per position
//     V   = (I + W_m) V                  V[b,i,:] += sum_k W_m[b,i,k] V[b,(i+o_k) mod N,:]
//   out = Dropout(p2)(V)
//
// Shapes: v_in, x, out (B, N, d); W_m (B, N, K). N is fixed at construction (it sets M and the
// offsets). Protocol CHORD: K = M + 1, offsets [0, 1, 2, 4, ..., 2^(M-1)] for every factor;
// CDIL: K = 9, factor m has offsets s*[0, 1, 2, 3, 4, -1, -2, -3, -4], s = 2^m.
// M = ceil(log2 N), or floor(log2 N) with floor_factors.
//
// Parameter names match the official model: "g.network.{0,2}.{weight,bias}" and
// "fs.{m}.network.{0,2}.{weight,bias}" (network.1 is the GELU). Init: PyTorch's Linear default.
//
// Three f-MLP paths give the same numbers: the row-chunked fused op (default), the earlier fused
// GEMM path (chunked_f = false) and the plain reference (fused_f = false, one MLP call per factor,
// kept to test the fused ones against).
//
//   pmx::nn::ParamixerBlock block(/*n=*/1024, /*dim=*/32, /*hidden=*/32);
//   pmx::Tensor x = embed(tokens);                 // (B, 1024, 32)
//   pmx::Tensor v = block.forward(x, x);           // first block: V_in = X
//   v = next_block.forward(v, x);                  // later blocks read the same X
#pragma once
#include <memory>
#include <vector>

#include "kernels/mixing.h"
#include "layers/mlp.h"
#include "layers/module.h"

namespace pmx::nn {

using Protocol = kernels::Protocol;

// The official code's MLP wrapper: a module whose only child is "network" (so names read
// "network.0.weight"). Forward runs the network.
class ParamixerMLP : public Module {
 public:
  ParamixerMLP(int64_t in, int64_t hidden, int64_t out);
  std::string type_name() const override { return "ParamixerMLP"; }
  Tensor forward(const Tensor& x) override { return network->forward(x); }
  Linear& first() const;   // network.0
  Linear& second() const;  // network.2

  std::shared_ptr<MLP> network;
};

class ParamixerBlock : public Module {
 public:
  ParamixerBlock(int64_t n, int64_t dim, int64_t hidden, Protocol protocol = Protocol::Chord,
                 bool floor_factors = false, double p2 = 0);
  std::string type_name() const override { return "ParamixerBlock"; }
  // v_in, x: (B, n, dim) of the parameters' dtype -> (B, n, dim). Throws pmx::Error on other shapes
  // or dtypes.
  Tensor forward(const Tensor& v_in, const Tensor& x);
  // The mixing weights of every factor, W_m = f_m(x): M tensors (B, n, K). Uses the path chosen
  // by fused_f. Exposed for tests and inspection.
  std::vector<Tensor> factor_weights(const Tensor& x);
  // g(v_in): (B, n, dim). On the default path (fused_f and chunked_f) through the same
  // row-chunked op as the f-MLPs (M = 1); otherwise the plain MLP.
  Tensor g_value(const Tensor& v_in);

  int64_t n, dim, hidden;
  Protocol protocol;
  int64_t num_factors;  // M
  int64_t links;        // K
  double p2;
  // true: all f_m as one op (default; see chunked_f); false: one plain MLP call per factor
  // (the reference the fused paths are tested against), and g as a plain MLP too.
  bool fused_f = true;
  // With fused_f: true runs factor_mlps (autograd/ops_factor_mlps.h): all M f-MLPs in row chunks
  // that stay in cache, with AVX2 micro-kernels, recomputing each chunk's hidden layer in
  // backward, so no (B*N, M*h) tensor exists (docs/PERFORMANCE.md has the numbers). false: the
  // earlier fused path, one (d -> M*h) GEMM + GELU + grouped_linear, whose (B*N, M*h) hidden
  // layer is 21 MB at B*N = 16K and leaves the cache. g runs through factor_mlps too (M = 1).
  bool chunked_f = true;
  // Where the f-MLPs' hidden layers would be kept for backward (fused_f false, or chunked_f
  // false), true runs each f_m under checkpoint() (autograd/checkpoint.h) instead: its
  // (B, N, h) hidden layer is recomputed in backward, one factor at a time. Saves about
  // 2 * M * B * N * h floats of activations for one more f-MLP forward per step. The default
  // path (fused_f and chunked_f) keeps no hidden layer in the first place, so there it changes
  // nothing: wrapping the M plain MLPs in checkpoint() would only make the step slower (3.9 s
  // against 1.0 at N = 32768, B = 16, two threads, with more live tensor bytes; see
  // bench/bench_paramixer_memory).
  bool recompute_f = false;
  std::vector<std::vector<long>> offsets;  // offsets[m]: the K slot offsets of factor m

  std::shared_ptr<ParamixerMLP> g;
  std::vector<std::shared_ptr<ParamixerMLP>> fs;

 private:
  void check_input(const Tensor& t, const char* what) const;
};

}  // namespace pmx::nn
