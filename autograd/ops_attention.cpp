#include "autograd/ops_attention.h"

#include <algorithm>
#include <cmath>

#include "autograd/node.h"
#include "autograd/ops_shape.h"
#include "kernels/attention.h"

namespace pmx {

namespace {

// Rows per block: enough for efficient GEMMs, few enough that the two (block, N) slabs stay
// around a few MiB even at N = 16K.
int64_t block_rows(int64_t N) { return std::min<int64_t>(N, std::clamp<int64_t>((int64_t(1) << 18) / N, 16, 256)); }

struct Sizes {
  int64_t B, N, d, H, dh, block;
};

}  // namespace

Tensor self_attention(const Tensor& qkv_in, int64_t heads) {
  PMX_CHECK(qkv_in.defined() && qkv_in.dim() == 3 && qkv_in.size(2) % 3 == 0,
            "[self_attention] expected qkv (B, N, 3d), got ",
            qkv_in.defined() ? shape_str(qkv_in.shape()) : std::string("undefined"));
  PMX_CHECK(is_floating(qkv_in.dtype()), "[self_attention] expected a floating tensor, got ",
            dtype_name(qkv_in.dtype()));
  const int64_t d = qkv_in.size(2) / 3;
  PMX_CHECK(heads > 0 && d % heads == 0, "[self_attention] d = ", d, " (qkv ", shape_str(qkv_in.shape()),
            ") is not divisible by heads = ", heads);
  PMX_CHECK(qkv_in.size(1) > 0, "[self_attention] empty sequence: qkv ", shape_str(qkv_in.shape()));
  Tensor qkv = contiguous(qkv_in);
  const Sizes s{qkv.size(0), qkv.size(1), d, heads, d / heads, block_rows(qkv.size(1))};
  Tensor out = empty({s.B, s.N, d}, qkv.dtype());
  Tensor lse = empty({s.B, s.H, s.N}, qkv.dtype());
  Tensor scratch = empty({2 * s.block * s.N + s.block}, qkv.dtype());
  PMX_DISPATCH_FLOATING(qkv.dtype(), "self_attention", [&] {
    const scalar_t scale = scalar_t(1.0 / std::sqrt(double(s.dh)));
    for (int64_t b = 0; b < s.B; ++b)
      for (int64_t h = 0; h < s.H; ++h) {
        const scalar_t* base = qkv.data<scalar_t>() + b * s.N * 3 * d + h * s.dh;  // Q of head h
        kernels::attention_forward(out.data<scalar_t>() + b * s.N * d + h * s.dh, d,
                                   lse.data<scalar_t>() + (b * s.H + h) * s.N, base, base + d, base + 2 * d,
                                   3 * d, s.N, s.dh, scale, scratch.data<scalar_t>(), s.block);
      }
  });
  return record("self_attention", out, {qkv}, [qkv, lse, s, out_saved = out.detach()](const Tensor& g) {
    Tensor d_qkv = zeros(qkv.shape(), qkv.dtype());  // d_k and d_v accumulate over row blocks
    Tensor scratch = empty({2 * s.block * s.N + s.block}, qkv.dtype());
    PMX_DISPATCH_FLOATING(qkv.dtype(), "self_attention", [&] {
      const scalar_t scale = scalar_t(1.0 / std::sqrt(double(s.dh)));
      const int64_t d = s.d;
      for (int64_t b = 0; b < s.B; ++b)
        for (int64_t h = 0; h < s.H; ++h) {
          const int64_t in_off = b * s.N * 3 * d + h * s.dh, out_off = b * s.N * d + h * s.dh;
          const scalar_t* base = qkv.data<scalar_t>() + in_off;
          scalar_t* d_base = d_qkv.data<scalar_t>() + in_off;
          kernels::attention_backward(d_base, d_base + d, d_base + 2 * d, g.data<scalar_t>() + out_off,
                                      out_saved.data<scalar_t>() + out_off, d,
                                      lse.data<scalar_t>() + (b * s.H + h) * s.N, base, base + d, base + 2 * d,
                                      3 * d, s.N, s.dh, scale, scratch.data<scalar_t>(), s.block);
        }
    });
    return std::vector<Tensor>{d_qkv};
  });
}

}  // namespace pmx
