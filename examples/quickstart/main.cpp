#include <pmx/pmx.h>
#include <iostream>

int main() {
  pmx::manual_seed(0);
  pmx::nn::Linear layer(4, 1);
  pmx::optim::Adam opt(layer.parameters(), /*lr=*/1e-2);
  pmx::Tensor x = pmx::randn({64, 4});
  pmx::Tensor y = pmx::sum(x, /*dim=*/1, /*keepdim=*/true);
  for (int step = 0; step < 500; ++step) {
    pmx::Tensor loss = pmx::mse_loss(layer(x), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  std::cout << pmx::mse_loss(layer(x), y).item() << "\n";
}
