#include "autograd/ops_mixing.h"

#include "autograd/node.h"
#include "autograd/ops_shape.h"
#include "kernels/mixing.h"

namespace pmx {

Tensor mix(const Tensor& v_in, const Tensor& w_in, const std::vector<long>& offsets) {
  PMX_CHECK(v_in.dim() == 3, "[mix] values must be (B, N, d), got ", shape_str(v_in.shape()));
  long K = long(offsets.size());
  PMX_CHECK(w_in.dim() == 3 && w_in.size(0) == v_in.size(0) && w_in.size(1) == v_in.size(1) && w_in.size(2) == K,
            "[mix] weights must be (B, N, K) = (", v_in.size(0), ", ", v_in.size(1), ", ", K, "), got ",
            shape_str(w_in.shape()));
  PMX_CHECK(v_in.dtype() == w_in.dtype(), "[mix] values are ", dtype_name(v_in.dtype()), " but weights are ",
            dtype_name(w_in.dtype()));
  Tensor v = contiguous(v_in), w = contiguous(w_in);
  long B = long(v.size(0)), N = long(v.size(1)), d = long(v.size(2));
  Tensor out = empty(v.shape(), v.dtype());
  PMX_DISPATCH_FLOATING(v.dtype(), "mix", [&] {
    kernels::mix_forward(out.data<scalar_t>(), v.data<scalar_t>(), w.data<scalar_t>(), offsets.data(), K, B, N, d);
  });
  return record("mix", out, {v, w}, [v, w, offsets, K, B, N, d](const Tensor& g) {
    std::vector<Tensor> grads(2);
    if (v.requires_grad()) grads[0] = empty(v.shape(), v.dtype());
    if (w.requires_grad()) grads[1] = empty(w.shape(), w.dtype());
    PMX_DISPATCH_FLOATING(g.dtype(), "mix", [&] {
      kernels::mix_backward(grads[0].defined() ? grads[0].data<scalar_t>() : nullptr,
                            grads[1].defined() ? grads[1].data<scalar_t>() : nullptr, g.data<scalar_t>(),
                            v.data<scalar_t>(), w.data<scalar_t>(), offsets.data(), K, B, N, d);
    });
    return grads;
  });
}

}  // namespace pmx
