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
#include "autograd/ops_shape.h"
#include "autograd/ops_elementwise.h"
#include "autograd/ops_reduce.h"
#include "autograd/ops_linalg.h"
#include "autograd/ops_nn.h"
#include "autograd/ops_loss.h"

// layers/, optim/ and checkpoints: added below as they land.
