#include "layers/sequential.h"

namespace pmx::nn {

void Sequential::push_back(std::shared_ptr<Module> module) {
  register_module(std::to_string(size()), std::move(module));
}

Module& Sequential::operator[](size_t i) const {
  PMX_CHECK(i < size(), "[Sequential] index ", i, " out of range for ", size(), " modules");
  return *named_children()[i].second;
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (const auto& [name, child] : named_children()) h = child->forward(h);
  return h;
}

}  // namespace pmx::nn
