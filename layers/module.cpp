#include "layers/module.h"

#include <cstring>
#include <set>

namespace pmx::nn {

Tensor Module::forward(const Tensor&) {
  throw Error(detail::concat("[", type_name(), "] has no single-input forward(); call its own "
                             "forward with the inputs it takes"));
}

void Module::check_new_name(const std::string& name, const char* what) const {
  PMX_CHECK(!name.empty() && name.find('.') == std::string::npos, "[", type_name(), "] ", what,
            " name '", name, "' must be non-empty and contain no '.'");
  auto taken = [&](const auto& entries) {
    for (const auto& entry : entries)
      if (entry.first == name) return true;
    return false;
  };
  PMX_CHECK(!taken(parameters_) && !taken(buffers_) && !taken(children_), "[", type_name(), "] ",
            what, " name '", name, "' is already registered");
}

Tensor Module::register_parameter(const std::string& name, Tensor t) {
  check_new_name(name, "parameter");
  PMX_CHECK(t.defined() && is_floating(t.dtype()), "[", type_name(), "] parameter '", name,
            "' must be a defined floating tensor");
  t.set_requires_grad(true);
  parameters_.emplace_back(name, t);
  return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
  check_new_name(name, "buffer");
  PMX_CHECK(t.defined(), "[", type_name(), "] buffer '", name, "' is undefined");
  buffers_.emplace_back(name, t);
  return t;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> child) {
  check_new_name(name, "module");
  PMX_CHECK(child != nullptr, "[", type_name(), "] module '", name, "' is null");
  children_.emplace_back(name, std::move(child));
}

template <class Visit>
void Module::walk(const std::string& prefix, bool buffers, Visit&& visit) const {
  for (const auto& [name, t] : buffers ? buffers_ : parameters_) visit(prefix + name, t);
  for (const auto& [name, child] : children_) child->walk(prefix + name + ".", buffers, visit);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Tensor>> out;
  std::set<const TensorImpl*> seen;  // shared weights are trained once, not twice
  walk("", false, [&](const std::string& name, const Tensor& t) {
    if (seen.insert(t.impl_ptr().get()).second) out.emplace_back(name, t);
  });
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const {
  std::vector<std::pair<std::string, Tensor>> out;
  walk("", true, [&](const std::string& name, const Tensor& t) { out.emplace_back(name, t); });
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t total = 0;
  for (const Tensor& t : parameters()) total += t.numel();
  return total;
}

Module& Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
  return *this;
}

void Module::zero_grad() {
  for (const Tensor& t : parameters()) t.impl().grad.reset();
}

// Swaps the data under an existing TensorImpl, so every handle to it follows.
static void convert_in_place(const Tensor& t, DType dtype) {
  if (!is_floating(t.dtype()) || t.dtype() == dtype) return;
  std::vector<double> values = t.to_vector<double>();
  Tensor converted = dtype == DType::Float64
                         ? from_vector(values, t.shape())
                         : from_vector(std::vector<float>(values.begin(), values.end()), t.shape());
  TensorImpl& impl = t.impl();
  impl.storage = converted.storage();
  impl.offset = 0;
  impl.strides = converted.strides();
  impl.dtype = dtype;
  impl.grad.reset();
}

Module& Module::to(DType dtype) {
  PMX_CHECK(is_floating(dtype), "[", type_name(), "] to(): expected float32 or float64, got ", dtype_name(dtype));
  for (auto& [name, t] : parameters_) convert_in_place(t, dtype);
  for (auto& [name, t] : buffers_) convert_in_place(t, dtype);
  for (auto& [name, child] : children_) child->to(dtype);
  return *this;
}

std::map<std::string, Tensor> Module::state_dict() const {
  std::map<std::string, Tensor> out;
  auto add = [&](const std::string& name, const Tensor& t) {
    out[name] = make_view(t, t.shape(), t.strides(), t.offset());  // no grad, same storage
  };
  walk("", false, add);
  walk("", true, add);
  return out;
}

// dst and src have the same shape and dtype; dst is dense (parameters are created dense).
static void copy_values(const Tensor& dst, const Tensor& src) {
  size_t bytes = size_t(dst.numel()) * dtype_size(dst.dtype());
  char* out = static_cast<char*>(dst.storage()->data()) + dst.offset() * dtype_size(dst.dtype());
  if (src.is_contiguous()) {
    // memmove: loading a model's own state_dict copies a buffer onto itself.
    std::memmove(out, static_cast<const char*>(src.storage()->data()) + src.offset() * dtype_size(src.dtype()), bytes);
  } else if (src.dtype() == DType::Int64) {
    std::memcpy(out, src.to_vector<int64_t>().data(), bytes);
  } else if (src.dtype() == DType::Float64) {
    std::memcpy(out, src.to_vector<double>().data(), bytes);
  } else {
    std::memcpy(out, src.to_vector<float>().data(), bytes);
  }
}

void Module::load_state_dict(const std::map<std::string, Tensor>& state, bool strict) {
  std::vector<std::pair<std::string, Tensor>> targets;
  walk("", false, [&](const std::string& name, const Tensor& t) { targets.emplace_back(name, t); });
  walk("", true, [&](const std::string& name, const Tensor& t) { targets.emplace_back(name, t); });

  // Validate everything first: a half-applied checkpoint is worse than a refused one.
  std::set<std::string> expected;
  std::vector<std::pair<Tensor, Tensor>> copies;  // (destination, source)
  for (const auto& [name, dst] : targets) {
    expected.insert(name);
    auto it = state.find(name);
    if (it == state.end()) {
      PMX_CHECK(!strict, "[load_state_dict] missing key '", name, "' (expected shape ",
                shape_str(dst.shape()), ")");
      continue;
    }
    const Tensor& src = it->second;
    PMX_CHECK(src.defined(), "[load_state_dict] key '", name, "' holds an undefined tensor");
    PMX_CHECK(src.shape() == dst.shape(), "[load_state_dict] shape mismatch for '", name, "': checkpoint has ",
              shape_str(src.shape()), ", model has ", shape_str(dst.shape()));
    PMX_CHECK(src.dtype() == dst.dtype(), "[load_state_dict] dtype mismatch for '", name, "': checkpoint has ",
              dtype_name(src.dtype()), ", model has ", dtype_name(dst.dtype()), " (shape ", shape_str(dst.shape()), ")");
    PMX_CHECK(dst.is_contiguous(), "[load_state_dict] model tensor '", name, "' is not contiguous");
    copies.emplace_back(dst, src);
  }
  if (strict) {
    for (const auto& [name, t] : state)
      PMX_CHECK(expected.count(name), "[load_state_dict] unexpected key '", name, "' (shape ",
                t.defined() ? shape_str(t.shape()) : std::string("undefined"), ") not in the model");
  }
  for (const auto& [dst, src] : copies) copy_values(dst, src);
}

}  // namespace pmx::nn
