#include "layers/mlp.h"

namespace pmx::nn {

MLP::MLP(int64_t in, const std::vector<int64_t>& hidden_sizes, int64_t out, Activation activation) {
  std::vector<int64_t> sizes{in};
  sizes.insert(sizes.end(), hidden_sizes.begin(), hidden_sizes.end());
  sizes.push_back(out);
  for (size_t i = 0; i + 1 < sizes.size(); ++i) {
    push_back(std::make_shared<Linear>(sizes[i], sizes[i + 1]));
    if (i + 2 < sizes.size()) push_back(make_activation(activation));
  }
}

}  // namespace pmx::nn
