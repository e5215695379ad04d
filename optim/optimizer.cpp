#include "optim/optimizer.h"

#include <cstdlib>
#include <cstring>
#include <set>

namespace pmx::optim {

Optimizer::Optimizer(std::vector<Tensor> params, double lr) : params_(std::move(params)), lr_(lr) {
  PMX_CHECK(!params_.empty(), "[optimizer] got an empty parameter list");
  PMX_CHECK(lr >= 0, "[optimizer] learning rate must be non-negative, got ", lr);
  std::set<const TensorImpl*> seen;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    PMX_CHECK(p.defined(), "[optimizer] parameter ", i, " is undefined");
    PMX_CHECK(is_floating(p.dtype()), "[optimizer] parameter ", i, " must be floating, got ",
              dtype_name(p.dtype()), " of shape ", shape_str(p.shape()));
    PMX_CHECK(p.is_contiguous(), "[optimizer] parameter ", i, " of shape ", shape_str(p.shape()),
              " is not contiguous (updates are fused passes over dense memory)");
    PMX_CHECK(seen.insert(p.impl_ptr().get()).second, "[optimizer] parameter ", i, " of shape ",
              shape_str(p.shape()), " appears more than once");
  }
  state_.resize(params_.size());
}

void Optimizer::set_lr(double lr) {
  PMX_CHECK(lr >= 0, "[", type_name(), "] learning rate must be non-negative, got ", lr);
  lr_ = lr;
}

void Optimizer::zero_grad() {
  for (const Tensor& p : params_) p.impl().grad.reset();
}

Tensor& Optimizer::state(size_t i, size_t k) {
  if (state_[i].size() <= k) state_[i].resize(k + 1);
  return state_[i][k];
}

Tensor Optimizer::gradient(size_t i) const {
  const Tensor& p = params_[i];
  if (!p.impl().grad) return Tensor();
  Tensor g(p.impl().grad);
  PMX_CHECK(g.shape() == p.shape() && g.dtype() == p.dtype(), "[", type_name(), "] gradient of parameter ", i,
            " is ", shape_str(g.shape()), " ", dtype_name(g.dtype()), ", parameter is ", shape_str(p.shape()),
            " ", dtype_name(p.dtype()));
  return g.is_contiguous() ? g : g.contiguous();
}

std::map<std::string, Tensor> Optimizer::state_dict() const {
  std::map<std::string, Tensor> out;
  out["step"] = scalar(double(step_count_), DType::Int64);
  std::vector<std::string> names = state_names();
  for (size_t i = 0; i < state_.size(); ++i)
    for (size_t k = 0; k < state_[i].size() && k < names.size(); ++k) {
      const Tensor& t = state_[i][k];
      if (t.defined())
        out["state." + std::to_string(i) + "." + names[k]] = make_view(t, t.shape(), t.strides(), t.offset());
    }
  return out;
}

// A dense copy that owns its storage.
static Tensor dense_copy(const Tensor& t) {
  Tensor out = empty(t.shape(), t.dtype());
  size_t bytes = size_t(t.numel()) * dtype_size(t.dtype());
  if (t.is_contiguous())
    std::memcpy(out.storage()->data(), static_cast<const char*>(t.storage()->data()) + t.offset() * dtype_size(t.dtype()), bytes);
  else if (t.dtype() == DType::Float32)
    std::memcpy(out.storage()->data(), t.to_vector<float>().data(), bytes);
  else
    std::memcpy(out.storage()->data(), t.to_vector<double>().data(), bytes);
  return out;
}

// Parses "state.<index>.<name>"; false when the key has another form.
static bool parse_state_key(const std::string& key, size_t* index, std::string* name) {
  const std::string prefix = "state.";
  if (key.compare(0, prefix.size(), prefix) != 0) return false;
  size_t dot = key.find('.', prefix.size());
  if (dot == std::string::npos || dot == prefix.size()) return false;
  std::string digits = key.substr(prefix.size(), dot - prefix.size());
  for (char c : digits)
    if (c < '0' || c > '9') return false;
  *index = std::strtoull(digits.c_str(), nullptr, 10);
  *name = key.substr(dot + 1);
  return true;
}

void Optimizer::load_state_dict(const std::map<std::string, Tensor>& state) {
  const std::string op = "[" + type_name() + ".load_state_dict] ";
  std::vector<std::string> names = state_names();
  auto step_it = state.find("step");
  PMX_CHECK(step_it != state.end(), op, "missing key 'step'");
  PMX_CHECK(step_it->second.defined() && step_it->second.numel() == 1, op, "key 'step' must hold one value");
  double step = step_it->second.item();
  // The range check comes first: converting a double at or beyond 2^63 (or inf) to int64 is
  // undefined, not an error.
  PMX_CHECK(step >= 0 && step < 9223372036854775808.0 && step == double(int64_t(step)), op, "key 'step' holds ",
            step, ", expected a whole count in [0, 2^63)");

  // Validate every key before changing anything.
  std::vector<std::vector<Tensor>> incoming(params_.size(), std::vector<Tensor>(names.size()));
  for (const auto& [key, t] : state) {
    if (key == "step") continue;
    size_t i = 0;
    std::string name;
    PMX_CHECK(parse_state_key(key, &i, &name), op, "unexpected key '", key, "'");
    PMX_CHECK(i < params_.size(), op, "key '", key, "' names parameter ", i, " but the optimizer has ",
              params_.size());
    size_t k = 0;
    while (k < names.size() && names[k] != name) ++k;
    PMX_CHECK(k < names.size(), op, "unexpected key '", key, "' (", type_name(), " has no state '", name, "')");
    PMX_CHECK(t.defined(), op, "key '", key, "' holds an undefined tensor");
    const Tensor& p = params_[i];
    PMX_CHECK(t.shape() == p.shape() && t.dtype() == p.dtype(), op, "key '", key, "' is ", shape_str(t.shape()),
              " ", dtype_name(t.dtype()), ", parameter ", i, " is ", shape_str(p.shape()), " ", dtype_name(p.dtype()));
    incoming[i][k] = t;
  }
  // A parameter has either all its state (it has stepped) or none.
  for (size_t i = 0; i < params_.size(); ++i) {
    bool any = false;
    for (const Tensor& t : incoming[i]) any = any || t.defined();
    for (size_t k = 0; k < names.size() && any; ++k)
      PMX_CHECK(incoming[i][k].defined(), op, "missing key 'state.", i, ".", names[k], "'");
  }

  step_count_ = int64_t(step);
  for (size_t i = 0; i < params_.size(); ++i) {
    state_[i].assign(names.size(), Tensor());
    for (size_t k = 0; k < names.size(); ++k)
      if (incoming[i][k].defined()) state_[i][k] = dense_copy(incoming[i][k]);
  }
}

}  // namespace pmx::optim
