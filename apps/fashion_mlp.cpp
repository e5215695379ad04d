// fashion_mlp: an MLP classifier on real Fashion-MNIST images, the first end-to-end pmx app.
//
// 60k training images (10% of each class held out for validation, every copy of an image on the
// same side: apps/datasets/image_split.h), 10k test images, 28x28 grey levels scaled to [0, 1]
// and standardised. Prints a progress line, logs metrics to CSV, and with
// --summary writes the final numbers as JSON.
//
//   ./build/apps/fashion_mlp --epochs 5 --threads 2 --summary fashion.json
#include <pmx/pmx.h>

#include <cmath>
#include <cstdio>
#include <iostream>

#include "apps/common/args.h"
#include "apps/common/report.h"
#include "apps/datasets/fashion_mnist.h"
#include "apps/datasets/image_split.h"

using namespace pmx;

namespace {

constexpr float kMean = 0.2860f, kStd = 0.3530f;  // Fashion-MNIST training-set pixel statistics

// Rows `indices[begin..end)` of the image set as a standardised (n, 784) float batch.
Tensor image_batch(const apps::IdxImages& imgs, const std::vector<int64_t>& indices, size_t begin, size_t end) {
  int64_t pixels = imgs.rows * imgs.cols;
  Tensor x = empty({int64_t(end - begin), pixels});
  float* dst = x.data<float>();
  for (size_t i = begin; i < end; ++i) {
    const uint8_t* src = imgs.pixels.data() + indices[i] * pixels;
    for (int64_t p = 0; p < pixels; ++p) *dst++ = (src[p] / 255.f - kMean) / kStd;
  }
  return x;
}

Tensor label_batch(const std::vector<uint8_t>& labels, const std::vector<int64_t>& indices, size_t begin, size_t end) {
  Tensor y = empty({int64_t(end - begin)}, DType::Int64);
  for (size_t i = begin; i < end; ++i) y.data<int64_t>()[i - begin] = labels[indices[i]];
  return y;
}

// Accuracy in percent over the given rows, in eval mode, without building a graph.
double accuracy(nn::Module& model, const apps::IdxImages& imgs, const std::vector<uint8_t>& labels,
                const std::vector<int64_t>& indices) {
  NoGradGuard no_grad;
  model.eval();
  int64_t correct = 0;
  for (size_t b = 0; b < indices.size(); b += 1000) {
    size_t e = std::min(indices.size(), b + 1000);
    Tensor pred = argmax(model(image_batch(imgs, indices, b, e)), 1);
    for (size_t i = b; i < e; ++i) correct += pred.data<int64_t>()[i - b] == labels[indices[i]];
  }
  model.train();
  return 100.0 * double(correct) / double(indices.size());
}

int run(int argc, char** argv) {
  apps::ArgParser args("fashion_mlp", "Train an MLP classifier on Fashion-MNIST (real images, 10 classes).");
  args.add_int("--epochs", 5, "passes over the training set");
  args.add_int("--batch", 128, "batch size");
  args.add_double("--lr", 1e-3, "Adam learning rate");
  args.add_int("--hidden", 256, "width of the two hidden layers (second is half)");
  args.add_int("--threads", 2, "OpenMP + OpenBLAS threads");
  args.add_int("--seed", 0, "random seed (validation split, init, shuffling)");
  args.add_string("--data-dir", apps::default_data_dir("fashion-mnist"), "where the dataset is kept / fetched to");
  args.add_string("--log", "fashion_mlp.csv", "CSV log of validation metrics per epoch (none: off)");
  args.add_string("--summary", "", "write the final metrics as JSON to this file");
  args.parse(argc, argv);
  if (args.help_requested()) {
    std::cout << args.help();
    return 0;
  }
  // Capped as the other apps cap theirs (apps/common/model_flags.h): a clear error, not an overflow.
  const int64_t epochs = args.get_int("--epochs", 1, 1000000), batch = args.get_int("--batch", 1, apps::kMaxBatch),
                hidden = args.get_int("--hidden", 2, apps::kMaxWidth);
  // As the other apps (apply_loop_flags): 0 trained to chance, a negative rate failed only after loading.
  PMX_CHECK(args.get_double("--lr") > 0, "--lr must be > 0, got ", args.get_double("--lr"));
  const int threads = int(args.get_int("--threads", 1, apps::kMaxThreads));
  set_num_threads(threads);
  const uint64_t seed = uint64_t(args.get_int("--seed"));
  manual_seed(seed);
  // Before loading and training: a bad path found only when the file is written would lose the run.
  apps::check_run_outputs({{"--log", args.get_string("--log") == "none" ? "" : args.get_string("--log")},
                           {"--summary", args.get_string("--summary")}});

  Timer total;
  apps::FashionMnist data = apps::load_fashion_mnist(args.get_string("--data-dir"));
  // Hold out 10% for validation, grouped by content: an image copied in the training set would
  // otherwise be validated on after being trained on, and inflate the validation accuracy.
  apps::ImageSplit split = apps::grouped_image_split(data.train_images, data.train_labels, 0.1, seed);
  const std::vector<int64_t>& train = split.train;
  const std::vector<int64_t>& val = split.validation;
  std::vector<int64_t> test(data.test_images.count);
  for (size_t i = 0; i < test.size(); ++i) test[i] = int64_t(i);
  std::printf("Fashion-MNIST: %zu train, %zu validation, %zu test images (%ld images with copies, in %ld groups, "
              "kept on one side); %d threads\n", train.size(), val.size(), test.size(), long(split.duplicate_images),
              long(split.duplicate_groups), threads);

  nn::MLP model(784, {hidden, hidden / 2}, 10, nn::Activation::Relu);
  optim::Adam opt(model.parameters(), args.get_double("--lr"));
  std::printf("MLP 784-%ld-%ld-10, %ld parameters\n", long(hidden), long(hidden / 2), long(model.num_parameters()));
  apps::note_blas_kernels();

  int64_t steps_per_epoch = int64_t((train.size() + batch - 1) / batch), step = 0;
  apps::Progress progress(epochs * steps_per_epoch);
  apps::CsvLog log(args.get_string("--log") == "none" ? "" : args.get_string("--log"), {"epoch", "step", "train_loss", "val_accuracy_pct", "seconds"});
  Timer train_timer;
  double last_loss = 0, val_acc = 0;
  for (int64_t epoch = 1; epoch <= epochs; ++epoch) {
    std::vector<int64_t> perm = randperm(int64_t(train.size()));
    std::vector<int64_t> shuffled(train.size());
    for (size_t i = 0; i < perm.size(); ++i) shuffled[i] = train[perm[i]];
    double loss_sum = 0;
    for (size_t b = 0; b < shuffled.size(); b += batch) {
      size_t e = std::min(shuffled.size(), b + size_t(batch));
      Tensor loss = cross_entropy(model(image_batch(data.train_images, shuffled, b, e)),
                                  label_batch(data.train_labels, shuffled, b, e));
      const double loss_value = loss.item();
      ++step;
      // A diverged run stops here, as the other apps' trainer does, instead of reporting the
      // accuracy of NaN weights (argmax of a NaN row is class 0).
      PMX_CHECK(std::isfinite(loss_value), "[fashion_mlp] the training loss is ", loss_value, " at step ", step,
                ": the run diverged; try a lower --lr");
      opt.zero_grad();
      loss.backward();
      opt.step();
      PMX_CHECK(std::isfinite(optim::global_norm(opt.params())), "[fashion_mlp] the parameters are no longer finite "
                "after the update of step ", step, ": the run diverged; try a lower --lr");
      loss_sum += loss_value;
      double sps = double(step * batch) / train_timer.seconds();
      progress.update(step, {{"epoch", double(epoch)}, {"loss", loss_value}, {"val_acc", val_acc}}, sps);
    }
    last_loss = loss_sum / double(steps_per_epoch);
    val_acc = accuracy(model, data.train_images, data.train_labels, val);
    log.row({double(epoch), double(step), last_loss, val_acc, total.seconds()});
  }
  progress.finish();
  double train_seconds = train_timer.seconds();
  double test_acc = accuracy(model, data.test_images, data.test_labels, test);
  std::printf("epochs %ld  train loss %.4f  validation %.2f %%  test accuracy %.2f %%  (%.1f s)\n", long(epochs),
              last_loss, val_acc, test_acc, total.seconds());

  if (!args.get_string("--summary").empty()) {
    apps::Summary s;
    s.set("task", "fashion_mnist");
    s.set("model", "mlp");
    s.set("test_accuracy_pct", test_acc);
    s.set("val_accuracy_pct", val_acc);
    s.set("train_loss", last_loss);
    s.set("epochs", double(epochs));
    s.set("steps", double(step));
    s.set("parameters", double(model.num_parameters()));
    s.set("seconds", total.seconds());
    s.set("train_seconds", train_seconds);
    s.set("threads", double(threads));
    s.set_json("config", args.to_json());
    s.write(args.get_string("--summary"));
    std::printf("summary written to %s\n", args.get_string("--summary").c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fashion_mlp: error: %s\n", e.what());
    return 1;
  }
}
