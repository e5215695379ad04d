// The reverse sweep: topological order by Kahn's algorithm (iterative, so deep graphs do not
// overflow the stack), gradients summed per node, leaf gradients accumulated into .grad.
#include <cstring>
#include <unordered_map>

#include "autograd/node.h"

namespace pmx {

static thread_local bool g_grad_enabled = true;
bool grad_enabled() { return g_grad_enabled; }
GradModeGuard::GradModeGuard(bool enabled) : previous_(g_grad_enabled) { g_grad_enabled = enabled; }
GradModeGuard::~GradModeGuard() { g_grad_enabled = previous_; }

// Members of dying nodes waiting to be released. While a node is being torn down, any node
// whose last reference drops parks its members here instead of releasing them recursively;
// the outermost destructor drains the queue in a loop.
struct PendingRelease {
  std::vector<Edge> edges;
  BackwardFn backward;
};
static thread_local std::vector<PendingRelease>* g_release_queue = nullptr;

Node::~Node() {
  PendingRelease mine{std::move(edges), std::move(backward)};
  if (g_release_queue) {
    g_release_queue->push_back(std::move(mine));
    return;
  }
  std::vector<PendingRelease> queue;
  g_release_queue = &queue;
  queue.push_back(std::move(mine));
  while (!queue.empty()) {
    PendingRelease item = std::move(queue.back());
    queue.pop_back();
    item.edges.clear();      // may destroy nodes, which enqueue their own members
    item.backward = nullptr;
  }
  g_release_queue = nullptr;
}

Tensor record(const char* name, Tensor output, const std::vector<Tensor>& inputs, BackwardFn backward,
              bool always) {
  if (!g_grad_enabled || !(always || any_requires_grad(inputs))) return output;
  auto node = std::make_shared<Node>();
  node->name = name;
  node->backward = std::move(backward);
  node->output_shape = output.shape();
  node->output_dtype = output.dtype();
  node->edges.resize(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& in = inputs[i];
    if (!in.defined() || !in.requires_grad()) continue;
    if (in.grad_fn()) node->edges[i].node = in.grad_fn();
    else node->edges[i].leaf = in.impl_ptr();
  }
  output.impl().grad_fn = std::move(node);
  output.impl().requires_grad = true;
  return output;
}

// ---- leaf-level helpers (no autograd) ----
static Tensor dense_copy(const Tensor& t) {
  Tensor out = empty(t.shape(), t.dtype());
  if (t.numel() == 0) return out;  // memcpy with a null pointer is undefined even for 0 bytes
  if (t.is_contiguous()) {
    std::memcpy(out.storage()->data(), static_cast<char*>(t.storage()->data()) + t.offset() * dtype_size(t.dtype()),
                size_t(t.numel()) * dtype_size(t.dtype()));
  } else {
    // Rare in the engine (gradients are produced contiguous); to_vector walks the strides.
    if (t.dtype() == DType::Float32) { auto v = t.to_vector<float>(); std::memcpy(out.data<float>(), v.data(), v.size() * 4); }
    else { auto v = t.to_vector<double>(); std::memcpy(out.data<double>(), v.data(), v.size() * 8); }
  }
  return out;
}

template <class T>
static void add_into(T* dst, const T* src, int64_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
}

// dst += src, both dense and of the same shape; dst is owned by the engine.
static void accumulate_into(Tensor& dst, const Tensor& src) {
  Tensor s = src.is_contiguous() ? src : dense_copy(src);
  if (dst.dtype() == DType::Float32) add_into(dst.data<float>(), s.data<float>(), dst.numel());
  else add_into(dst.data<double>(), s.data<double>(), dst.numel());
}

// leaf.grad += g. A gradient set with set_grad may be a strided view (even of another tensor),
// and accumulate_into writes dense rows: such a gradient is replaced by a dense sum instead.
static void accumulate_leaf(TensorImpl& leaf, const Tensor& g) {
  Tensor acc(leaf.grad);
  if (!acc.is_contiguous()) {
    acc = dense_copy(acc);
    leaf.grad = acc.impl_ptr();
  }
  accumulate_into(acc, g);
}

static void check_gradient(const Node& node, size_t input, const Tensor& g, const Shape& expected, DType dtype) {
  PMX_CHECK(g.shape() == expected && g.dtype() == dtype, "[backward] op '", node.name,
            "' produced a gradient of shape ", shape_str(g.shape()), " ", dtype_name(g.dtype()),
            " for input ", input, ", expected ", shape_str(expected), " ", dtype_name(dtype));
}

// Sole owner of a gradient buffer? Then the leaf may keep it without a copy.
static bool exclusively_owned(const Tensor& g) {
  return g.impl_ptr().use_count() == 1 && g.storage().use_count() == 1 && g.is_contiguous() && g.offset() == 0;
}

void Tensor::backward(const Tensor& grad_output, bool retain_graph) const {
  PMX_CHECK(requires_grad(), "[backward] tensor does not require grad (no parameter or input "
            "with requires_grad=true reached it, or it was computed under NoGradGuard)");
  Tensor seed = grad_output;
  if (!seed.defined()) {
    PMX_CHECK(numel() == 1, "[backward] called without a gradient on a tensor of shape ",
              shape_str(shape()), "; only one-element outputs get an implicit gradient of 1");
    seed = ones(shape(), dtype());
  }
  PMX_CHECK(seed.shape() == shape(), "[backward] gradient shape ", shape_str(seed.shape()),
            " does not match tensor shape ", shape_str(shape()));
  NoGradGuard no_grad;

  if (is_leaf()) {  // backward on a leaf: its gradient is the seed itself
    Tensor own = dense_copy(seed.to(dtype()));
    if (!impl().grad) impl().grad = own.impl_ptr();
    else accumulate_leaf(impl(), own);
    return;
  }

  // Count, for every reachable node, how many edges point at it.
  std::unordered_map<Node*, int> pending;
  std::vector<Node*> stack{grad_fn().get()};
  pending[grad_fn().get()] = 0;
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->edges) {
      if (!e.node) continue;
      auto [it, fresh] = pending.emplace(e.node.get(), 0);
      it->second++;
      if (fresh) stack.push_back(e.node.get());
    }
  }

  std::unordered_map<Node*, Tensor> grads;
  grads[grad_fn().get()] = seed.to(dtype()).contiguous();
  std::vector<Node*> ready{grad_fn().get()};
  while (!ready.empty()) {
    Node* node = ready.back();
    ready.pop_back();
    Tensor g = std::move(grads[node]);
    grads.erase(node);
    PMX_CHECK(node->backward, "[backward] the graph through op '", node->name, "' was already "
              "freed by an earlier backward(); pass retain_graph=true to the first call");
    std::vector<Tensor> input_grads = node->backward(g);
    g = Tensor();
    if (!retain_graph) node->backward = nullptr;
    PMX_CHECK(input_grads.size() == node->edges.size(), "[backward] op '", node->name, "' returned ",
              input_grads.size(), " gradients for ", node->edges.size(), " inputs");
    for (size_t i = 0; i < node->edges.size(); ++i) {
      const Edge& e = node->edges[i];
      Tensor& gi = input_grads[i];
      if (e.node) {
        if (gi.defined()) {
          check_gradient(*node, i, gi, e.node->output_shape, e.node->output_dtype);
          auto it = grads.find(e.node.get());
          if (it == grads.end()) grads.emplace(e.node.get(), gi.is_contiguous() ? gi : dense_copy(gi));
          else if (exclusively_owned(it->second)) accumulate_into(it->second, gi);
          else { Tensor sum = dense_copy(it->second); accumulate_into(sum, gi); it->second = sum; }
        }
        if (--pending[e.node.get()] == 0) ready.push_back(e.node.get());
      } else if (e.leaf && gi.defined()) {
        check_gradient(*node, i, gi, e.leaf->shape, e.leaf->dtype);
        if (!e.leaf->grad) {
          Tensor keep = exclusively_owned(gi) ? gi : dense_copy(gi);
          e.leaf->grad = keep.impl_ptr();
        } else {
          accumulate_leaf(*e.leaf, gi);
        }
      }
    }
  }
}

}  // namespace pmx
