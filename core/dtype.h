// Element types a Tensor can hold: float32 for models, float64 for gradient checks, int64 for
// token ids and labels.
#pragma once
#include <cstddef>
#include <cstdint>

namespace pmx {

enum class DType { Float32, Float64, Int64 };

inline size_t dtype_size(DType t) { return t == DType::Float32 ? 4 : 8; }
inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int64: return "int64";
  }
  return "?";
}
inline bool is_floating(DType t) { return t != DType::Int64; }

// The DType of a C++ element type: dtype_of<float>() == DType::Float32.
template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::Float32; }
template <> constexpr DType dtype_of<double>() { return DType::Float64; }
template <> constexpr DType dtype_of<int64_t>() { return DType::Int64; }

}  // namespace pmx

// Runs the statements with `scalar_t` bound to float or double according to a floating DType;
// throws for other types. Used by ops to call the right kernel instantiation.
#define PMX_DISPATCH_FLOATING(dtype, opname, ...)                                     \
  [&] {                                                                               \
    switch (dtype) {                                                                  \
      case ::pmx::DType::Float32: { using scalar_t = float; return __VA_ARGS__(); }   \
      case ::pmx::DType::Float64: { using scalar_t = double; return __VA_ARGS__(); }  \
      default:                                                                        \
        throw ::pmx::Error(::pmx::detail::concat("[", opname, "] expected a floating tensor, got ", \
                                                 ::pmx::dtype_name(dtype)));          \
    }                                                                                 \
  }()
