#include "layers/dropout.h"

#include "autograd/ops_nn.h"

namespace pmx::nn {

Dropout::Dropout(double probability) : p(probability) {
  PMX_CHECK(probability >= 0 && probability < 1, "[Dropout] p must be in [0, 1), got ", probability);
}

Tensor Dropout::forward(const Tensor& x) { return dropout(x, p, is_training()); }

}  // namespace pmx::nn
