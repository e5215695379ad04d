#include "layers/transformer.h"

#include <string>

#include "autograd/ops_elementwise.h"
#include "autograd/ops_nn.h"
#include "autograd/ops_reduce.h"
#include "autograd/ops_shape.h"
#include "core/random.h"

namespace pmx::nn {

TransformerEncoderLayer::TransformerEncoderLayer(int64_t dim, int64_t heads, int64_t ff_hidden, double p) {
  PMX_CHECK(dim > 0 && ff_hidden > 0, "[TransformerEncoderLayer] dim and ff_hidden must be positive, got dim = ",
            dim, ", ff_hidden = ", ff_hidden);
  self_attn = register_module("self_attn", std::make_shared<MultiheadSelfAttention>(dim, heads, p));
  linear1 = register_module("linear1", std::make_shared<Linear>(dim, ff_hidden));
  dropout = register_module("dropout", std::make_shared<Dropout>(p));
  linear2 = register_module("linear2", std::make_shared<Linear>(ff_hidden, dim));
  norm1 = register_module("norm1", std::make_shared<LayerNorm>(dim));
  norm2 = register_module("norm2", std::make_shared<LayerNorm>(dim));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(p));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(p));
}

Tensor TransformerEncoderLayer::forward(const Tensor& x) {
  PMX_CHECK(x.dim() == 3 && x.size(2) == norm1->dim, "[TransformerEncoderLayer] expected input (B, N, ",
            norm1->dim, "), got ", shape_str(x.shape()));
  Tensor h = add(x, (*dropout1)((*self_attn)((*norm1)(x))));
  Tensor ff = (*linear2)((*dropout)(gelu((*linear1)((*norm2)(h)))));
  return add(h, (*dropout2)(ff));
}

namespace {

void check_config(const TransformerConfig& c) {
  PMX_CHECK(c.seq_len > 0 && c.dim > 0 && c.layers >= 0 && c.classes > 0,
            "[TransformerModel] seq_len, dim and classes must be positive and layers >= 0, got seq_len = ", c.seq_len,
            ", dim = ", c.dim, ", classes = ", c.classes, ", layers = ", c.layers);
  PMX_CHECK((c.vocab > 0) != (c.input_features > 0),
            "[TransformerModel] set exactly one of vocab (token input) and input_features (real input), got vocab = ",
            c.vocab, ", input_features = ", c.input_features);
  PMX_CHECK(c.embedding_init >= 0 && (c.embedding_init == 0 || c.vocab > 0),
            "[TransformerModel] embedding_init must be >= 0 and applies to token input only, got ", c.embedding_init);
  PMX_CHECK(c.padding_idx == -1 || c.vocab > 0, "[TransformerModel] padding_idx applies to token input only (vocab > 0), got ",
            c.padding_idx);
  PMX_CHECK(c.embed_dropout >= 0 && c.embed_dropout < 1, "[TransformerModel] embed_dropout must be in [0, 1), got ",
            c.embed_dropout);
}

}  // namespace

TransformerModel::TransformerModel(const TransformerConfig& c) : config(c) {
  check_config(c);
  const int64_t d = c.dim;
  if (c.head == TransformerHead::Cls) {
    cls_token = register_parameter("cls_token", empty({d}));
    normal_(cls_token, 0.0, 1.0);
  }
  if (c.position_table) {
    pos_embedding = register_parameter("pos_embedding", empty({positions(), d}));
    normal_(pos_embedding, 0.0, 1.0);
  }
  if (c.vocab > 0) {
    embedding = register_module("embedding", std::make_shared<Embedding>(c.vocab, d, c.padding_idx));
    if (c.embedding_init > 0) embedding->reset_uniform(c.embedding_init);
  } else {
    init_linear = register_module("init_linear", std::make_shared<Linear>(c.input_features, d));
  }
  // A parameter-free container, so the names are "layers.{l}...." as in an nn.ModuleList.
  auto list = register_module("layers", std::make_shared<Module>());
  for (int64_t l = 0; l < c.layers; ++l)
    layers.push_back(list->register_module(
        std::to_string(l), std::make_shared<TransformerEncoderLayer>(d, c.heads, c.ff_hidden, c.dropout)));
  norm = register_module("norm", std::make_shared<LayerNorm>(d));
  const int64_t head_in = c.head == TransformerHead::Flatten ? positions() * d : d;
  final = register_module("final", std::make_shared<Linear>(head_in, c.classes));
}

Tensor TransformerModel::forward(const Tensor& input) {
  const TransformerConfig& c = config;
  Tensor x;  // (B, seq_len, d)
  if (embedding) {
    PMX_CHECK(input.dim() == 2 && input.dtype() == DType::Int64 && input.size(1) == c.seq_len,
              "[TransformerModel] expected token ids (B, ", c.seq_len, ") int64, got ", shape_str(input.shape()),
              " ", dtype_name(input.dtype()), " (the position table and head are built for seq_len = ", c.seq_len, ")");
    x = (*embedding)(input);
  } else {
    PMX_CHECK(input.dim() == 3 && input.size(1) == c.seq_len && input.size(2) == c.input_features,
              "[TransformerModel] expected values (B, ", c.seq_len, ", ", c.input_features, "), got ",
              shape_str(input.shape()), " (the position table and head are built for seq_len = ", c.seq_len, ")");
    x = (*init_linear)(input);
  }
  const int64_t B = x.size(0), d = c.dim;
  if (c.head == TransformerHead::Cls) {
    // Broadcasting the (d) vector against zeros gives (B, 1, d) whose gradient sums back to (d).
    Tensor cls = add(zeros({B, 1, d}, x.dtype()), reshape(cls_token, {1, 1, d}));
    x = concat({cls, x}, 1);  // (B, seq_len + 1, d)
  }
  if (pos_embedding.defined()) x = add(x, pos_embedding);
  x = pmx::dropout(x, c.embed_dropout, is_training());
  for (const auto& layer : layers) x = (*layer)(x);
  x = (*norm)(x);  // (B, positions, d)
  switch (c.head) {
    case TransformerHead::Flatten: return (*final)(reshape(x, {B, positions() * d}));
    case TransformerHead::Cls: return (*final)(squeeze(slice(x, 1, 0, 1), 1));
    case TransformerHead::Mean: return (*final)(mean(x, 1));
    case TransformerHead::Max: return (*final)(max(x, 1));
  }
  return Tensor();
}

}  // namespace pmx::nn
