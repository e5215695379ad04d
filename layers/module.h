// Module: the base of every layer. Holds named parameters (trainable tensors), buffers
// (non-trainable state) and child modules, and walks them recursively, as torch.nn.Module does.
//
// Names are dotted paths in registration order, so they match PyTorch's: a parent that
// registers an MLP as "network" exposes "network.0.weight", "network.0.bias", "network.2.weight".
// A module's own parameters come before its children's; a tensor registered twice (shared
// weights) is listed once, under its first name.
//
// state_dict() maps every parameter and buffer name to a *view sharing storage* with the live
// tensor (detached, no copy): later training steps show through it, so serialise it right away
// or clone the values to keep a snapshot. load_state_dict() validates every key, shape and dtype
// before copying anything, so a failed load leaves the model untouched.
//
// Layers with one input define `Tensor forward(const Tensor&)`; `module(x)` calls it.
//
//   struct Net : pmx::nn::Module {
//     std::shared_ptr<pmx::nn::Linear> fc = register_module("fc", std::make_shared<pmx::nn::Linear>(4, 2));
//     pmx::Tensor forward(const pmx::Tensor& x) override { return (*fc)(x); }
//   };
//   Net net;  net.eval();  auto sd = net.state_dict();  net.load_state_dict(sd);
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace pmx::nn {

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  // Parameters are shared handles: a copied module would silently share weights with the
  // original, so copying is disabled (moving is fine).
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  Module(Module&&) = default;
  Module& operator=(Module&&) = default;

  // The layer's class name, used in error messages ("[Linear] ...").
  virtual std::string type_name() const { return "Module"; }

  // The single-input forward pass. Modules that take other inputs do not override it, and
  // calling it then throws.
  virtual Tensor forward(const Tensor& x);
  Tensor operator()(const Tensor& x) { return forward(x); }

  // ---- registration (names: non-empty, no '.', unique among this module's entries) ----
  // Marks `t` as requiring grad and returns it (the same handle).
  Tensor register_parameter(const std::string& name, Tensor t);
  Tensor register_buffer(const std::string& name, Tensor t);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> child) {
    add_child(name, child);
    return child;
  }

  // ---- recursive walks (registration order, own entries first) ----
  std::vector<Tensor> parameters() const;
  std::vector<std::pair<std::string, Tensor>> named_parameters() const;
  std::vector<std::pair<std::string, Tensor>> named_buffers() const;
  // Direct children only.
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const { return children_; }
  int64_t num_parameters() const;

  // Training mode (dropout active) or evaluation mode, set on this module and all descendants.
  Module& train(bool on = true);
  Module& eval() { return train(false); }
  bool is_training() const { return training_; }

  // Drops every parameter's gradient (undefined, as PyTorch's set_to_none=True).
  void zero_grad();

  // Converts every floating parameter and buffer to `dtype` in place: existing handles (a
  // layer's `weight` member, tensors from parameters()) see the new dtype, gradients are
  // dropped. Build optimizers after calling it. Used to run gradcheck on whole models in float64.
  Module& to(DType dtype);

  std::map<std::string, Tensor> state_dict() const;
  // strict: every expected key present and no unexpected key. Shapes and dtypes must match
  // either way. Throws pmx::Error naming the key; nothing is copied unless everything checks.
  void load_state_dict(const std::map<std::string, Tensor>& state, bool strict = true);

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> child);
  void check_new_name(const std::string& name, const char* what) const;
  // Calls visit(prefix + name, tensor) for every parameter (or buffer) in the tree.
  template <class Visit>
  void walk(const std::string& prefix, bool buffers, Visit&& visit) const;

  std::vector<std::pair<std::string, Tensor>> parameters_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

}  // namespace pmx::nn
