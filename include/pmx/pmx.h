// pmx: the umbrella header. Everything a user needs: tensors, ops with autograd, layers,
// optimizers, checkpoints.
//
//   #include <pmx/pmx.h>
#pragma once

#include "core/error.h"
#include "core/tensor.h"
#include "core/random.h"
#include "core/threads.h"
#include "core/timer.h"
#include "core/allocator.h"

#include "autograd/node.h"
#include "autograd/gradcheck.h"
#include "autograd/checkpoint.h"
#include "autograd/ops_shape.h"
#include "autograd/ops_elementwise.h"
#include "autograd/ops_reduce.h"
#include "autograd/ops_linalg.h"
#include "autograd/ops_nn.h"
#include "autograd/ops_loss.h"
#include "autograd/ops_mixing.h"
#include "kernels/mixing.h"

// layers/, optim/ and checkpoints: added below as they land.
#include "layers/module.h"
#include "layers/linear.h"
#include "layers/mlp.h"
#include "layers/sequential.h"
#include "layers/activation.h"
#include "layers/dropout.h"
#include "layers/embedding.h"
#include "layers/layer_norm.h"
#include "optim/optimizer.h"
#include "optim/adam.h"
#include "optim/sgd.h"
#include "optim/clip_grad.h"
#include "optim/lr_schedule.h"
#include "core/file_io.h"
#include "core/safetensors.h"
#include "optim/checkpoint.h"
#include "layers/attention.h"
#include "layers/transformer.h"
#include "autograd/ops_grouped_linear.h"
#include "layers/paramixer_block.h"
#include "layers/paramixer_model.h"
#include "autograd/ops_attention.h"
