// Module: names, traversal, modes, dtype conversion and state_dict loading.
#include <doctest/doctest.h>

#include "core/random.h"
#include "layers/dropout.h"
#include "layers/linear.h"
#include "layers/mlp.h"
#include "layers/module.h"

using namespace pmx;

namespace {

// A parent in the shape of a Paramixer block: own parameter, a buffer, an MLP and a dropout.
struct Net : nn::Module {
  Tensor scale = register_parameter("scale", ones({1}));
  Tensor positions = register_buffer("positions", arange(3, DType::Int64));
  std::shared_ptr<nn::MLP> network =
      register_module("network", std::make_shared<nn::MLP>(4, std::vector<int64_t>{8}, 2, nn::Activation::Relu));
  std::shared_ptr<nn::Dropout> drop = register_module("drop", std::make_shared<nn::Dropout>(0.1));
  std::string type_name() const override { return "Net"; }
};

std::vector<std::string> names_of(const std::vector<std::pair<std::string, Tensor>>& named) {
  std::vector<std::string> out;
  for (const auto& [name, t] : named) out.push_back(name);
  return out;
}

std::map<std::string, std::vector<double>> values_of(const nn::Module& m) {
  std::map<std::string, std::vector<double>> out;
  for (const auto& [name, t] : m.named_parameters()) out[name] = t.to_vector<double>();
  return out;
}

}  // namespace

TEST_CASE("layers: parameter names and order match PyTorch's") {
  Net net;
  CHECK(names_of(net.named_parameters()) ==
        std::vector<std::string>{"scale", "network.0.weight", "network.0.bias", "network.2.weight", "network.2.bias"});
  CHECK(names_of(net.named_buffers()) == std::vector<std::string>{"positions"});
  std::vector<Tensor> params = net.parameters();
  REQUIRE(params.size() == 5);
  CHECK(params[1].same(dynamic_cast<nn::Linear&>((*net.network)[0]).weight));
  CHECK(params[1].shape() == Shape{8, 4});
  CHECK(params[3].shape() == Shape{2, 8});
  for (const Tensor& p : params) CHECK(p.requires_grad());
  CHECK(net.num_parameters() == 1 + 8 * 4 + 8 + 2 * 8 + 2);
  auto sd = net.state_dict();
  CHECK(sd.size() == 6);
  CHECK(sd.count("positions") == 1);
  CHECK(sd.count("network.2.bias") == 1);
}

TEST_CASE("layers: a shared parameter is listed once, bad registrations throw") {
  struct Tied : nn::Module {
    std::shared_ptr<nn::Linear> a = register_module("a", std::make_shared<nn::Linear>(3, 3));
    Tensor tied = register_parameter("tied", a->weight);
  };
  Tied tied;
  CHECK(names_of(tied.named_parameters()) == std::vector<std::string>{"tied", "a.bias"});
  CHECK(tied.num_parameters() == 9 + 3);

  nn::Module m;
  m.register_parameter("w", zeros({2}));
  CHECK_THROWS_WITH_AS(m.register_parameter("w", zeros({2})), doctest::Contains("'w' is already registered"), Error);
  CHECK_THROWS_WITH_AS(m.register_buffer("w", zeros({2})), doctest::Contains("already registered"), Error);
  CHECK_THROWS_WITH_AS(m.register_parameter("a.b", zeros({2})), doctest::Contains("'a.b'"), Error);
  CHECK_THROWS_AS(m.register_parameter("", zeros({2})), Error);
  CHECK_THROWS_AS(m.register_parameter("ids", zeros({2}, DType::Int64)), Error);
  CHECK_THROWS_AS(m.register_module("child", std::shared_ptr<nn::Module>()), Error);
  CHECK_THROWS_WITH_AS(m.forward(zeros({2})), doctest::Contains("[Module]"), Error);
}

TEST_CASE("layers: train and eval reach every descendant") {
  Net net;
  CHECK(net.is_training());
  CHECK(net.drop->is_training());
  net.eval();
  CHECK_FALSE(net.is_training());
  CHECK_FALSE(net.drop->is_training());
  CHECK_FALSE((*net.network)[1].is_training());
  net.train();
  CHECK(net.drop->is_training());
  net.network->eval();  // a subtree alone
  CHECK(net.is_training());
  CHECK_FALSE((*net.network)[0].is_training());
}

TEST_CASE("layers: zero_grad drops every gradient in the tree") {
  Net net;
  for (Tensor p : net.parameters()) p.set_grad(ones(p.shape()));
  net.zero_grad();
  for (const Tensor& p : net.parameters()) CHECK_FALSE(p.grad().defined());
}

TEST_CASE("layers: state_dict round trip, and its values share storage") {
  manual_seed(1);
  Net source;
  manual_seed(2);
  Net target;
  source.positions.data<int64_t>()[2] = 42;
  REQUIRE(values_of(source) != values_of(target));
  target.load_state_dict(source.state_dict());
  CHECK(values_of(source) == values_of(target));
  CHECK(target.positions.to_vector<int64_t>() == std::vector<int64_t>{0, 1, 42});
  // Loaded by copy: the two models do not share storage afterwards.
  CHECK(source.scale.storage() != target.scale.storage());

  auto sd = source.state_dict();
  CHECK_FALSE(sd.at("scale").requires_grad());
  source.scale.data<float>()[0] = 5.f;  // a live view: the state dict sees later changes
  CHECK(sd.at("scale").item() == 5.0);
  source.load_state_dict(source.state_dict());  // loading onto itself is harmless
  CHECK(source.scale.item() == 5.0);
}

TEST_CASE("layers: strict load errors name the key and both shapes") {
  Net net;
  auto good = Net().state_dict();
  auto missing = good;
  missing.erase("network.0.bias");
  CHECK_THROWS_WITH_AS(net.load_state_dict(missing), doctest::Contains("missing key 'network.0.bias'"), Error);
  auto extra = good;
  extra["network.4.weight"] = zeros({2, 2});
  CHECK_THROWS_WITH_AS(net.load_state_dict(extra), doctest::Contains("unexpected key 'network.4.weight'"), Error);
  auto wrong_shape = good;
  wrong_shape["network.2.weight"] = zeros({8, 2});
  CHECK_THROWS_WITH_AS(net.load_state_dict(wrong_shape),
                       doctest::Contains("'network.2.weight': checkpoint has (8, 2), model has (2, 8)"), Error);
  auto wrong_dtype = good;
  wrong_dtype["scale"] = zeros({1}, DType::Float64);
  CHECK_THROWS_WITH_AS(net.load_state_dict(wrong_dtype), doctest::Contains("dtype mismatch for 'scale'"), Error);

  // Non-strict: missing and unexpected keys are fine, a wrong shape is not.
  Net other;
  missing["unrelated"] = zeros({7});
  other.load_state_dict(missing, /*strict=*/false);
  CHECK(other.network->named_parameters()[0].second.to_vector<float>() == good.at("network.0.weight").to_vector<float>());
  CHECK_THROWS_AS(other.load_state_dict(wrong_shape, /*strict=*/false), Error);
}

TEST_CASE("layers: a failed load leaves every parameter unchanged") {
  manual_seed(3);
  Net net;
  auto before = values_of(net);
  manual_seed(4);
  auto incoming = Net().state_dict();
  // The bad key comes after others in both the model's order and the map's sorted order, so a
  // loader that copied while validating would have changed something already.
  Tensor good_weight = incoming.at("network.2.weight");
  incoming["network.2.weight"] = zeros({2, 9});
  CHECK_THROWS_WITH_AS(net.load_state_dict(incoming), doctest::Contains("'network.2.weight'"), Error);
  CHECK(values_of(net) == before);
  incoming["network.2.weight"] = good_weight;
  incoming.erase("scale");
  CHECK_THROWS_AS(net.load_state_dict(incoming), Error);
  CHECK(values_of(net) == before);
}

TEST_CASE("layers: to(Float64) converts in place, keeping handles and values") {
  Net net;
  Tensor weight = dynamic_cast<nn::Linear&>((*net.network)[0]).weight;
  std::vector<double> before = weight.to_vector<double>();
  weight.set_grad(ones(weight.shape()));
  net.to(DType::Float64);
  for (const Tensor& p : net.parameters()) CHECK(p.dtype() == DType::Float64);
  CHECK(weight.dtype() == DType::Float64);  // the member handle followed
  CHECK(weight.to_vector<double>() == before);
  CHECK_FALSE(weight.grad().defined());
  CHECK(weight.requires_grad());
  CHECK(net.positions.dtype() == DType::Int64);  // integer buffers stay as they are
  // Floating buffers convert like parameters (Net has only an integer one).
  nn::Module holder;
  Tensor table = holder.register_buffer("table", from_vector(std::vector<float>{0.5f, -1.25f}, {2}));
  holder.to(DType::Float64);
  CHECK(table.dtype() == DType::Float64);
  CHECK(table.to_vector<double>() == std::vector<double>{0.5, -1.25});
  CHECK(net.state_dict().at("scale").dtype() == DType::Float64);
  net.to(DType::Float32);
  CHECK(weight.to_vector<float>() == std::vector<float>(before.begin(), before.end()));
  CHECK_THROWS_AS(net.to(DType::Int64), Error);
}
