// checkpoint: trade compute for memory by re-running a function in the backward pass.
//
// The forward runs `fn` without recording a graph, so none of its intermediate activations
// are kept; only its inputs and output live on. The backward re-runs `fn` with recording on
// (restoring the random generator first, so dropout inside draws the same masks), then
// backpropagates through that fresh graph. Parameters used inside `fn` get their gradients
// from that inner pass even when no input requires a gradient. Like torch.utils.checkpoint.
//
// Paramixer uses it for the f-MLPs: their hidden layers are (B, N, h) per factor, the largest
// saved tensors of a block, and they are cheap to recompute from X.
//
//   Tensor w = checkpoint([&](const std::vector<Tensor>& in) { return mlp(in[0]); }, {x});
#pragma once
#include <functional>
#include <vector>

#include "core/tensor.h"

namespace pmx {

using CheckpointFn = std::function<Tensor(const std::vector<Tensor>&)>;

Tensor checkpoint(const CheckpointFn& fn, const std::vector<Tensor>& inputs);

}  // namespace pmx
