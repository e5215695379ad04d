// safetensors reader/writer and atomic file writes: round trips, the exact bytes of a tiny file,
// every malformed-input error, and PyTorch-written golden files.
#include <doctest/doctest.h>

#include "test_util.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <unistd.h>

#include "core/file_io.h"
#include "core/safetensors.h"
#include "layers/linear.h"
#include "optim/checkpoint.h"

namespace fs = std::filesystem;
using namespace pmx;

namespace {

using pmx_test::TempDir;

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}

std::string length_prefix(uint64_t n) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = char((n >> (8 * i)) & 0xFF);
  return out;
}

// A file with a hand-written header (padded as the format asks) followed by `data_bytes` zeros.
std::string write_raw(const TempDir& tmp, const std::string& header, size_t data_bytes) {
  std::string padded = header + std::string((8 - header.size() % 8) % 8, ' ');
  std::string path = tmp / "raw.safetensors";
  write_bytes(path, length_prefix(padded.size()) + padded + std::string(data_bytes, '\0'));
  return path;
}

// The message of the pmx::Error that loading `path` throws ("" if it does not throw).
std::string load_error(const std::string& path) {
  try {
    load_safetensors(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

template <class T>
bool same_bits(const Tensor& a, const Tensor& b) {
  std::vector<T> x = a.to_vector<T>(), y = b.to_vector<T>();
  return a.shape() == b.shape() && a.dtype() == b.dtype() && (x.empty() || std::memcmp(x.data(), y.data(), x.size() * sizeof(T)) == 0);
}

}  // namespace

TEST_CASE("io: safetensors round trip keeps every dtype, shape and bit") {
  TempDir tmp("roundtrip");
  std::map<std::string, Tensor> saved;
  saved["f32"] = from_vector(std::vector<float>{1.5f, -0.f, std::numeric_limits<float>::denorm_min(), 3e38f, -7.25f, 1e-30f}, {2, 3});
  saved["f64"] = from_vector(std::vector<double>{1.0 / 3, -2.5e300, 0.1}, {3});
  saved["i64"] = from_vector(std::vector<int64_t>{std::numeric_limits<int64_t>::min(), -1, 0, int64_t(1) << 62}, {2, 1, 2});
  saved["scalar"] = scalar(42, DType::Int64);
  saved["empty"] = zeros({0, 5});
  saved["empty_f64"] = zeros({3, 0}, DType::Float64);
  for (int i = 0; i < 40; ++i) saved["layer." + std::to_string(i) + ".weight"] = randn({1 + i % 3, 2 + i % 5});
  // A transposed view: written row-major in its logical order.
  Tensor base = from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  saved["transposed"] = make_view(base, {3, 2}, {1, 3}, 0);
  std::map<std::string, std::string> meta_in = {{"epoch", "3"}, {"config", "{\"d\": 64,\n \"name\": \"tab\\there\"}"}};

  save_safetensors(tmp / "t.safetensors", saved, meta_in);
  std::map<std::string, std::string> meta_out;
  auto loaded = load_safetensors(tmp / "t.safetensors", &meta_out);

  CHECK(meta_out == meta_in);
  REQUIRE(loaded.size() == saved.size());
  for (const auto& [name, t] : saved) {
    INFO(name);
    REQUIRE(loaded.count(name));
    const Tensor& got = loaded.at(name);
    CHECK(got.is_contiguous());
    if (t.dtype() == DType::Float32) CHECK(same_bits<float>(got, t));
    if (t.dtype() == DType::Float64) CHECK(same_bits<double>(got, t));
    if (t.dtype() == DType::Int64) CHECK(same_bits<int64_t>(got, t));
  }
  CHECK(loaded.at("scalar").dim() == 0);
  CHECK(loaded.at("transposed").to_vector<float>() == std::vector<float>{1, 4, 2, 5, 3, 6});
  // Loaded tensors own their storage: changing one does not touch the source.
  loaded.at("f32").data<float>()[0] = 99.f;
  CHECK(saved.at("f32").data<float>()[0] == 1.5f);
}

TEST_CASE("io: safetensors file bytes match the format exactly") {
  TempDir tmp("bytes");
  save_safetensors(tmp / "a.safetensors",
                   {{"b", scalar(-2, DType::Int64)}, {"a", from_vector(std::vector<float>{1.f, 2.f}, {2})}}, {{"k", "v"}});
  std::string expected_header =
      "{\"__metadata__\":{\"k\":\"v\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
      "\"b\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[8,16]}}    ";  // 132 + 4 spaces = 136
  float a[2] = {1.f, 2.f};
  int64_t b = -2;
  std::string expected = length_prefix(136) + expected_header + std::string(reinterpret_cast<char*>(a), 8) +
                         std::string(reinterpret_cast<char*>(&b), 8);
  CHECK(read_file(tmp / "a.safetensors") == expected);

  save_safetensors(tmp / "empty.safetensors", {});
  CHECK(read_file(tmp / "empty.safetensors") == length_prefix(8) + "{}      ");
  CHECK(load_safetensors(tmp / "empty.safetensors").empty());
}

TEST_CASE("io: malformed safetensors files throw naming the file and the problem") {
  TempDir tmp("corrupt");
  const std::string good = tmp / "good.safetensors";
  save_safetensors(good, {{"w", from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2})},
                          {"z", from_vector(std::vector<int64_t>{5, 6}, {2})}});
  const std::string bytes = read_file(good);
  const std::string bad = tmp / "bad.safetensors";
  auto expect_error = [&](const std::string& path, const std::string& problem) {
    std::string message = load_error(path);
    INFO("message: ", message);
    CHECK(message.find("[load_safetensors]") != std::string::npos);
    CHECK(message.find(path) != std::string::npos);
    CHECK(message.find(problem) != std::string::npos);
  };

  write_bytes(bad, bytes.substr(0, 5));
  expect_error(bad, "file too short");
  write_bytes(bad, length_prefix(bytes.size()) + bytes.substr(8));
  expect_error(bad, "larger than the file");
  write_bytes(bad, length_prefix(uint64_t(1) << 63) + bytes.substr(8));
  expect_error(bad, "larger than the file");
  write_bytes(bad, bytes.substr(0, bytes.size() - 4));
  expect_error(bad, "truncated");
  write_bytes(bad, bytes.substr(0, bytes.size() - 16));  // the last tensor is gone entirely
  expect_error(bad, "truncated");
  write_bytes(bad, bytes + "junk0000");
  expect_error(bad, "trailing bytes");

  // Flip one header byte: the ':' after the first key (byte 8 + 4) becomes ';'.
  std::string flipped = bytes;
  REQUIRE(flipped[12] == ':');
  flipped[12] = ';';
  write_bytes(bad, flipped);
  expect_error(bad, "not valid JSON at byte 12");
  std::string dtype_flipped = bytes;
  dtype_flipped.replace(dtype_flipped.find("F32"), 3, "F16");
  write_bytes(bad, dtype_flipped);
  expect_error(bad, "unknown dtype 'F16'");

  // Hand-written headers for the structural cases.
  expect_error(write_raw(tmp, "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8), "needs 12 bytes");
  expect_error(write_raw(tmp, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8), "inconsistent");
  expect_error(write_raw(tmp, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4096,4104]}}", 8), "out of range");
  expect_error(write_raw(tmp, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                              "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12), "overlap");
  expect_error(write_raw(tmp, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8), "holes");
  expect_error(write_raw(tmp, "{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,8]}}", 8),
               "too large");
  // 2^62 x 2^62 with a zero size: no data, but with the zero first the strides are 2^124 (signed
  // overflow under UBSan); that order loaded while the zero-last one was refused.
  expect_error(write_raw(tmp, "{\"w\":{\"dtype\":\"F32\",\"shape\":[0,4611686018427387904,4611686018427387904],"
                              "\"data_offsets\":[0,0]}}", 0),
               "too large");
  expect_error(write_raw(tmp, "{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4611686018427387904,0],"
                              "\"data_offsets\":[0,0]}}", 0),
               "too large");
  struct BadJson { const char* header; const char* problem; };
  const BadJson cases[] = {
      {"", "end of the header"},
      {"[1,2]", "expected '{'"},
      {"{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}", "non-negative integer"},
      {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,0]}}", "fraction"},
      {"{\"w\":{\"dtype\":\"F32\",\"shape\":[01],\"data_offsets\":[0,4]}}", "leading zero"},
      {"{\"w\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,4]}}", "number too large"},
      {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", "needs \"dtype\", \"shape\" and \"data_offsets\""},
      {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":1}}", "unknown field \"extra\""},
      {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", "must be [begin, end]"},
      {"{\"w\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},\"w\":{}}", "duplicate tensor name"},
      {"{\"__metadata__\":{\"a\":1}}", "values must be strings"},
      {"{\"__metadata__\":{\"a\":\"\\q\"}}", "unknown escape"},
      {"{\"__metadata__\":{\"a\":\"\\ud834\"}}", "unpaired surrogate"},
      {"{\"__metadata__\":{\"a\":\"b\"}", "end of the header"},
      {"{\"__metadata__\":{\"a\":\"b\"}}x", "unexpected content after the header"},
      {"{\"__metadata__\":{\"a\":\"b\",}}", "expected '\"'"},
  };
  for (const BadJson& c : cases) {
    INFO("header: ", c.header);
    expect_error(write_raw(tmp, c.header, 0), c.problem);
  }
  expect_error(write_raw(tmp, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}, \n}", 4), "not valid JSON");

  const std::string missing = tmp / "does_not_exist.safetensors";
  std::string message = load_error(missing);
  CHECK(message.find(missing) != std::string::npos);
  CHECK(message.find("No such file") != std::string::npos);
  // The good file still loads: the cases above failed for their own reasons.
  CHECK(load_safetensors(good).at("z").to_vector<int64_t>() == std::vector<int64_t>{5, 6});
}

TEST_CASE("io: save rejects what it cannot write") {
  TempDir tmp("save_errors");
  CHECK_THROWS_WITH_AS(save_safetensors(tmp / "x.safetensors", {{"w", Tensor()}}), doctest::Contains("'w' is undefined"),
                       Error);
  CHECK_THROWS_WITH_AS(save_safetensors(tmp / "x.safetensors", {{"__metadata__", zeros({1})}}),
                       doctest::Contains("reserved"), Error);
  CHECK_FALSE(fs::exists(tmp / "x.safetensors"));
}

TEST_CASE("io: atomic writes replace the file whole or not at all") {
  TempDir tmp("atomic");
  const std::string target = tmp / "model.safetensors";
  save_safetensors(target, {{"w", ones({3})}});
  const std::string before = read_file(target);
  auto leftovers = [&] {
    int n = 0;
    for (const auto& entry : fs::directory_iterator(tmp.dir))
      if (entry.path().filename().string().find(".tmp.") != std::string::npos) ++n;
    return n;
  };

  // A directory that does not exist: throws, names the path and the reason.
  const std::string nowhere = tmp / "no_such_dir/model.safetensors";
  CHECK_THROWS_WITH_AS(save_safetensors(nowhere, {{"w", zeros({3})}}), doctest::Contains(nowhere.c_str()), Error);
  CHECK_THROWS_WITH_AS(write_file_atomic(nowhere, "x"), doctest::Contains("No such file or directory"), Error);
  // A failure at the rename step (the target is a directory): the temp file is cleaned up.
  fs::create_directories(tmp / "is_a_dir");
  CHECK_THROWS_WITH_AS(write_file_atomic(tmp / "is_a_dir", "x"), doctest::Contains("rename"), Error);
  CHECK(fs::is_directory(tmp / "is_a_dir"));
  // A save that fails before writing leaves the old file byte for byte.
  CHECK_THROWS_AS(save_safetensors(target, {{"w", zeros({3})}, {"bad", Tensor()}}), Error);
  CHECK(read_file(target) == before);
  CHECK(leftovers() == 0);

  save_safetensors(target, {{"w", zeros({3})}});
  CHECK(load_safetensors(target).at("w").to_vector<float>() == std::vector<float>{0, 0, 0});
  CHECK(leftovers() == 0);
  write_file_atomic(target, std::vector<ByteSpan>{{"ab", 2}, {"", 0}, {"cde", 3}});
  CHECK(read_file(target) == "abcde");
  FileReader in(target);
  char buf[4];
  CHECK_THROWS_WITH_AS(in.read_at(3, buf, 4), doctest::Contains("ends at byte 5"), Error);
  CHECK_THROWS_WITH_AS(read_file(tmp.dir.string()), doctest::Contains("not a regular file"), Error);
}

TEST_CASE("io: PyTorch golden file loads into nn::Linear and reproduces torch's outputs") {
  // Written by tests/make_golden_safetensors.py: torch.manual_seed(0); torch.nn.Linear(3, 2).
  const std::string dir = PMX_TEST_DATA_DIR;
  nn::Linear layer(3, 2);
  optim::load_weights(dir + "/torch_linear.safetensors", layer);
  // Values the script printed, to catch a loader and a golden file that agree on something wrong.
  CHECK(layer.weight.to_vector<float>()[1] == doctest::Approx(0.30971584).epsilon(1e-7));
  CHECK(layer.bias.to_vector<float>()[1] == doctest::Approx(0.45777494).epsilon(1e-7));

  std::map<std::string, std::string> meta;
  auto io = load_safetensors(dir + "/torch_linear_io.safetensors", &meta);
  Tensor y = layer(io.at("input"));
  std::vector<float> got = y.to_vector<float>(), want = io.at("output").to_vector<float>();
  REQUIRE(y.shape() == Shape{4, 2});
  for (size_t i = 0; i < want.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-6));
  CHECK(want[0] == doctest::Approx(-0.87278599).epsilon(1e-6));

  std::vector<double> f64 = io.at("f64").to_vector<double>();
  for (int i = 0; i < 5; ++i) CHECK(f64[size_t(i)] == double(i) / 3);
  CHECK(io.at("i64").to_vector<int64_t>() == std::vector<int64_t>{-1, 0, int64_t(1) << 40, -(int64_t(1) << 62)});
  CHECK(io.at("scalar").dim() == 0);
  CHECK(io.at("scalar").item() == 7);
  CHECK(io.at("empty").shape() == Shape{0, 3});
  // json.dumps escaped the quote, backslash, newline, and wrote \u00e9 and a surrogate pair.
  CHECK(meta.at("note") == "quote \" backslash \\ newline \n e-acute \xC3\xA9 clef \xF0\x9D\x84\x9E");
}

TEST_CASE("io: load_weights refuses a bad file and leaves the module untouched") {
  TempDir tmp("weights");
  nn::Linear model(4, 3);
  auto snapshot = [&] {
    std::vector<std::vector<float>> values;
    for (const Tensor& p : model.parameters()) values.push_back(p.to_vector<float>());
    return values;
  };
  const auto before = snapshot();

  nn::Linear other(4, 3);
  optim::save_weights(tmp / "other.safetensors", other);
  const std::string bytes = read_file(tmp / "other.safetensors");
  write_bytes(tmp / "truncated.safetensors", bytes.substr(0, bytes.size() - 1));
  CHECK_THROWS_WITH_AS(optim::load_weights(tmp / "truncated.safetensors", model), doctest::Contains("truncated"), Error);
  nn::Linear wider(4, 5);
  optim::save_weights(tmp / "wider.safetensors", wider);
  CHECK_THROWS_WITH_AS(optim::load_weights(tmp / "wider.safetensors", model), doctest::Contains("shape mismatch"), Error);
  nn::Linear no_bias(4, 3, /*bias=*/false);
  optim::save_weights(tmp / "no_bias.safetensors", no_bias);
  CHECK_THROWS_WITH_AS(optim::load_weights(tmp / "no_bias.safetensors", model), doctest::Contains("missing key 'bias'"),
                       Error);
  CHECK(snapshot() == before);

  // Non-strict loading takes what is there; a full file then makes the two modules equal.
  optim::load_weights(tmp / "no_bias.safetensors", model, /*strict=*/false);
  CHECK(model.weight.to_vector<float>() == no_bias.weight.to_vector<float>());
  CHECK(model.bias.to_vector<float>() == before[1]);
  optim::load_weights(tmp / "other.safetensors", model);
  CHECK(model.bias.to_vector<float>() == other.bias.to_vector<float>());
}
