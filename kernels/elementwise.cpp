// Elementwise kernels (see elementwise.h). Each op is a template parameter, not a per-element
// switch, so the loops vectorise. GELU has its own unit (gelu.h), with the float path in
// intrinsics; the unary ops hand UnaryOp::Gelu over to it.
#include "kernels/elementwise.h"

#include <cmath>
#include <type_traits>

#include "kernels/gelu.h"

namespace pmx {
namespace kernels {

namespace {

// Below this many elements a parallel region costs more than it saves.
constexpr long kParallelMin = 1 << 15;

template <BinaryOp OP, class T>
inline T bin(T a, T b) {
  if constexpr (OP == BinaryOp::Add) return a + b;
  else if constexpr (OP == BinaryOp::Sub) return a - b;
  else if constexpr (OP == BinaryOp::Mul) return a * b;
  else return a / b;
}

// Calls f with the op as a compile-time constant.
template <class F>
void with_binary_op(BinaryOp op, F&& f) {
  switch (op) {
    case BinaryOp::Add: f(std::integral_constant<BinaryOp, BinaryOp::Add>()); break;
    case BinaryOp::Sub: f(std::integral_constant<BinaryOp, BinaryOp::Sub>()); break;
    case BinaryOp::Mul: f(std::integral_constant<BinaryOp, BinaryOp::Mul>()); break;
    case BinaryOp::Div: f(std::integral_constant<BinaryOp, BinaryOp::Div>()); break;
  }
}

// Storage offset of row `row` (all dims but the last) of a strided tensor.
inline int64_t row_offset(long row, const int64_t* strides, const int64_t* shape, int ndim) {
  int64_t off = 0;
  for (int d = ndim - 2; d >= 0; --d) {
    off += (row % shape[d]) * strides[d];
    row /= shape[d];
  }
  return off;
}

// One contiguous output row of a strided binary op; the common stride pairs get their own
// loops so they vectorise.
template <BinaryOp OP, class T>
inline void strided_row(T* out, const T* a, int64_t sa, const T* b, int64_t sb, long len) {
  if (sa == 1 && sb == 1) {
    for (long j = 0; j < len; ++j) out[j] = bin<OP>(a[j], b[j]);
  } else if (sa == 1 && sb == 0) {
    const T s = b[0];
    for (long j = 0; j < len; ++j) out[j] = bin<OP>(a[j], s);
  } else if (sa == 0 && sb == 1) {
    const T s = a[0];
    for (long j = 0; j < len; ++j) out[j] = bin<OP>(s, b[j]);
  } else {
    for (long j = 0; j < len; ++j) out[j] = bin<OP>(a[j * sa], b[j * sb]);
  }
}

// For an input walked across its fast dim (a transposed view), row-by-row order touches one
// cache line per element. Walking the last two dims in 32 x 32 tiles keeps those lines hot
// until all their elements are used. Each element is still written once, by one thread.
constexpr long kTransposeTile = 32;

template <BinaryOp OP, class T>
void strided_tiled(T* out, const T* a, const int64_t* sa, const T* b, const int64_t* sb,
                   const int64_t* shape, int ndim) {
  const long L = long(shape[ndim - 1]), P = long(shape[ndim - 2]);
  long batches = 1;
  for (int d = 0; d < ndim - 2; ++d) batches *= long(shape[d]);
  const long ptiles = (P + kTransposeTile - 1) / kTransposeTile;
  const int64_t ap = sa[ndim - 2], al = sa[ndim - 1], bp = sb[ndim - 2], bl = sb[ndim - 1];
#pragma omp parallel for schedule(static) if (batches * P * L > kParallelMin)
  for (long t = 0; t < batches * ptiles; ++t) {
    const long batch = t / ptiles, p0 = (t % ptiles) * kTransposeTile;
    const long p1 = p0 + kTransposeTile < P ? p0 + kTransposeTile : P;
    // row_offset over the leading ndim - 1 dims maps a batch index to its offset.
    const T* ab = a + (ndim > 2 ? row_offset(batch, sa, shape, ndim - 1) : 0);
    const T* bb = b + (ndim > 2 ? row_offset(batch, sb, shape, ndim - 1) : 0);
    T* ob = out + batch * P * L;  // (P, L)
    for (long j0 = 0; j0 < L; j0 += kTransposeTile) {
      const long j1 = j0 + kTransposeTile < L ? j0 + kTransposeTile : L;
      for (long p = p0; p < p1; ++p)
        for (long j = j0; j < j1; ++j) ob[p * L + j] = bin<OP>(ab[p * ap + j * al], bb[p * bp + j * bl]);
    }
  }
}

}  // namespace

template <class T>
void binary_same(T* out, const T* a, const T* b, long n, BinaryOp op) {
  with_binary_op(op, [&](auto tag) {
    constexpr BinaryOp OP = decltype(tag)::value;
#pragma omp parallel for schedule(static) if (n > kParallelMin)
    for (long i = 0; i < n; ++i) out[i] = bin<OP>(a[i], b[i]);
  });
}

template <class T>
void binary_scalar(T* out, const T* x, T s, long n, BinaryOp op, bool scalar_on_left) {
  with_binary_op(op, [&](auto tag) {
    constexpr BinaryOp OP = decltype(tag)::value;
    if (scalar_on_left) {
#pragma omp parallel for schedule(static) if (n > kParallelMin)
      for (long i = 0; i < n; ++i) out[i] = bin<OP>(s, x[i]);
    } else {
#pragma omp parallel for schedule(static) if (n > kParallelMin)
      for (long i = 0; i < n; ++i) out[i] = bin<OP>(x[i], s);
    }
  });
}

template <class T>
void binary_row(T* out, const T* x, const T* row, long M, long n, BinaryOp op, bool row_on_left) {
  with_binary_op(op, [&](auto tag) {
    constexpr BinaryOp OP = decltype(tag)::value;
#pragma omp parallel for schedule(static) if (M * n > kParallelMin)
    for (long m = 0; m < M; ++m) {
      const T* xm = x + m * n;  // (n)
      T* om = out + m * n;      // (n)
      if (row_on_left)
        for (long j = 0; j < n; ++j) om[j] = bin<OP>(row[j], xm[j]);
      else
        for (long j = 0; j < n; ++j) om[j] = bin<OP>(xm[j], row[j]);
    }
  });
}

template <class T>
void binary_strided(T* out, const T* a, const int64_t* a_strides, const T* b,
                    const int64_t* b_strides, const int64_t* shape, int ndim, BinaryOp op) {
  if (ndim == 0) {
    binary_same(out, a, b, 1, op);
    return;
  }
  const long len = long(shape[ndim - 1]);
  long rows = 1;
  for (int d = 0; d < ndim - 1; ++d) rows *= long(shape[d]);
  if (len == 0 || rows == 0) return;
  const bool across = (a_strides[ndim - 1] != 0 && a_strides[ndim - 1] != 1) ||
                      (b_strides[ndim - 1] != 0 && b_strides[ndim - 1] != 1);
  with_binary_op(op, [&](auto tag) {
    constexpr BinaryOp OP = decltype(tag)::value;
    if (across && ndim >= 2 && len >= 8) {
      strided_tiled<OP>(out, a, a_strides, b, b_strides, shape, ndim);
      return;
    }
#pragma omp parallel for schedule(static) if (rows * len > kParallelMin)
    for (long r = 0; r < rows; ++r) {
      const T* ar = a + row_offset(r, a_strides, shape, ndim);
      const T* br = b + row_offset(r, b_strides, shape, ndim);
      strided_row<OP>(out + r * len, ar, a_strides[ndim - 1], br, b_strides[ndim - 1], len);
    }
  });
}

template <class T>
void binary_naive(T* out, const T* a, const int64_t* a_strides, const T* b,
                  const int64_t* b_strides, const int64_t* shape, int ndim, BinaryOp op) {
  long n = 1;
  for (int d = 0; d < ndim; ++d) n *= long(shape[d]);
  for (long e = 0; e < n; ++e) {
    int64_t oa = 0, ob = 0;
    long rest = e;
    for (int d = ndim - 1; d >= 0; --d) {
      int64_t i = rest % shape[d];
      rest /= long(shape[d]);
      oa += i * a_strides[d];
      ob += i * b_strides[d];
    }
    T x = a[oa], y = b[ob];
    switch (op) {
      case BinaryOp::Add: out[e] = x + y; break;
      case BinaryOp::Sub: out[e] = x - y; break;
      case BinaryOp::Mul: out[e] = x * y; break;
      case BinaryOp::Div: out[e] = x / y; break;
    }
  }
}

#define PMX_INSTANTIATE_BINARY(T)                                                             \
  template void binary_same<T>(T*, const T*, const T*, long, BinaryOp);                       \
  template void binary_scalar<T>(T*, const T*, T, long, BinaryOp, bool);                      \
  template void binary_row<T>(T*, const T*, const T*, long, long, BinaryOp, bool);            \
  template void binary_strided<T>(T*, const T*, const int64_t*, const T*, const int64_t*,     \
                                  const int64_t*, int, BinaryOp);                             \
  template void binary_naive<T>(T*, const T*, const int64_t*, const T*, const int64_t*,       \
                                const int64_t*, int, BinaryOp);
PMX_INSTANTIATE_BINARY(float)
PMX_INSTANTIATE_BINARY(double)
#undef PMX_INSTANTIATE_BINARY

// ---- unary ----

namespace {

template <UnaryOp OP, class T>
inline T unary_value(T x, T p) {
  if constexpr (OP == UnaryOp::Exp) return std::exp(x);
  else if constexpr (OP == UnaryOp::Log) return std::log(x);
  else if constexpr (OP == UnaryOp::Sqrt) return std::sqrt(x);
  else if constexpr (OP == UnaryOp::Tanh) return std::tanh(x);
  else if constexpr (OP == UnaryOp::Sigmoid) return T(1) / (T(1) + std::exp(-x));
  else if constexpr (OP == UnaryOp::Relu) return x < T(0) ? T(0) : x;  // NaN stays NaN
  else if constexpr (OP == UnaryOp::Neg) return -x;
  else if constexpr (OP == UnaryOp::Pow) return std::pow(x, p);
  else if constexpr (OP == UnaryOp::AddScalar) return x + p;
  else return x * p;
}

// d_out * f'(x), given x and y = f(x).
template <UnaryOp OP, class T>
inline T unary_grad(T g, T x, T y, T p) {
  if constexpr (OP == UnaryOp::Exp) return g * y;
  else if constexpr (OP == UnaryOp::Log) return g / x;
  else if constexpr (OP == UnaryOp::Sqrt) return g / (T(2) * y);
  else if constexpr (OP == UnaryOp::Tanh) return g * (T(1) - y * y);
  else if constexpr (OP == UnaryOp::Sigmoid) return g * y * (T(1) - y);
  else if constexpr (OP == UnaryOp::Relu) return x > T(0) ? g : T(0);
  else if constexpr (OP == UnaryOp::Neg) return -g;
  else if constexpr (OP == UnaryOp::Pow) return p == T(0) ? T(0) : g * p * std::pow(x, p - T(1));
  else if constexpr (OP == UnaryOp::AddScalar) return g;
  else return g * p;
}

// Calls f with the op as a compile-time constant. GELU is not among them: the callers hand it to
// gelu.h first, which has its own vector code and block split.
template <class F>
void with_unary_op(UnaryOp op, F&& f) {
#define PMX_UNARY_CASE(name) \
  case UnaryOp::name: f(std::integral_constant<UnaryOp, UnaryOp::name>()); break;
  switch (op) {
    PMX_UNARY_CASE(Exp) PMX_UNARY_CASE(Log) PMX_UNARY_CASE(Sqrt) PMX_UNARY_CASE(Tanh)
    PMX_UNARY_CASE(Sigmoid) PMX_UNARY_CASE(Relu) PMX_UNARY_CASE(Neg)
    PMX_UNARY_CASE(Pow) PMX_UNARY_CASE(AddScalar) PMX_UNARY_CASE(MulScalar)
    case UnaryOp::Gelu: break;
  }
#undef PMX_UNARY_CASE
}

}  // namespace

template <class T>
void unary_forward(T* out, const T* in, long n, UnaryOp op, T param) {
  if (op == UnaryOp::Gelu) return gelu_forward(out, in, n);
  with_unary_op(op, [&](auto tag) {
    constexpr UnaryOp OP = decltype(tag)::value;
#pragma omp parallel for schedule(static) if (n > kParallelMin)
    for (long i = 0; i < n; ++i) out[i] = unary_value<OP>(in[i], param);
  });
}

template <class T>
void unary_backward(T* d_in, const T* d_out, const T* in, const T* out, long n, UnaryOp op,
                    T param) {
  if (op == UnaryOp::Gelu) return gelu_backward(d_in, d_out, in, n);
  with_unary_op(op, [&](auto tag) {
    constexpr UnaryOp OP = decltype(tag)::value;
    // Read only the pointers this op's derivative needs (callers may pass nullptr for the other).
    constexpr bool reads_out = OP == UnaryOp::Exp || OP == UnaryOp::Sqrt || OP == UnaryOp::Tanh ||
                               OP == UnaryOp::Sigmoid;
    constexpr bool reads_in = OP == UnaryOp::Log || OP == UnaryOp::Relu || OP == UnaryOp::Pow;
#pragma omp parallel for schedule(static) if (n > kParallelMin)
    for (long i = 0; i < n; ++i)
      d_in[i] = unary_grad<OP>(d_out[i], reads_in ? in[i] : T(0), reads_out ? out[i] : T(0), param);
  });
}

template <class T>
void unary_forward_naive(T* out, const T* in, long n, UnaryOp op, T param) {
  for (long i = 0; i < n; ++i) {
    const T x = in[i];
    switch (op) {
      case UnaryOp::Exp: out[i] = std::exp(x); break;
      case UnaryOp::Log: out[i] = std::log(x); break;
      case UnaryOp::Sqrt: out[i] = std::sqrt(x); break;
      case UnaryOp::Tanh: out[i] = std::tanh(x); break;
      case UnaryOp::Sigmoid: out[i] = T(1) / (T(1) + std::exp(-x)); break;
      case UnaryOp::Relu: out[i] = x > T(0) ? x : (x == x ? T(0) : x); break;
      case UnaryOp::Gelu: out[i] = T(0.5) * x * (T(1) + std::erf(x / std::sqrt(T(2)))); break;
      case UnaryOp::Neg: out[i] = -x; break;
      case UnaryOp::Pow: out[i] = std::pow(x, param); break;
      case UnaryOp::AddScalar: out[i] = x + param; break;
      case UnaryOp::MulScalar: out[i] = x * param; break;
    }
  }
}

template <class T>
void unary_backward_naive(T* d_in, const T* d_out, const T* in, const T* out, long n,
                          UnaryOp op, T param) {
  const T pi = T(3.14159265358979323846);
  for (long i = 0; i < n; ++i) {
    const T g = d_out[i];
    switch (op) {
      case UnaryOp::Exp: d_in[i] = g * out[i]; break;
      case UnaryOp::Log: d_in[i] = g / in[i]; break;
      case UnaryOp::Sqrt: d_in[i] = g * T(0.5) / out[i]; break;
      case UnaryOp::Tanh: d_in[i] = g * (T(1) - out[i] * out[i]); break;
      case UnaryOp::Sigmoid: d_in[i] = g * out[i] * (T(1) - out[i]); break;
      case UnaryOp::Relu: d_in[i] = in[i] > T(0) ? g : T(0); break;
      case UnaryOp::Gelu: {
        const T x = in[i];
        const T cdf = T(0.5) * (T(1) + std::erf(x / std::sqrt(T(2))));
        d_in[i] = g * (cdf + x * std::exp(-x * x / T(2)) / std::sqrt(T(2) * pi));
        break;
      }
      case UnaryOp::Neg: d_in[i] = -g; break;
      case UnaryOp::Pow: d_in[i] = param == T(0) ? T(0) : g * param * std::pow(in[i], param - T(1)); break;
      case UnaryOp::AddScalar: d_in[i] = g; break;
      case UnaryOp::MulScalar: d_in[i] = g * param; break;
    }
  }
}

#define PMX_INSTANTIATE_UNARY(T)                                                              \
  template void unary_forward<T>(T*, const T*, long, UnaryOp, T);                             \
  template void unary_backward<T>(T*, const T*, const T*, const T*, long, UnaryOp, T);        \
  template void unary_forward_naive<T>(T*, const T*, long, UnaryOp, T);                       \
  template void unary_backward_naive<T>(T*, const T*, const T*, const T*, long, UnaryOp, T);
PMX_INSTANTIATE_UNARY(float)
PMX_INSTANTIATE_UNARY(double)
#undef PMX_INSTANTIATE_UNARY

}  // namespace kernels
}  // namespace pmx
