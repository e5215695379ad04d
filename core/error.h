// pmx::Error: the one exception type the library throws for bad input.
//
// User-facing calls validate their arguments and throw Error with a message that names the
// op and what is wrong, e.g. "[matmul] inner sizes differ: (4, 3) x (5, 2)". The library never
// calls exit(); apps catch Error, print it, and exit non-zero.
//
//   PMX_CHECK(a.dim() == 2, "[matmul] expected a 2-D tensor, got ", shape_str(a.shape()));
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace pmx {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
template <class... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}
}  // namespace detail

}  // namespace pmx

// Throws pmx::Error built from the remaining arguments when `cond` is false.
#define PMX_CHECK(cond, ...)                                   \
  do {                                                         \
    if (!(cond)) throw ::pmx::Error(::pmx::detail::concat(__VA_ARGS__)); \
  } while (0)
