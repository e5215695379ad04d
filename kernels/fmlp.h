// fmlp: Paramixer's M factor MLPs f_m, all reading the same X, computed in row chunks that stay
// in L1/L2, forward and backward. Raw loops on float and double: no autograd, no allocation
// (the caller passes a workspace), no exceptions; autograd/ops_factor_mlps.cpp validates.
//
//   pre_m = X W1_m^T + b1_m        X (R, d), W1_m (h, d), b1_m (h)
//   hid_m = GELU(pre_m)            exact erf GELU, (R, h)
//   out_m = hid_m W2_m^T + b2_m    W2_m (K, h), b2_m (K), out (M, R, K)
//
// Backward, given d_out (M, R, K): per chunk the hidden layer is recomputed from X, so neither
// (R, M h) tensor ever exists in full:
//   d_hid = d_out_m W2_m,  d_pre = d_hid * GELU'(pre_m),  d_X = sum_m d_pre W1_m,
//   dW1_m = d_pre^T X,  db1_m = colsum d_pre,  dW2_m = d_out_m^T hid_m,  db2_m = colsum d_out_m.
// d_hid is formed before the GELU so that hid and d_pre come from one erf per element
// (kernels::gelu_forward_backward).
// Gradients are OVERWRITTEN, not accumulated. Pass d_x = nullptr to skip dX, d_w1 = nullptr to
// skip all four parameter gradients.
//
// Parallel split: rows are cut into chunks of kFmlpChunk rows, and the chunks into a number of
// row ranges that depends on R only (at most kFmlpMaxRanges). A range is done by one thread, in
// chunk order, with its own partial weight gradients; the partials are then added in range
// order. So every bit is the same at any thread count.
//
// The GEMMs have inner or outer size d, h or K (32 or so) and are skinny: a register-blocked
// AVX2 micro-kernel (6 rows x 16 columns, no packing; 12 x 32 with AVX-512) is as fast as
// OpenBLAS's small-matrix kernels on one thread and, unlike them, can run inside the op's
// parallel loop over row ranges (docs/PERFORMANCE.md).
// FmlpGemm::Blas runs the same pipeline through kernels::gemm, single-threaded (no BLAS call in
// an OpenMP region), kept to measure against.
//
//   kernels::FmlpSizes s{R, d, h, K, M};
//   std::vector<float> ws(kernels::fmlp_forward_workspace(s));
//   kernels::fmlp_forward(out, x, w1, b1, w2, b2, ws.data(), s);     // w1 (M, h, d) packed, ...
//   std::vector<float> wb(kernels::fmlp_backward_workspace(s));
//   kernels::fmlp_backward(d_x, d_w1, d_b1, d_w2, d_b2, d_out, x, w1, b1, w2, wb.data(), s);
#pragma once
#include <cstdint>

namespace pmx::kernels {

struct FmlpSizes {
  long R, d, h, K, M;  // rows, input width, hidden width, outputs per factor, factors
};

constexpr long kFmlpChunk = 64;       // rows per chunk: X, pre, hid, d_pre chunks fit in L2
constexpr long kFmlpMaxRanges = 16;   // row ranges with their own weight-gradient partials

enum class FmlpGemm { Micro, Blas };

// Workspace sizes in elements of T.
long fmlp_forward_workspace(const FmlpSizes& s);
long fmlp_backward_workspace(const FmlpSizes& s);

// out: (M, R, K).  x: (R, d).  w1: (M, h, d).  b1: (M, h).  w2: (M, K, h).  b2: (M, K).
// workspace: fmlp_forward_workspace(s) elements.
template <class T>
void fmlp_forward(T* out, const T* x, const T* w1, const T* b1, const T* w2, const T* b2, T* workspace,
                  const FmlpSizes& s, FmlpGemm gemm = FmlpGemm::Micro);

// d_x: (R, d) or nullptr.  d_w1: (M, h, d), d_b1: (M, h), d_w2: (M, K, h), d_b2: (M, K), all four
// or d_w1 = nullptr.  d_out: (M, R, K).  Others as in fmlp_forward.
template <class T>
void fmlp_backward(T* d_x, T* d_w1, T* d_b1, T* d_w2, T* d_b2, const T* d_out, const T* x, const T* w1,
                   const T* b1, const T* w2, T* workspace, const FmlpSizes& s,
                   FmlpGemm gemm = FmlpGemm::Micro);
// The same with each factor's d_out given on its own: d_outs[m] (R, K), or nullptr where that
// factor's gradient is zero (it is then skipped). Lets the autograd op read the M gradients where
// the mixing backward wrote them instead of copying them into one (M, R, K) buffer.
template <class T>
void fmlp_backward(T* d_x, T* d_w1, T* d_b1, T* d_w2, T* d_b2, const T* const* d_outs, const T* x,
                   const T* w1, const T* b1, const T* w2, T* workspace, const FmlpSizes& s,
                   FmlpGemm gemm = FmlpGemm::Micro);

// C (rows, n) = A (rows, k) B (k, n) [+ C if accumulate] [+ bias (n) in every row, if given].
// A element (i, p) is a[i * a_row + p * a_col] (so A or A^T); B and C row-major with ldb, ldc.
// The building block of the fast path, exposed for its tests.
template <class T>
void fmlp_small_gemm(T* c, long ldc, const T* a, long a_row, long a_col, const T* b, long ldb, const T* bias,
                     long rows, long n, long k, bool accumulate);

// The float micro-kernel runs a 12 x 32 AVX-512 tile when the CPU has AVX-512F, else 6 x 16 AVX2;
// both give the same bits. Tests and benchmarks switch AVX-512 off to compare (not thread-safe:
// set it before the kernels run); fmlp_avx512_active() says which one runs.
void set_fmlp_avx512(bool allowed);
bool fmlp_avx512_active();

// Reference twins: one row at a time, double accumulators, std::erf. For tests only.
template <class T>
void fmlp_forward_naive(T* out, const T* x, const T* w1, const T* b1, const T* w2, const T* b2,
                        const FmlpSizes& s);
template <class T>
void fmlp_backward_naive(T* d_x, T* d_w1, T* d_b1, T* d_w2, T* d_b2, const T* d_out, const T* x,
                         const T* w1, const T* b1, const T* w2, const FmlpSizes& s);

}  // namespace pmx::kernels
