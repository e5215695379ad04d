// The autograd fields of Tensor: requires_grad, grad, detach.
#include "autograd/node.h"

namespace pmx {

Tensor& Tensor::set_requires_grad(bool on) {
  PMX_CHECK(is_leaf(), "[set_requires_grad] only leaf tensors can change requires_grad; this one "
            "was produced by op '", grad_fn()->name, "' (use detach() first)");
  PMX_CHECK(!on || is_floating(dtype()), "[set_requires_grad] ", dtype_name(dtype()),
            " tensors cannot require gradients");
  impl().requires_grad = on;
  return *this;
}

Tensor Tensor::grad() const { return impl().grad ? Tensor(impl().grad) : Tensor(); }

void Tensor::set_grad(const Tensor& g) {
  PMX_CHECK(!g.defined() || (g.shape() == shape() && g.dtype() == dtype()), "[set_grad] gradient ",
            shape_str(g.shape()), " does not match tensor ", shape_str(shape()));
  impl().grad = g.defined() ? g.impl_ptr() : nullptr;
}

Tensor Tensor::detach() const { return make_view(*this, shape(), strides(), offset()); }

}  // namespace pmx
