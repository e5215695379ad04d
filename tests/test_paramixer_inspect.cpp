// Inspecting a trained mixer: effective_interaction (the product of a block's factors) against a
// dense reference and against the block itself; embedded_input against the model; PNG heatmaps.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include "autograd/ops_linalg.h"
#include "autograd/ops_shape.h"
#include "core/file_io.h"
#include "core/image_io.h"
#include "core/random.h"
#include "core/threads.h"
#include "layers/paramixer_inspect.h"

#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>

using namespace pmx;
using pmx::nn::ParamixerBlock;
using pmx::nn::Protocol;

namespace {

// prod_m (I + W_m) as explicit dense N x N matrices multiplied naively (the O(M N^3) reference).
std::vector<double> dense_product(ParamixerBlock& block, const Tensor& x) {
  const int64_t n = block.n;
  std::vector<double> e(size_t(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) e[size_t(i * n + i)] = 1;
  std::vector<Tensor> w = block.factor_weights(x);
  for (size_t m = 0; m < w.size(); ++m) {
    std::vector<double> wm = w[m].contiguous().to_vector<double>(), f(size_t(n * n), 0.0), next(size_t(n * n), 0.0);
    const std::vector<long>& o = block.offsets[m];
    for (int64_t i = 0; i < n; ++i) {
      f[size_t(i * n + i)] += 1;
      for (size_t k = 0; k < o.size(); ++k)
        f[size_t(i * n + ((i + o[k]) % n + n) % n)] += wm[size_t(i * int64_t(o.size()) + int64_t(k))];
    }
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j)
        for (int64_t l = 0; l < n; ++l) next[size_t(i * n + j)] += f[size_t(i * n + l)] * e[size_t(l * n + j)];
    e = next;
  }
  return e;
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::temp_directory_path() / ("pmx_inspect_" + std::to_string(::getpid()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

uint32_t be32(const std::string& s, size_t at) {
  return uint32_t(uint8_t(s[at])) << 24 | uint32_t(uint8_t(s[at + 1])) << 16 | uint32_t(uint8_t(s[at + 2])) << 8 |
         uint32_t(uint8_t(s[at + 3]));
}

// Decoded RGB pixels of a PNG file.
struct Image {
  int w = 0, h = 0;
  std::vector<uint8_t> rgb;
  std::vector<int> at(int x, int y) const {
    const uint8_t* p = rgb.data() + (size_t(y) * size_t(w) + size_t(x)) * 3;
    return {p[0], p[1], p[2]};
  }
};
Image decode(const std::string& path) {
  std::string bytes = read_file(path);
  Image img;
  int comp = 0;
  unsigned char* p = stbi_load_from_memory(reinterpret_cast<const unsigned char*>(bytes.data()), int(bytes.size()),
                                           &img.w, &img.h, &comp, 3);
  REQUIRE(p != nullptr);
  img.rgb.assign(p, p + size_t(img.w) * size_t(img.h) * 3);
  stbi_image_free(p);
  return img;
}

}  // namespace

TEST_CASE("inspect: effective_interaction equals the dense product of (I + W_m), both protocols, N = 12") {
  for (auto protocol : {Protocol::Chord, Protocol::Cdil}) {
    CAPTURE(int(protocol));
    ParamixerBlock block(12, 5, 6, protocol);
    block.to(DType::Float64);
    Tensor x = randn({1, 12, 5}, DType::Float64);
    Tensor e = nn::effective_interaction(block, x);
    CHECK(e.shape() == Shape{12, 12});
    CHECK(e.dtype() == DType::Float64);
    CHECK(!e.requires_grad());
    std::vector<double> want = dense_product(block, x);
    CHECK(max_abs_diff(e.to_vector<double>(), want) < 1e-12);
    // Not trivially the identity: the factors really mix (every factor has M >= 4 here).
    std::vector<double> eye(144, 0.0);
    for (int i = 0; i < 12; ++i) eye[size_t(i * 13)] = 1;
    CHECK(max_abs_diff(want, eye) > 1e-2);
  }
}

TEST_CASE("inspect: the block's output is effective_interaction @ g(V_in), float32 and float64") {
  for (auto dtype : {DType::Float64, DType::Float32}) {
    for (auto protocol : {Protocol::Chord, Protocol::Cdil}) {
      std::string dtype_str = dtype_name(dtype);
      CAPTURE(dtype_str);
      CAPTURE(int(protocol));
      ParamixerBlock block(19, 4, 3, protocol, false, /*p2=*/0.5);
      block.to(dtype);
      block.eval();  // dropout off
      Tensor x = randn({1, 19, 4}, dtype), v_in = randn({1, 19, 4}, dtype);
      Tensor out = block.forward(v_in, x);
      Tensor gv = reshape((*block.g)(v_in), {19, 4});
      Tensor want = matmul(nn::effective_interaction(block, x), gv);
      std::vector<double> a = out.to(DType::Float64).to_vector<double>(), b = want.to(DType::Float64).to_vector<double>();
      CHECK(max_abs_diff(a, b) < (dtype == DType::Float64 ? 1e-12 : 1e-4));
    }
  }
}

TEST_CASE("inspect: effective_interaction is bit-identical at 1 and 2 threads, float32 close to float64") {
  ParamixerBlock block(300, 8, 8, Protocol::Chord);  // N^2 (K + 1) well above the parallel threshold
  Tensor x = randn({1, 300, 8});
  int previous = get_num_threads();
  set_num_threads(1);
  std::vector<float> one = nn::effective_interaction(block, x).to_vector<float>();
  set_num_threads(2);
  std::vector<float> two = nn::effective_interaction(block, x).to_vector<float>();
  set_num_threads(previous);
  CHECK(one == two);
  // The float32 kernels (vector paths at d = N = 300) agree with the float64 ones.
  block.to(DType::Float64);
  std::vector<double> ref = nn::effective_interaction(block, x.to(DType::Float64)).to_vector<double>();
  double worst = 0, scale = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    worst = std::max(worst, std::abs(double(one[i]) - ref[i]));
    scale = std::max(scale, std::abs(ref[i]));
  }
  CHECK(worst < 1e-5 * scale);
}

TEST_CASE("inspect: effective_interaction refuses bad inputs, naming the op and shapes") {
  ParamixerBlock block(12, 5, 6);
  auto expect_error = [&](ParamixerBlock& b, const Tensor& x, const std::string& part) {
    try {
      nn::effective_interaction(b, x);
      FAIL("accepted " << (x.defined() ? shape_str(x.shape()) : "undefined"));
    } catch (const Error& e) {
      std::string what = e.what();
      CHECK(what.find("[effective_interaction]") != std::string::npos);
      CHECK_MESSAGE(what.find(part) != std::string::npos, what);
    }
  };
  expect_error(block, randn({2, 12, 5}), "(2, 12, 5)");  // batch of 2: one matrix per sequence
  expect_error(block, randn({1, 11, 5}), "(1, 11, 5)");
  expect_error(block, randn({1, 12, 4}), "(1, 12, 4)");
  expect_error(block, randn({12, 5}), "(12, 5)");
  expect_error(block, Tensor(), "undefined");
  ParamixerBlock big(2049, 1, 1);
  expect_error(big, zeros({1, 2049, 1}), "2049");
  ParamixerBlock bigger(3000, 1, 1);  // 3000^2 float32 is 34 MiB (the message said 68, float64's)
  expect_error(bigger, zeros({1, 3000, 1}), "34 MiB");
  ParamixerBlock largest(2048, 1, 1);  // the cap itself is accepted
  CHECK(nn::effective_interaction(largest, zeros({1, 2048, 1})).shape() == Shape{2048, 2048});
}

TEST_CASE("inspect: embedded_input reproduces the model's forward (tokens + table, values + CLS)") {
  nn::ParamixerConfig tok;
  tok.seq_len = 10;
  tok.vocab = 7;
  tok.position_table = true;
  tok.dim = 4;
  tok.hidden = 3;
  tok.layers = 2;
  tok.classes = 3;
  nn::ParamixerConfig val = tok;
  val.vocab = 0;
  val.input_features = 2;
  val.head = nn::ParamixerHead::Cls;
  val.p1 = 0.3;  // dropout exists but eval mode turns it off
  for (const auto& c : {tok, val}) {
    nn::ParamixerModel model(c);
    model.eval();
    Tensor input = c.vocab > 0 ? randint(0, 7, {2, 10}) : randn({2, 10, 2});
    Tensor x = nn::embedded_input(model, input);
    CHECK(x.shape() == Shape{2, model.inner_len(), 4});
    Tensor v = x;
    for (auto& block : model.blocks) v = block->forward(v, x);
    Tensor features = c.head == nn::ParamixerHead::Cls ? reshape(slice(v, 1, 0, 1), {2, 4})
                                                       : reshape(v, {2, model.inner_len() * 4});
    std::vector<float> a = (*model.final)(features).to_vector<float>(), b = model(input).to_vector<float>();
    CHECK(a == b);
  }
  nn::ParamixerModel model(tok);
  CHECK_THROWS_AS(nn::embedded_input(model, randint(0, 7, {2, 9})), Error);
  CHECK_THROWS_AS(nn::embedded_input(model, randn({2, 10})), Error);
}

TEST_CASE("inspect: block_weights_input gives what each block's f_m read, for every weights_input") {
  nn::ParamixerConfig c;
  c.seq_len = 11;
  c.vocab = 5;
  c.dim = 4;
  c.hidden = 3;
  c.layers = 3;
  c.classes = 2;
  c.p2 = 0.5;  // dropout exists; block_weights_input runs the blocks without it
  Tensor tokens = randint(0, 5, {1, 11});
  for (auto input : {nn::MixingWeightsInput::Embedding, nn::MixingWeightsInput::BlockInput,
                     nn::MixingWeightsInput::NormalizedBlockInput}) {
    CAPTURE(int(input));
    c.weights_input = input;
    nn::ParamixerModel model(c);
    model.train();
    Tensor x = nn::embedded_input(model, tokens);
    // The last block's output from its input and its effective interaction: E(f input) @ g(V_in).
    model.eval();
    Tensor v = x;
    for (int64_t l = 0; l < 2; ++l) v = model.blocks[size_t(l)]->forward(v, model.mixing_weights_input(v, x));
    Tensor out = model.blocks[2]->forward(v, model.mixing_weights_input(v, x));
    model.train();
    Tensor f_in = nn::block_weights_input(model, tokens, 2);
    CHECK(model.is_training());  // restored
    Tensor want = matmul(nn::effective_interaction(*model.blocks[2], f_in), reshape((*model.blocks[2]->g)(v), {11, 4}));
    CHECK(max_abs_diff(out.to(DType::Float64).to_vector<double>(), want.to(DType::Float64).to_vector<double>()) <
          1e-4);
    std::vector<float> f0 = nn::block_weights_input(model, tokens, 0).to_vector<float>();
    if (input == nn::MixingWeightsInput::NormalizedBlockInput)
      CHECK(f0 != x.to_vector<float>());
    else
      CHECK(f0 == x.to_vector<float>());  // block 0's input is X itself
    CHECK_THROWS_WITH_AS(nn::block_weights_input(model, tokens, 3), doctest::Contains("block 3"), Error);
    // Mixed modes come back as they were, each module its own.
    model.blocks[0]->eval();
    nn::block_weights_input(model, tokens, 2);
    CHECK(model.is_training());
    CHECK_FALSE(model.blocks[0]->is_training());
    CHECK_FALSE(model.blocks[0]->g->is_training());
    CHECK(model.blocks[1]->is_training());
  }
}

TEST_CASE("inspect: heatmap PNG has the PNG signature and the IHDR size, cell pixels per element") {
  TempDir tmp;
  std::string path = tmp.file("m.png");
  Tensor m = from_vector(std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {3, 5});
  HeatmapOptions opt;
  opt.cell = 4;
  write_heatmap_png(path, m, opt);
  std::string bytes = read_file(path);
  REQUIRE(bytes.size() > 33);
  CHECK(bytes.substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
  CHECK(be32(bytes, 8) == 13);  // IHDR payload length
  CHECK(bytes.substr(12, 4) == "IHDR");
  CHECK(be32(bytes, 16) == 20);  // width = 5 * 4
  CHECK(be32(bytes, 20) == 12);  // height = 3 * 4
  CHECK(int(uint8_t(bytes[24])) == 8);  // bit depth
  CHECK(int(uint8_t(bytes[25])) == 2);  // RGB
  opt.cell = 0;  // auto: the largest cell keeping the image within 512 px
  write_heatmap_png(path, m, opt);
  bytes = read_file(path);
  CHECK(be32(bytes, 16) == 510);  // 5 * 102
  CHECK(be32(bytes, 20) == 306);
  CHECK(std::filesystem::directory_iterator(tmp.path)->path().filename() == "m.png");  // no temp file left
}

TEST_CASE("inspect: heatmap colours follow the documented log and signed scales") {
  TempDir tmp;
  std::string path = tmp.file("c.png");
  // Log10 magnitude over 6 decades: the largest |x| is yellow, 1e-7 of it is clamped to the
  // darkest colour, sign is ignored, exact zero is the darkest too, and NaN is grey.
  Tensor m = from_vector(std::vector<double>{-100, 1e-5, 0, std::nan(""), 1e-1, 100}, {2, 3});
  HeatmapOptions opt;
  opt.cell = 1;
  HeatmapRange r = write_heatmap_png(path, m, opt);
  CHECK(r.hi == doctest::Approx(2));
  CHECK(r.lo == doctest::Approx(-4));
  Image img = decode(path);
  REQUIRE(img.w == 3);
  REQUIRE(img.h == 2);
  CHECK(img.at(0, 0) == std::vector<int>{253, 231, 37});
  CHECK(img.at(2, 1) == std::vector<int>{253, 231, 37});
  CHECK(img.at(1, 0) == std::vector<int>{68, 1, 84});
  CHECK(img.at(2, 0) == std::vector<int>{68, 1, 84});
  CHECK(img.at(0, 1) == std::vector<int>{128, 128, 128});
  CHECK(img.at(1, 1) == std::vector<int>{33, 145, 140});  // log10 0.1 = -1: the middle of [-4, 2]

  // Signed: white at zero, blue at -max, red at +max. A transposed view is drawn transposed.
  opt.scale = HeatmapScale::Signed;
  Tensor s = from_vector(std::vector<float>{-2, 0, 2, 1}, {2, 2});
  r = write_heatmap_png(path, transpose(s, 0, 1), opt);
  CHECK(r.lo == -2);
  CHECK(r.hi == 2);
  img = decode(path);
  CHECK(img.at(0, 0) == std::vector<int>{33, 102, 172});   // s[0][0] = -2
  CHECK(img.at(1, 0) == std::vector<int>{178, 24, 43});    // s[1][0] = +2, now at row 0, column 1
  CHECK(img.at(0, 1) == std::vector<int>{247, 247, 247});  // s[0][1] = 0
  CHECK(img.at(1, 1) == std::vector<int>{244, 165, 130});  // s[1][1] = +1: half way to red
}

TEST_CASE("inspect: heatmap errors name the shape or the path, and leave no file behind") {
  TempDir tmp;
  auto expect_error = [&](const std::string& path, const Tensor& m, const std::string& part) {
    try {
      write_heatmap_png(path, m);
      FAIL("accepted " << path);
    } catch (const Error& e) {
      CHECK_MESSAGE(std::string(e.what()).find(part) != std::string::npos, e.what());
    }
  };
  std::string ok = tmp.file("x.png");
  expect_error(ok, zeros({4}), "(4,)");
  expect_error(ok, zeros({2, 3, 4}), "(2, 3, 4)");
  expect_error(ok, zeros({0, 3}), "(0, 3)");
  expect_error(ok, from_vector(std::vector<int64_t>{1, 2}, {1, 2}), "int64");
  expect_error(ok, zeros({20000, 1}), "16384");
  expect_error(tmp.file("no/such/dir/x.png"), zeros({2, 2}), "no/such/dir/x.png");
  expect_error("", zeros({2, 2}), "empty path");
  CHECK(!std::filesystem::exists(ok));
}
