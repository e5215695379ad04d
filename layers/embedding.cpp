#include "layers/embedding.h"

#include "autograd/ops_nn.h"
#include "core/random.h"

namespace pmx::nn {

Embedding::Embedding(int64_t num, int64_t d, int64_t pad) : num_embeddings(num), dim(d), padding_idx(pad) {
  PMX_CHECK(num > 0 && d > 0, "[Embedding] sizes must be positive, got num_embeddings = ", num, ", dim = ", d);
  PMX_CHECK(pad == -1 || (pad >= 0 && pad < num), "[Embedding] padding_idx ", pad,
            " must be -1 (none) or in [0, ", num, ")");
  weight = register_parameter("weight", empty({num, d}));
  normal_(weight, 0.0, 1.0);
  zero_padding_row();
}

void Embedding::reset_uniform(double range) {
  PMX_CHECK(range > 0, "[Embedding] reset_uniform needs a range > 0, got ", range);
  uniform_(weight, -range, range);
  zero_padding_row();
}

void Embedding::zero_padding_row() {
  if (padding_idx < 0) return;
  PMX_DISPATCH_FLOATING(weight.dtype(), "Embedding", [&] {  // float32, or float64 after to()
    scalar_t* row = weight.data<scalar_t>() + padding_idx * dim;
    for (int64_t j = 0; j < dim; ++j) row[j] = scalar_t(0);
  });
}

Tensor Embedding::forward(const Tensor& ids) {
  PMX_CHECK(ids.dtype() == DType::Int64, "[Embedding] ids must be int64, got ", dtype_name(ids.dtype()),
            " of shape ", shape_str(ids.shape()));
  return embedding(weight, ids, padding_idx);
}

}  // namespace pmx::nn
