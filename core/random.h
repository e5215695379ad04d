// Seeded, counter-based random numbers.
//
// Every random draw is a pure function of (seed, position): element i of a draw that starts at
// counter c gets hash(seed, c + i). So a tensor can be filled by any number of threads in any
// order and get the same values, dropout masks do not depend on the thread count, and the
// whole generator state is two integers (saved in checkpoints).
//
//   pmx::manual_seed(42);
//   pmx::Tensor a = pmx::randn({2, 3});        // N(0, 1)
//   pmx::Tensor b = pmx::rand({4});            // U[0, 1)
//   pmx::Generator& g = pmx::default_generator();
//   pmx::GeneratorState s = g.state();  /* ... */  g.set_state(s);   // replay the same draws
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace pmx {

struct GeneratorState {
  uint64_t seed = 0;
  uint64_t counter = 0;
};

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) { state_.seed = seed; }
  void manual_seed(uint64_t seed) { state_ = GeneratorState{seed, 0}; }
  GeneratorState state() const { return state_; }
  void set_state(const GeneratorState& s) { state_ = s; }
  // Reserves `count` consecutive counter values and returns the first.
  uint64_t advance(uint64_t count) {
    uint64_t start = state_.counter;
    state_.counter += count;
    return start;
  }
  uint64_t seed() const { return state_.seed; }

 private:
  GeneratorState state_;
};

// The process-wide generator used when none is passed.
Generator& default_generator();
void manual_seed(uint64_t seed);

// 64 random bits for position `index` of the stream `seed` (SplitMix64 finaliser, twice).
inline uint64_t random_bits(uint64_t seed, uint64_t index) {
  uint64_t z = index + seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
  for (int round = 0; round < 2; ++round) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
  }
  return z;
}
// Uniform in [0, 1) with 53 random bits.
inline double random_uniform(uint64_t seed, uint64_t index) {
  return double(random_bits(seed, index) >> 11) * (1.0 / 9007199254740992.0);
}

// In-place fills (no autograd). Each consumes numel (uniform) or 2 * numel (normal) counters.
// uniform_ draws from [low, high) in the tensor's own precision.
void uniform_(Tensor& t, double low, double high, Generator& g = default_generator());
void normal_(Tensor& t, double mean, double std, Generator& g = default_generator());
// 1 with probability p, else 0.
void bernoulli_(Tensor& t, double p, Generator& g = default_generator());

Tensor rand(const Shape& shape, DType dtype = DType::Float32, Generator& g = default_generator());
Tensor randn(const Shape& shape, DType dtype = DType::Float32, Generator& g = default_generator());
// Integers uniform in [low, high), int64.
Tensor randint(int64_t low, int64_t high, const Shape& shape, Generator& g = default_generator());
// A uniformly random permutation of 0..n-1 (Fisher-Yates), for shuffling.
std::vector<int64_t> randperm(int64_t n, Generator& g = default_generator());

}  // namespace pmx
