// The Transformer baseline: a pre-LN encoder layer and a sequence classifier/regressor with the
// same inputs and heads as the Paramixer model (TransformerConfig mirrors ParamixerConfig's input
// and head fields: seq_len, vocab, padding_idx, input_features, position_table, head, classes),
// so the two can be swapped in an experiment.
//
// TransformerEncoderLayer(dim, heads, ff_hidden, dropout), pre-LN (x (B, N, d) -> (B, N, d)):
//   x = x + Dropout(Attn(LN1(x)))
//   x = x + Dropout(W2 Dropout(GELU(W1 LN2(x) + b1)) + b2)       W1 (ff, d), W2 (d, ff)
// Children use PyTorch's nn.TransformerEncoderLayer names: "self_attn", "linear1", "dropout",
// "linear2", "norm1", "norm2", "dropout1", "dropout2".
// Parameters: (4 d^2 + 4 d) + (2 d ff + ff + d) + 4 d.
//
// TransformerModel(config): input (B, N) int64 token ids (config.vocab > 0) or (B, N, F) real
// values (config.input_features = F > 0); output (B, classes).
//   E = Embedding(vocab, d, padding_idx)(ids)  or  Linear(F, d)(values)     (B, N, d), N = seq_len
//   CLS head: prepend a learned vector "cls_token" (d) at position 0 -> (B, N + 1, d)
//   + position table "pos_embedding" (N', d) if config.position_table, N' = N (+ 1 with CLS)
//   X = Dropout(embed_dropout)(...); L encoder layers "layers.{l}"; final LayerNorm "norm"
//   head "final": FLATTEN Linear(N' d, classes) on X reshaped position-major (feature n d + c),
//   CLS Linear(d, classes) on X[:, 0, :], MEAN Linear(d, classes) on the mean over positions,
//   MAX Linear(d, classes) on the max over positions, per feature.
// Init: Linear U(+-1/sqrt(fan_in)), embeddings, position table and CLS vector N(0, 1); with
// embedding_init = r > 0 the token embedding is redrawn from U(-r, r), as in ParamixerConfig.
// Memory: with dropout > 0 in training every layer keeps (B, H, N', N') scores and
// probabilities; otherwise its attention is the fused op, which keeps (B, H, N', 2) softmax row statistics
// and no (N', N') matrix (see layers/attention.h).
//
//   pmx::nn::TransformerConfig cfg;
//   cfg.seq_len = 128; cfg.dim = 32; cfg.heads = 4; cfg.ff_hidden = 64; cfg.layers = 2;
//   cfg.vocab = 6; cfg.classes = 4; cfg.head = pmx::nn::TransformerHead::Cls;
//   pmx::nn::TransformerModel model(cfg);
//   pmx::Tensor logits = model(tokens);      // tokens (B, 128) int64 -> (B, 4)
#pragma once
#include <memory>
#include <vector>

#include "layers/attention.h"
#include "layers/dropout.h"
#include "layers/embedding.h"
#include "layers/layer_norm.h"
#include "layers/linear.h"
#include "layers/module.h"

namespace pmx::nn {

class TransformerEncoderLayer : public Module {
 public:
  TransformerEncoderLayer(int64_t dim, int64_t heads, int64_t ff_hidden, double dropout = 0);
  std::string type_name() const override { return "TransformerEncoderLayer"; }
  // x (B, N, dim) -> (B, N, dim).
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<MultiheadSelfAttention> self_attn;
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<LayerNorm> norm1, norm2;
  std::shared_ptr<Dropout> dropout, dropout1, dropout2;
};

// How the (B, N, d) encoder output becomes (B, classes): flattened, the CLS position, or the
// mean or max over positions (per feature).
enum class TransformerHead { Flatten, Cls, Mean, Max };

struct TransformerConfig {
  int64_t seq_len = 0;         // N of the input (without the CLS position)
  int64_t dim = 32;
  int64_t heads = 4;
  int64_t ff_hidden = 64;
  int64_t layers = 1;
  int64_t classes = 1;         // 1 for regression
  // Exactly one of vocab (token ids) and input_features (real values) is > 0.
  int64_t vocab = 0;
  int64_t padding_idx = -1;    // token embedding row that stays zero; -1: none
  int64_t input_features = 0;
  bool position_table = false; // learned absolute positions (N', d)
  double embedding_init = 0;   // > 0: token embedding from U(-r, r); 0: N(0, 1)
  TransformerHead head = TransformerHead::Flatten;
  double dropout = 0;          // inside every encoder layer
  double embed_dropout = 0;    // on the embedded input
};

class TransformerModel : public Module {
 public:
  explicit TransformerModel(const TransformerConfig& config);
  std::string type_name() const override { return "TransformerModel"; }
  // ids (B, seq_len) int64 or values (B, seq_len, input_features) -> (B, classes).
  Tensor forward(const Tensor& input) override;

  // The number of positions the encoder sees: seq_len, plus one with the CLS head.
  int64_t positions() const { return config.seq_len + (config.head == TransformerHead::Cls ? 1 : 0); }

  TransformerConfig config;
  std::shared_ptr<Embedding> embedding;     // token input, or null
  std::shared_ptr<Linear> init_linear;      // real-valued input, or null
  Tensor cls_token;                         // (d), CLS head only
  Tensor pos_embedding;                     // (positions(), d), or undefined
  std::vector<std::shared_ptr<TransformerEncoderLayer>> layers;
  std::shared_ptr<LayerNorm> norm;
  std::shared_ptr<Linear> final;
};

}  // namespace pmx::nn
