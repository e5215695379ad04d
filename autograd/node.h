// Node: one recorded op in the define-by-run graph.
//
// When an op runs with grad mode on and any input requires a gradient, it records a Node on
// its output: one Edge per input (where that input's gradient must go) and a backward
// function that maps the output's gradient to one gradient per input. The engine
// (engine.cpp) walks Nodes in reverse topological order. Inputs that need no gradient get an
// undefined Tensor, and backward functions skip computing it (`needs_grad(i)`).
//
// Saved tensors live in the backward closure. Save an op's own *output* through detach(): the
// output owns the Node, so capturing it directly would make a reference cycle.
//
//   Tensor out = record("exp", result, {x}, [x, y = result.detach()](const Tensor& g) {
//     return std::vector<Tensor>{mul(g, y)};
//   });
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace pmx {

using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

struct Edge {
  std::shared_ptr<Node> node;         // the input was produced by this op, or
  std::shared_ptr<TensorImpl> leaf;   // the input is a leaf whose .grad accumulates
  bool needs_grad() const { return node || leaf; }
};

struct Node {
  const char* name = "";
  std::vector<Edge> edges;   // one per input, in the op's argument order
  BackwardFn backward;       // released (set empty) after use unless retain_graph
  Shape output_shape;
  DType output_dtype = DType::Float32;
  bool needs_grad(size_t input) const { return input < edges.size() && edges[input].needs_grad(); }
  // Releases upstream nodes iteratively: a 100,000-op chain would otherwise be freed by
  // 100,000 nested destructor calls and overflow the stack.
  ~Node();
};

// Grad mode: on by default; NoGradGuard turns recording off in its scope, GradModeGuard sets
// it either way (used to re-run a forward inside a backward). Thread-local.
bool grad_enabled();
class GradModeGuard {
 public:
  explicit GradModeGuard(bool enabled);
  ~GradModeGuard();
  GradModeGuard(const GradModeGuard&) = delete;
  GradModeGuard& operator=(const GradModeGuard&) = delete;

 private:
  bool previous_;
};
class NoGradGuard : public GradModeGuard {
 public:
  NoGradGuard() : GradModeGuard(false) {}
};

// Attaches a Node named `name` to `output` if grad mode is on and some input requires grad;
// returns `output` (now requiring grad) either way. `backward` receives the output's gradient
// (same shape and dtype as output, contiguous) and returns one entry per input.
// With `always` the node is recorded whenever grad mode is on, even if no input requires grad
// (for ops whose backward reaches parameters that are not inputs, like checkpoint()).
Tensor record(const char* name, Tensor output, const std::vector<Tensor>& inputs, BackwardFn backward,
              bool always = false);

// True when some defined input requires a gradient (what record() checks before it records).
inline bool any_requires_grad(const std::vector<Tensor>& inputs) {
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

}  // namespace pmx
