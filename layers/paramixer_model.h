// ParamixerModel: the Paramixer sequence classifier / regressor of the official code: an input
// embedding, L ParamixerBlocks that all read the same embedded input X, and a head.
//
//   tokens (B, N) int64:  E = Embedding(vocab, d)(tokens)         ("embedding.weight")
//   values (B, N, F):     E = Linear(F, d)(values)                ("init_linear.{weight,bias}")
//   CLS head:             E = [cls; E], a learned (d) vector at position 0 ("cls_token"), so
//                         the blocks see N' = N + 1 positions; otherwise N' = N
//   position table:       E = E + P, P (N', d) learned            ("apc_embedding.weight")
//   X = Dropout(p1)(E);   V = Dropout(p1)(X)   (a second, independent mask)
//   V = block_l(V, X) for l = 0..L-1                             ("attention.{l}. ...")
//     weights_input (not in the official code, where every block's mixing weights see only X):
//     BlockInput: V = block_l(V, V); NormalizedBlockInput: V = block_l(V, LayerNorm(V)), a
//     layer norm without affine parameters, so the weights stay bounded however V grows
//   head ("final.{weight,bias}"):
//     Flatten: Linear(N'*d, classes) on V reshaped (B, N'*d), position-major (feature n*d + c)
//     Cls:     Linear(d, classes) on V[:, 0, :]
//     Mean:    Linear(d, classes) on the mean of V over positions
//     Max:     Linear(d, classes) on the max of V over positions, per feature (not in the
//              official code: a translation-invariant readout that a few positions can drive)
//   output (B, classes); classes = 1 for regression (the adding problem).
//
// Init as PyTorch: Linear U(+-1/sqrt(fan_in)); embedding, position table and cls_token N(0, 1);
// with embedding_init = r > 0 the token embedding is redrawn from U(-r, r) right after it is made
// (as the official code's init_embedding; the padding row stays zero).
// Parameters are drawn in registration order: input layer, cls_token, position table, blocks,
// final.
//
//   pmx::nn::ParamixerConfig c;
//   c.seq_len = 1024; c.input_features = 2; c.dim = c.hidden = 32;       // the adding problem
//   pmx::nn::ParamixerModel model(c);                                   // 49,167 parameters
//   pmx::Tensor y = model(values);                                      // (B, 1024, 2) -> (B, 1)
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "layers/dropout.h"
#include "layers/embedding.h"
#include "layers/linear.h"
#include "layers/paramixer_block.h"

namespace pmx::nn {

enum class ParamixerHead { Flatten, Cls, Mean, Max };
enum class MixingWeightsInput { Embedding, BlockInput, NormalizedBlockInput };
// "embedding" | "block-input" | "block-input-ln" (the apps' --weights-from) -> the enum; throws
// pmx::Error naming the value otherwise.
MixingWeightsInput parse_mixing_weights_input(const std::string& name);

struct ParamixerConfig {
  int64_t seq_len = 0;          // N of the input (without the CLS position)
  int64_t vocab = 0;            // > 0: token input (int64 ids in [0, vocab))
  int64_t padding_idx = -1;     // token input only; -1: none
  int64_t input_features = 0;   // > 0: real-valued input (B, N, input_features)
  int64_t dim = 32;             // d
  int64_t hidden = 32;          // h, of g and every f_m
  int64_t layers = 1;           // L
  int64_t classes = 1;
  Protocol protocol = Protocol::Chord;
  bool floor_factors = false;   // M = floor(log2 N') instead of ceil
  bool position_table = false;  // learned (N', d) table added to the embedding
  double embedding_init = 0;    // > 0: token embedding drawn from U(-r, r) (the official code's
                                // init_embedding uses 0.1, for byte-level text); 0: N(0, 1)
  ParamixerHead head = ParamixerHead::Flatten;
  double p1 = 0;                // dropout on the embedding (twice, see above)
  double p2 = 0;                // dropout at the end of every block
  bool recompute = false;       // checkpoint the f-MLPs on the paths that keep their hidden
                                // layers (ParamixerBlock::recompute_f); the default path
                                // recomputes them per row chunk anyway
  // What every block's f_m read. Embedding (official): X, so block l's mixing weights depend only
  // on the token at each position (and the position table). The others: the block's input V, so
  // from the second block on they can depend on context the earlier blocks mixed in.
  MixingWeightsInput weights_input = MixingWeightsInput::Embedding;
};

class ParamixerModel : public Module {
 public:
  explicit ParamixerModel(const ParamixerConfig& config);
  std::string type_name() const override { return "ParamixerModel"; }
  // tokens (B, N) int64, or values (B, N, input_features) floating -> (B, classes).
  Tensor forward(const Tensor& input) override;
  // The embedded input E before dropout (B, N', d): embedding or init_linear, CLS token,
  // position table. Every block's f-MLPs read (a dropout of) this.
  Tensor embed(const Tensor& input);
  // The sequence length inside the blocks: seq_len, plus one with the CLS head.
  int64_t inner_len() const { return config.seq_len + (config.head == ParamixerHead::Cls ? 1 : 0); }
  // What a block's f_m read (config.weights_input), given the block's input v and the embedded
  // input x.
  Tensor mixing_weights_input(const Tensor& v, const Tensor& x) const;
  // Selects the fused or the reference f-MLP path in every block.
  void set_fused_f(bool on);

  ParamixerConfig config;
  std::shared_ptr<Embedding> embedding;    // token input
  std::shared_ptr<Linear> init_linear;     // real-valued input
  Tensor cls_token;                        // (d), Cls head only
  std::shared_ptr<Embedding> apc_embedding;  // position table (N', d), when config.position_table
  std::vector<std::shared_ptr<ParamixerBlock>> blocks;
  std::shared_ptr<Linear> final;
};

}  // namespace pmx::nn
