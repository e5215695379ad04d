// Optimizer: the base of SGD, Adam and AdamW. Holds the parameter list, the learning rate, one
// step counter and per-parameter state tensors (Adam's moments, SGD's momentum buffer).
//
// zero_grad() makes every gradient undefined (PyTorch's set_to_none=True): the next backward
// then adopts its freshly computed buffer without a copy. step() skips parameters whose gradient
// is undefined. step_count() advances exactly once per step(), however many parameters there are
// (Adam's bias correction uses it).
//
// state_dict() holds "step" (0-d int64) and "state.<i>.<name>" for parameter i (e.g.
// "state.3.exp_avg"), as views sharing storage with the live state: serialise or clone them right
// away. load_state_dict() checks every key, shape and dtype before touching anything and copies
// the values in (the optimizer never aliases the caller's tensors).
//
//   pmx::optim::Adam opt(model.parameters(), 1e-3);
//   opt.zero_grad();  loss.backward();  opt.step();
//   auto saved = opt.state_dict();      // write it to a checkpoint now
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace pmx::optim {

class Optimizer {
 public:
  Optimizer(std::vector<Tensor> params, double lr);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  virtual std::string type_name() const = 0;
  virtual void step() = 0;
  void zero_grad();

  double lr() const { return lr_; }
  void set_lr(double lr);
  int64_t step_count() const { return step_count_; }
  const std::vector<Tensor>& params() const { return params_; }

  virtual std::map<std::string, Tensor> state_dict() const;
  virtual void load_state_dict(const std::map<std::string, Tensor>& state);

 protected:
  // The names of the per-parameter state tensors, e.g. {"exp_avg", "exp_avg_sq"}. Each one has
  // its parameter's shape and dtype and is created (zeroed) the first time the parameter steps.
  virtual std::vector<std::string> state_names() const = 0;
  // The gradient of parameter i, dense and checked against the parameter, or undefined.
  Tensor gradient(size_t i) const;
  // State tensor k (state_names()[k]) of parameter i; undefined until first assigned.
  Tensor& state(size_t i, size_t k);

  std::vector<std::vector<Tensor>> state_;  // [parameter][state name], sized on demand
  std::vector<Tensor> params_;
  double lr_;
  int64_t step_count_ = 0;
};

}  // namespace pmx::optim
