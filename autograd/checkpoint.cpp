#include "autograd/checkpoint.h"

#include "autograd/node.h"
#include "core/random.h"

namespace pmx {

Tensor checkpoint(const CheckpointFn& fn, const std::vector<Tensor>& inputs) {
  if (!grad_enabled()) return fn(inputs);
  GeneratorState rng = default_generator().state();
  Tensor out;
  {
    NoGradGuard no_grad;
    // fn may hand back an input or a captured tensor as it is; record() below must not attach
    // the node to that tensor itself (it would stop being a leaf), so it gets a fresh view.
    out = fn(inputs).detach();
  }
  std::vector<Tensor> saved;
  for (const Tensor& t : inputs) saved.push_back(t.defined() ? t.detach() : t);
  std::vector<bool> needs;
  for (const Tensor& t : inputs) needs.push_back(t.defined() && t.requires_grad());
  return record("checkpoint", out, inputs, [fn, saved, needs, rng](const Tensor& g) {
    std::vector<Tensor> leaves;
    for (size_t i = 0; i < saved.size(); ++i) {
      Tensor leaf = saved[i].defined() ? saved[i].detach() : saved[i];
      if (needs[i]) leaf.set_requires_grad(true);
      leaves.push_back(leaf);
    }
    // Replay the forward's random draws, then put the generator back where it was.
    GeneratorState now = default_generator().state();
    default_generator().set_state(rng);
    Tensor again;
    {
      GradModeGuard recording(true);
      again = fn(leaves);
    }
    default_generator().set_state(now);
    if (again.requires_grad()) again.backward(g);
    std::vector<Tensor> grads;
    for (size_t i = 0; i < leaves.size(); ++i) {
      Tensor gi = needs[i] ? leaves[i].grad() : Tensor();
      // fn did not differentiate through this input: its gradient is zero. An undefined one would
      // make the engine run the producing op's backward on an undefined gradient.
      if (needs[i] && !gi.defined()) gi = zeros_like(leaves[i]);
      grads.push_back(gi);
    }
    return grads;
  }, /*always=*/true);
}

}  // namespace pmx
