#include "layers/paramixer_model.h"

#include "autograd/ops_elementwise.h"
#include "autograd/ops_nn.h"
#include "autograd/ops_reduce.h"
#include "autograd/ops_shape.h"
#include "core/random.h"

namespace pmx::nn {

MixingWeightsInput parse_mixing_weights_input(const std::string& name) {
  if (name == "embedding") return MixingWeightsInput::Embedding;
  if (name == "block-input") return MixingWeightsInput::BlockInput;
  if (name == "block-input-ln") return MixingWeightsInput::NormalizedBlockInput;
  throw Error(detail::concat("mixing weights input (--weights-from) must be embedding, block-input or "
                             "block-input-ln, got '", name, "'"));
}

ParamixerModel::ParamixerModel(const ParamixerConfig& c) : config(c) {
  PMX_CHECK(c.seq_len >= 2, "[ParamixerModel] seq_len must be >= 2, got ", c.seq_len);
  PMX_CHECK((c.vocab > 0) != (c.input_features > 0),
            "[ParamixerModel] set exactly one of vocab (token input) and input_features (real input), got vocab = ",
            c.vocab, ", input_features = ", c.input_features);
  PMX_CHECK(c.dim > 0 && c.hidden > 0 && c.layers >= 1 && c.classes >= 1,
            "[ParamixerModel] need dim, hidden, layers, classes >= 1, got dim = ", c.dim, ", hidden = ", c.hidden,
            ", layers = ", c.layers, ", classes = ", c.classes);
  PMX_CHECK(c.p1 >= 0 && c.p1 < 1, "[ParamixerModel] p1 must be in [0, 1), got ", c.p1);
  PMX_CHECK(c.embedding_init >= 0, "[ParamixerModel] embedding_init must be >= 0, got ", c.embedding_init);
  PMX_CHECK(c.embedding_init == 0 || c.vocab > 0,
            "[ParamixerModel] embedding_init applies to token input only (vocab > 0)");
  PMX_CHECK(c.padding_idx == -1 || c.vocab > 0, "[ParamixerModel] padding_idx applies to token input only (vocab > 0), got ",
            c.padding_idx);
  if (c.vocab > 0) {
    embedding = register_module("embedding", std::make_shared<Embedding>(c.vocab, c.dim, c.padding_idx));
    if (c.embedding_init > 0) embedding->reset_uniform(c.embedding_init);
  } else {
    init_linear = register_module("init_linear", std::make_shared<Linear>(c.input_features, c.dim));
  }
  int64_t n = inner_len();
  if (c.head == ParamixerHead::Cls) {
    cls_token = register_parameter("cls_token", empty({c.dim}));
    normal_(cls_token, 0.0, 1.0);
  }
  if (c.position_table) {
    // An Embedding module, as in the official code, so the name reads "apc_embedding.weight";
    // every row is used, so its weight is added directly instead of looked up.
    apc_embedding = register_module("apc_embedding", std::make_shared<Embedding>(n, c.dim));
  }
  auto list = register_module("attention", std::make_shared<Module>());
  for (int64_t l = 0; l < c.layers; ++l)
    blocks.push_back(list->register_module(
        std::to_string(l), std::make_shared<ParamixerBlock>(n, c.dim, c.hidden, c.protocol, c.floor_factors, c.p2)));
  for (auto& b : blocks) b->recompute_f = c.recompute;
  int64_t head_in = c.head == ParamixerHead::Flatten ? n * c.dim : c.dim;
  final = register_module("final", std::make_shared<Linear>(head_in, c.classes));
}

void ParamixerModel::set_fused_f(bool on) {
  for (auto& b : blocks) b->fused_f = on;
}

Tensor ParamixerModel::embed(const Tensor& input) {
  const ParamixerConfig& c = config;
  Tensor e;
  if (embedding) {
    PMX_CHECK(input.defined() && input.dim() == 2 && input.dtype() == DType::Int64 && input.size(1) == c.seq_len,
              "[ParamixerModel] token input must be int64 (B, ", c.seq_len, "), got ",
              input.defined() ? std::string(dtype_name(input.dtype())) + " " + shape_str(input.shape()) : "undefined");
    e = (*embedding)(input);
  } else {
    PMX_CHECK(input.defined() && input.dim() == 3 && input.size(1) == c.seq_len && input.size(2) == c.input_features,
              "[ParamixerModel] real input must be (B, ", c.seq_len, ", ", c.input_features, "), got ",
              input.defined() ? shape_str(input.shape()) : "undefined");
    e = (*init_linear)(input);
  }
  if (cls_token.defined()) {
    // Broadcast the (d) vector to (B, 1, d); the add's backward sums the batch back.
    Tensor cls = add(zeros({e.size(0), 1, c.dim}, cls_token.dtype()), cls_token);
    e = concat({cls, e}, 1);
  }
  if (apc_embedding) e = add(e, apc_embedding->weight);
  return e;
}

Tensor ParamixerModel::mixing_weights_input(const Tensor& v, const Tensor& x) const {
  switch (config.weights_input) {
    case MixingWeightsInput::Embedding: return x;
    case MixingWeightsInput::BlockInput: return v;
    case MixingWeightsInput::NormalizedBlockInput: break;
  }
  // A layer norm without affine parameters: unit scale, zero shift.
  return layer_norm(v, ones({config.dim}, v.dtype()), zeros({config.dim}, v.dtype()));
}

Tensor ParamixerModel::forward(const Tensor& input) {
  const ParamixerConfig& c = config;
  Tensor e = embed(input);
  int64_t B = e.size(0);
  Tensor x = c.p1 > 0 ? dropout(e, c.p1, is_training()) : e;
  Tensor v = c.p1 > 0 ? dropout(x, c.p1, is_training()) : x;
  for (auto& block : blocks) v = block->forward(v, mixing_weights_input(v, x));
  Tensor features;
  switch (c.head) {
    case ParamixerHead::Flatten: features = reshape(v, {B, inner_len() * c.dim}); break;
    case ParamixerHead::Cls: features = reshape(slice(v, 1, 0, 1), {B, c.dim}); break;
    case ParamixerHead::Mean: features = mean(v, 1); break;
    case ParamixerHead::Max: features = max(v, 1); break;  // per feature, over positions
  }
  return (*final)(features);
}

}  // namespace pmx::nn
