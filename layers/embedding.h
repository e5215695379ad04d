// Embedding: a lookup table of rows, out[..., :] = weight[ids[...], :] (torch.nn.Embedding).
//
// Shapes: ids int64 (...) -> (..., dim). Parameter: "weight" (num_embeddings, dim), init N(0, 1)
// from the default generator. With padding_idx >= 0 that row starts at zero and receives no
// gradient (so it stays zero); -1 means no padding row. reset_uniform(r) redraws the weight from
// U(-r, r). Backward adds each output row's gradient into the row it was read from. Ids outside
// [0, num_embeddings) throw.
//
//   pmx::nn::Embedding tokens(256, 32, /*padding_idx=*/0);
//   pmx::Tensor e = tokens(ids);                 // ids (B, N) int64 -> (B, N, 32)
#pragma once
#include "layers/module.h"

namespace pmx::nn {

class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t dim, int64_t padding_idx = -1);
  std::string type_name() const override { return "Embedding"; }
  Tensor forward(const Tensor& ids) override;
  // Redraws the weight from U(-range, +range) (the official Paramixer code's init_embedding, 0.1),
  // the padding row back to zero.
  void reset_uniform(double range);

  int64_t num_embeddings, dim, padding_idx;
  Tensor weight;  // (num_embeddings, dim)

 private:
  void zero_padding_row();
};

}  // namespace pmx::nn
