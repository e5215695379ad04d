// Inspecting a Paramixer block: the dense N x N matrix its M sparse factors multiply out to.
//
// For one input sequence, block l mixes g(V_in) with
//
//   E = (I + W_M) ... (I + W_2)(I + W_1),      W_m = f_m(X) on the protocol pattern,
//   V_out = E g(V_in)                           (dropout off)
//
// so E[i, j] is how much position j of g(V_in) contributes to output position i: the "effective
// attention" of the block. E is computed by applying the factors to the identity, one factor at a
// time with the mixing kernel (V = I, d = N): M sparse steps of O(N K N) each, no dense N^3 products.
// The result is dense (N^2 values), so N is capped at 2048 (32 MiB in float64).
//
// embedded_input() recomputes X of a ParamixerModel (embedding or input Linear, CLS token,
// position table; no dropout), the tensor every block's f_m read in the official model;
// block_weights_input() gives what block l's f_m read under any config.weights_input.
//
//   pmx::nn::ParamixerModel model(config);  pmx::optim::load_weights("w.safetensors", model);
//   pmx::Tensor x = pmx::nn::embedded_input(model, tokens);           // (1, N', d)
//   pmx::Tensor e = pmx::nn::effective_interaction(*model.blocks[0], x);   // (N', N')
//   // any config.weights_input, any block l:
//   e = pmx::nn::effective_interaction(*model.blocks[l], pmx::nn::block_weights_input(model, tokens, l));
//   pmx::write_heatmap_png("mixer.png", e);                            // core/image_io.h
#pragma once
#include "core/tensor.h"
#include "layers/paramixer_block.h"
#include "layers/paramixer_model.h"

namespace pmx::nn {

// The largest N effective_interaction accepts.
constexpr int64_t kMaxInteractionLen = 2048;

// x: (1, block.n, block.dim) floating, the embedded input X -> (N, N) of x's dtype, no gradient.
// Throws pmx::Error unless x has batch 1 and the block's shape, or if N > kMaxInteractionLen.
Tensor effective_interaction(ParamixerBlock& block, const Tensor& x);

// X of `model` for `input` (tokens (B, N) int64 or values (B, N, F)) -> (B, inner_len(), d), as
// ParamixerModel::forward computes it before the blocks, without dropout and without gradient.
Tensor embedded_input(ParamixerModel& model, const Tensor& input);

// What block `block` of `model` computes its mixing weights from, for `input` -> (B, inner_len(), d):
// X for the official model (config.weights_input = Embedding); otherwise that block's input V (or
// its layer norm), found by running the blocks before it. Dropout off, no gradient; the model's
// training mode is left as it was. Throws pmx::Error if `block` is not in [0, L).
Tensor block_weights_input(ParamixerModel& model, const Tensor& input, int64_t block);

}  // namespace pmx::nn
