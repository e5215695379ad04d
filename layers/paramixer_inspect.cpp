#include "layers/paramixer_inspect.h"

#include <utility>

#include "autograd/node.h"
#include "autograd/ops_elementwise.h"
#include "autograd/ops_shape.h"
#include "core/dtype.h"
#include "kernels/mixing.h"

namespace pmx::nn {

Tensor effective_interaction(ParamixerBlock& block, const Tensor& x) {
  PMX_CHECK(x.defined() && x.dim() == 3 && x.size(0) == 1 && x.size(1) == block.n && x.size(2) == block.dim,
            "[effective_interaction] x must be (1, ", block.n, ", ", block.dim, ") for this block, got ",
            x.defined() ? shape_str(x.shape()) : std::string("undefined"));
  const int64_t n = block.n;
  PMX_CHECK(n <= kMaxInteractionLen, "[effective_interaction] N = ", n, " is above ", kMaxInteractionLen,
            ": the dense (N, N) result would take ", n * n * int64_t(dtype_size(x.dtype())) / (1 << 20),
            " MiB, and is built twice");
  NoGradGuard no_grad;
  std::vector<Tensor> w = block.factor_weights(x);  // M x (1, N, K)
  for (Tensor& t : w) t = t.detach().contiguous();

  // Two (N, N) buffers, ping-ponged: the kernel's output must not alias its input.
  Tensor cur = zeros({n, n}, x.dtype());
  Tensor next = empty({n, n}, x.dtype());
  PMX_DISPATCH_FLOATING(x.dtype(), "effective_interaction", [&] {
    scalar_t* e = cur.data<scalar_t>();  // (N, N), starts as I
    for (int64_t i = 0; i < n; ++i) e[i * n + i] = scalar_t(1);
    for (size_t m = 0; m < w.size(); ++m) {
      const std::vector<long>& o = block.offsets[m];
      // V = I with d = N: row i of (I + W_m) E is E[i,:] + sum_k W_m[i,k] E[(i+o_k) mod N,:].
      kernels::mix_forward(next.data<scalar_t>(), cur.data<scalar_t>(), w[m].data<scalar_t>(), o.data(),
                           long(o.size()), 1L, long(n), long(n));
      std::swap(cur, next);
    }
  });
  return cur;
}

Tensor embedded_input(ParamixerModel& model, const Tensor& input) {
  NoGradGuard no_grad;
  return model.embed(input).detach();
}

Tensor block_weights_input(ParamixerModel& model, const Tensor& input, int64_t block) {
  PMX_CHECK(block >= 0 && block < int64_t(model.blocks.size()), "[block_weights_input] block ", block,
            " is not in [0, ", model.blocks.size(), ")");
  NoGradGuard no_grad;
  Tensor x = model.embed(input);
  // Eval mode for the blocks before `block` (no p2 dropout). Every module's own flag is put back
  // on every way out, in tree order, so a sub-module whose mode differed from its parent's keeps
  // it (train() sets a whole subtree).
  struct ModeGuard {
    std::vector<std::pair<Module*, bool>> modes;
    void collect(Module& m) {
      modes.emplace_back(&m, m.is_training());
      for (const auto& child : m.named_children()) collect(*child.second);
    }
    ~ModeGuard() {
      for (auto& [m, was] : modes) m->train(was);
    }
  } guard;
  guard.collect(model);
  model.eval();
  Tensor v = x;
  for (int64_t l = 0; l < block; ++l) v = model.blocks[size_t(l)]->forward(v, model.mixing_weights_input(v, x));
  return model.mixing_weights_input(v, x).detach();
}

}  // namespace pmx::nn
