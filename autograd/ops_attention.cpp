#include "autograd/ops_attention.h"

#include <algorithm>
#include <cmath>

#include <omp.h>

#include "autograd/node.h"
#include "autograd/ops_shape.h"
#include "kernels/attention.h"
#include "kernels/blas.h"

namespace pmx {

namespace {

struct Sizes {
  int64_t B, N, d, H, dh, block;
  int64_t scratch() const { return kernels::attention_scratch_size(N, dh, block); }  // per slice being worked on
};

// Threads that work on (batch, head) slices side by side, each slice whole on one thread with
// single-threaded GEMMs: one parallel region per op, and the same bits at any thread count.
// The alternative, one slice after another with OpenBLAS threading each small GEMM (N x dh x
// block), was slower on 2 threads than on 1 (sched_yield and packing in the profile).
int slice_threads(const Sizes& s) { return kernels::gemm_side_by_side_threads(s.B * s.H); }

// qkv (B, N, 3d) -> out (B, N, d), stats (B, H, N, 2) (see kernels/attention.h). Slice bh = (b, h) reads head h's columns of
// Q, K and V in place; scratch holds s.scratch() elements per thread.
template <class T>
void forward_slices(const Sizes& s, int threads, T* out, T* stats, const T* qkv, T* scratch) {
  const T scale = T(1.0 / std::sqrt(double(s.dh)));
  const int64_t d = s.d;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
  for (int64_t bh = 0; bh < s.B * s.H; ++bh) {
    const int64_t b = bh / s.H, h = bh % s.H;
    const T* q = qkv + b * s.N * 3 * d + h * s.dh;  // Q of head h; K and V follow d and 2d later
    kernels::attention_forward(out + b * s.N * d + h * s.dh, d, stats + 2 * bh * s.N, q, q + d, q + 2 * d, 3 * d,
                               s.N, s.dh, scale, scratch + omp_get_thread_num() * s.scratch(), s.block);
  }
}

// d_qkv (B, N, 3d), zeroed: dQ, dK, dV of every slice, each written by one thread.
template <class T>
void backward_slices(const Sizes& s, int threads, T* d_qkv, const T* d_out, const T* out, const T* stats,
                     const T* qkv, T* scratch) {
  const T scale = T(1.0 / std::sqrt(double(s.dh)));
  const int64_t d = s.d;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
  for (int64_t bh = 0; bh < s.B * s.H; ++bh) {
    const int64_t b = bh / s.H, h = bh % s.H;
    const int64_t in_off = b * s.N * 3 * d + h * s.dh, out_off = b * s.N * d + h * s.dh;
    const T* q = qkv + in_off;
    T* d_q = d_qkv + in_off;
    kernels::attention_backward(d_q, d_q + d, d_q + 2 * d, d_out + out_off, out + out_off, d, stats + 2 * bh * s.N, q,
                                q + d, q + 2 * d, 3 * d, s.N, s.dh, scale,
                                scratch + omp_get_thread_num() * s.scratch(), s.block);
  }
}

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
  const Sizes s{qkv.size(0), qkv.size(1), d, heads, d / heads, kernels::attention_block_rows(qkv.size(1))};
  Tensor out = empty({s.B, s.N, d}, qkv.dtype());
  Tensor stats = empty({s.B, s.H, s.N, 2}, qkv.dtype());
  const int threads = slice_threads(s);
  Tensor scratch = empty({threads * s.scratch()}, qkv.dtype());
  PMX_DISPATCH_FLOATING(qkv.dtype(), "self_attention", [&] {
    forward_slices(s, threads, out.data<scalar_t>(), stats.data<scalar_t>(), qkv.data<scalar_t>(),
                   scratch.data<scalar_t>());
  });
  return record("self_attention", out, {qkv}, [qkv, stats, s, out_saved = out.detach()](const Tensor& g) {
    Tensor d_qkv = zeros(qkv.shape(), qkv.dtype());  // d_k and d_v accumulate over row blocks
    const int threads = slice_threads(s);
    Tensor scratch = empty({threads * s.scratch()}, qkv.dtype());
    PMX_DISPATCH_FLOATING(qkv.dtype(), "self_attention", [&] {
      backward_slices(s, threads, d_qkv.data<scalar_t>(), g.data<scalar_t>(), out_saved.data<scalar_t>(),
                      stats.data<scalar_t>(), qkv.data<scalar_t>(), scratch.data<scalar_t>());
    });
    return std::vector<Tensor>{d_qkv};
  });
}

}  // namespace pmx
