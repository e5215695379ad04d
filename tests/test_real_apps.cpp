// The real-task apps' data adapters: the ListOps / Pathfinder / sequential-image tasks
// (apps/datasets/example_tasks.h), with stand-in data that needs no fetch. The shared flags and
// run flow are tested in test_real_apps_runs.cpp.
#include <doctest/doctest.h>

#include "real_apps_util.h"

namespace fs = std::filesystem;
using namespace pmx;
using namespace pmx::apps;
using namespace pmx_test;

TEST_CASE("real_apps: task_rows shuffles train per epoch, evaluation splits once in a fixed order") {
  std::vector<int64_t> a = task_rows("t", Split::Train, 10, 0, 10, 3);
  std::vector<int64_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});  // one epoch is a permutation
  CHECK(task_rows("t", Split::Train, 10, 0, 10, 3) == a);
  CHECK(task_rows("t", Split::Train, 10, 0, 10, 4) != a);
  CHECK(task_rows("t", Split::Train, 10, 10, 10, 3) != a);  // the next epoch is shuffled anew
  std::vector<int64_t> wide = task_rows("t", Split::Train, 10, 7, 6, 3);
  CHECK(std::vector<int64_t>(wide.begin(), wide.begin() + 3) == std::vector<int64_t>(a.begin() + 7, a.end()));
  // Evaluation: one fixed permutation (not the loader's order, which groups files by source),
  // so a prefix is a random sample and a range is the same slice of it in every call.
  std::vector<int64_t> test_all = task_rows("t", Split::Test, 10, 0, 10, 3);
  std::vector<int64_t> test_sorted = test_all;
  std::sort(test_sorted.begin(), test_sorted.end());
  CHECK(test_sorted == sorted);
  CHECK(test_all != sorted);
  CHECK(task_rows("t", Split::Test, 10, 2, 3, 3) == std::vector<int64_t>(test_all.begin() + 2, test_all.begin() + 5));
  CHECK(task_rows("t", Split::Validation, 10, 0, 10, 3) != test_all);
  CHECK_THROWS_WITH_AS(task_rows("mytask", Split::Validation, 10, 8, 3, 3), doctest::Contains("[mytask]"), pmx::Error);
  CHECK_THROWS_AS(task_rows("t", Split::Train, 0, 0, 1, 3), pmx::Error);
  CHECK_THROWS_AS(task_rows("t", Split::Train, 10, -1, 1, 3), pmx::Error);
  CHECK_THROWS_AS(task_rows("t", Split::Train, 10, 0, 0, 3), pmx::Error);
}

TEST_CASE("real_apps: ListOpsTask batches are pure functions of (seed, index) with the right tokens and labels") {
  ListOpsData d = make_listops_splits(12, 4, 4, 5);
  ListOpsTask task(d, 7);
  Batch b = task.batch(Split::Train, 3, 5);
  CHECK(b.input.shape() == Shape{5, 2000});
  CHECK(b.target.shape() == Shape{5});
  CHECK(same_batch(b, ListOpsTask(d, 7).batch(Split::Train, 3, 5)));
  CHECK(!same_batch(b, ListOpsTask(d, 8).batch(Split::Train, 3, 5)));
  std::vector<int64_t> x = b.input.to_vector<int64_t>(), y = b.target.to_vector<int64_t>();
  std::vector<int64_t> rows = task_rows("listops", Split::Train, 12, 3, 5, 7);
  for (int64_t j = 0; j < 5; ++j) {
    const ListOpsExample& e = d.train[size_t(rows[size_t(j)])];
    std::vector<uint8_t> tokens;
    for (int64_t t = 0; t < 2000; ++t) {
      int64_t v = x[size_t(j * 2000 + t)];
      REQUIRE((v >= 0 && v < kListOpsVocab));
      tokens.push_back(uint8_t(v));
    }
    CHECK(std::vector<uint8_t>(tokens.begin(), tokens.begin() + int64_t(e.tokens.size())) == e.tokens);
    CHECK(tokens[e.tokens.size()] == kListOpsPad);
    CHECK(y[size_t(j)] == listops_value(tokens));
  }
  Batch t = task.batch(Split::Test, 1, 2);
  std::vector<int64_t> test_rows = task_rows("listops", Split::Test, int64_t(d.test.size()), 1, 2, 7);
  CHECK(t.target.to_vector<int64_t>() ==
        std::vector<int64_t>{d.test[size_t(test_rows[0])].label, d.test[size_t(test_rows[1])].label});
  CHECK_THROWS_WITH_AS(task.batch(Split::Validation, 0, 5), doctest::Contains("[listops]"), pmx::Error);
  ListOpsData none;
  CHECK_THROWS_AS(ListOpsTask(none, 0), pmx::Error);
}

TEST_CASE("real_apps: PathfinderTask splits are disjoint and batches are the generator's pixels") {
  PathfinderData d = make_pathfinder_data(6, 16, 4, 4, 2);
  CHECK(d.train.size() == 16);
  CHECK(d.validation.size() == 4);
  CHECK(d.test.size() == 4);
  PathfinderGenerator gen(6, 2);
  CHECK(d.validation[0].pixels == gen.example(16).pixels);  // validation starts after train
  CHECK(d.test[3].pixels == gen.example(23).pixels);
  PathfinderTask task(d, 1);
  CHECK(task.name() == "pathfinder6");
  Batch b = task.batch(Split::Train, 14, 4);  // crosses into the second epoch
  CHECK(b.input.shape() == Shape{4, 1024});
  CHECK(same_batch(b, PathfinderTask(d, 1).batch(Split::Train, 14, 4)));
  std::vector<int64_t> x = b.input.to_vector<int64_t>(), y = b.target.to_vector<int64_t>();
  std::vector<int64_t> rows = task_rows("p", Split::Train, 16, 14, 4, 1);
  for (int64_t j = 0; j < 4; ++j) {
    const PathfinderExample& e = d.train[size_t(rows[size_t(j)])];
    CHECK(y[size_t(j)] == e.label);
    for (int64_t p = 0; p < 1024; p += 37) CHECK(x[size_t(j * 1024 + p)] == e.pixels[size_t(p)]);
  }
  CHECK_THROWS_AS(task.batch(Split::Test, 3, 2), pmx::Error);
  CHECK_THROWS_AS(make_pathfinder_data(15, 2, 1, 1, 0), pmx::Error);
  CHECK_THROWS_AS(make_pathfinder_data(1, 2, 1, 1, 0), pmx::Error);
}

TEST_CASE("real_apps: a Pathfinder curriculum serves its stages first, then the main training split") {
  PathfinderData d = make_pathfinder_data(6, 16, 4, 4, 2);
  add_pathfinder_stage(&d, 2, /*sequences=*/8, /*images=*/5, 2);
  add_pathfinder_stage(&d, 4, /*sequences=*/4, /*images=*/4, 2);
  REQUIRE(d.curriculum.size() == 2);
  CHECK(d.curriculum[0].images[3].pixels == PathfinderGenerator(2, 2).example(3).pixels);
  CHECK(d.curriculum[1].images[0].pixels == PathfinderGenerator(4, 2).example(0).pixels);
  PathfinderTask task(d, 1);
  auto rows_of = [](const Batch& b) { return b.input.to_vector<int64_t>(); };
  // Sequences [4, 8): stage 0 (5 images, so the second half of its first order and its second epoch).
  std::vector<int64_t> x = rows_of(task.batch(Split::Train, 4, 4));
  std::vector<int64_t> r0 = task_rows("s", Split::Train, 5, 4, 4, 1);
  for (int64_t j = 0; j < 4; ++j)
    CHECK(x[size_t(j * 1024 + 517)] == d.curriculum[0].images[size_t(r0[size_t(j)])].pixels[517]);
  // [8, 12): stage 1 from its own start; [12, 16): the main split's sequences [0, 4).
  x = rows_of(task.batch(Split::Train, 8, 4));
  std::vector<int64_t> r1 = task_rows("s", Split::Train, 4, 0, 4, 1);
  for (int64_t j = 0; j < 4; ++j)
    CHECK(x[size_t(j * 1024 + 517)] == d.curriculum[1].images[size_t(r1[size_t(j)])].pixels[517]);
  CHECK(rows_of(task.batch(Split::Train, 12, 4)) == rows_of(PathfinderTask(make_pathfinder_data(6, 16, 4, 4, 2), 1).batch(Split::Train, 0, 4)));
  // Evaluation never sees the curriculum; a batch across a stage's end is refused.
  CHECK(same_batch(task.batch(Split::Validation, 0, 4), PathfinderTask(make_pathfinder_data(6, 16, 4, 4, 2), 1).batch(Split::Validation, 0, 4)));
  CHECK_THROWS_AS(task.batch(Split::Train, 6, 4), pmx::Error);
  CHECK_THROWS_AS(add_pathfinder_stage(&d, 3, 0, 4, 2), pmx::Error);
}

TEST_CASE("real_apps: fresh Pathfinder training images are made per sequence, after the curriculum, never repeated") {
  PathfinderData d = make_pathfinder_fresh_data(6, 4, 3, 2);
  CHECK(d.train.empty());
  CHECK(d.fresh_first == 7);
  PathfinderGenerator gen(6, 2);
  CHECK(d.validation[0].pixels == gen.example(0).pixels);  // validation first, then test
  CHECK(d.test[2].pixels == gen.example(6).pixels);
  add_pathfinder_stage(&d, 2, /*sequences=*/4, /*images=*/4, 2);
  PathfinderTask task(d, 1);
  // Sequences [4, 4 + 3) come after the 4-sequence stage: fresh images 7 + 0 .. 7 + 2, in order.
  Batch b = task.batch(Split::Train, 4, 3);
  std::vector<int64_t> x = b.input.to_vector<int64_t>(), y = b.target.to_vector<int64_t>();
  for (int64_t j = 0; j < 3; ++j) {
    PathfinderExample e = gen.example(7 + uint64_t(j));
    CHECK(y[size_t(j)] == e.label);
    for (int64_t p = 0; p < 1024; p += 29) CHECK(x[size_t(j * 1024 + p)] == e.pixels[size_t(p)]);
  }
  CHECK(same_batch(b, PathfinderTask(d, 1).batch(Split::Train, 4, 3)));  // a pure function of the index
  // Far along, still new images: sequence 4 + 1000 is image 7 + 1000.
  Batch far = task.batch(Split::Train, 1004, 1);
  CHECK(far.input.to_vector<int64_t>()[300] == gen.example(1007).pixels[300]);
  // The stage is fresh too (its sequence j: image j of the 2-dash stream), and a task without
  // training images or fresh ones is refused.
  CHECK(d.curriculum[0].images.empty());
  CHECK(task.batch(Split::Train, 0, 4).input.to_vector<int64_t>()[1024 + 517] ==
        PathfinderGenerator(2, 2).example(1).pixels[517]);
  PathfinderData none = make_pathfinder_data(6, 0, 2, 2, 2);
  CHECK_THROWS_WITH_AS(PathfinderTask(none, 1), doctest::Contains("training split is empty"), pmx::Error);
}

TEST_CASE("real_apps: fresh Pathfinder curriculum stages never draw a validation or test image, nor repeat one") {
  // Validation [0, 10) and test [10, 20) of PathfinderGenerator(6, 0). Stages: 2 dashes, then two
  // of the difficulty's 6 dashes (the ones that could meet validation and test), then fresh images.
  PathfinderData d = make_pathfinder_fresh_data(6, 10, 10, 0);
  add_pathfinder_stage(&d, 2, /*sequences=*/8, /*images=*/8, 0);
  add_pathfinder_stage(&d, 6, /*sequences=*/8, /*images=*/8, 0);
  add_pathfinder_stage(&d, 6, /*sequences=*/4, /*images=*/4, 0);
  PathfinderTask task(d, 0);
  using Pixels = std::vector<int64_t>;
  auto images_of = [](const Batch& b) {
    std::vector<Pixels> out;
    std::vector<int64_t> x = b.input.to_vector<int64_t>();
    for (int64_t j = 0; j < b.input.shape()[0]; ++j) out.emplace_back(x.begin() + j * 1024, x.begin() + (j + 1) * 1024);
    return out;
  };
  std::vector<Pixels> held = images_of(task.batch(Split::Validation, 0, 10));
  for (const Pixels& p : images_of(task.batch(Split::Test, 0, 10))) held.push_back(p);
  std::vector<Pixels> trained;  // the three stages (20 sequences), then 12 main training sequences
  for (int64_t first = 0; first < 32; first += 4)
    for (const Pixels& p : images_of(task.batch(Split::Train, first, 4))) trained.push_back(p);
  for (size_t i = 0; i < trained.size(); ++i) {
    CAPTURE(i);
    CHECK(std::find(held.begin(), held.end(), trained[i]) == held.end());
    CHECK(std::find(trained.begin(), trained.begin() + long(i), trained[i]) == trained.begin() + long(i));
  }
  // One new image per sequence, in order: the 6-dash stages take indices 20..31 of the main stream,
  // the training images after the curriculum start at 32; the 2-dash stage is its own stream's 0..7.
  PathfinderGenerator gen6(6, 0), gen2(2, 0);
  CHECK(trained[3][517] == gen2.example(3).pixels[517]);
  CHECK(trained[8][300] == gen6.example(20).pixels[300]);
  CHECK(trained[19][300] == gen6.example(31).pixels[300]);
  CHECK(d.fresh_first == 32);
  CHECK(trained[20][300] == gen6.example(32).pixels[300]);
  // Fresh data has no stored stage images to repeat.
  CHECK_THROWS_WITH_AS(add_pathfinder_stage(&d, 2, 8, 4, 0), doctest::Contains("images must equal"), pmx::Error);
}

TEST_CASE("real_apps: a stored Pathfinder stage of the main contour length stays inside the training split") {
  PathfinderData d = make_pathfinder_data(6, 8, 4, 4, 3);
  add_pathfinder_stage(&d, 6, /*sequences=*/12, /*images=*/8, 3);  // all of the training images, repeated
  CHECK(d.curriculum[0].images[7].pixels == d.train[7].pixels);
  // One more would be validation image 0; another contour length or seed is another stream.
  CHECK_THROWS_WITH_AS(add_pathfinder_stage(&d, 6, 12, 9, 3), doctest::Contains("validation or test"), pmx::Error);
  add_pathfinder_stage(&d, 4, 12, 12, 3);
  add_pathfinder_stage(&d, 6, 12, 12, 4);
  CHECK(d.curriculum.size() == 3);
}

TEST_CASE("real_apps: sequential_images pads 28x28 to the centre of 32x32 and holds out validation per class") {
  FashionMnist f = stand_in_fashion_mnist();
  TokenDataset d = sequential_images(f, 0.25, 0);
  CHECK(d.seq_len == 1024);
  CHECK(d.vocab == 256);
  CHECK(d.classes() == 10);
  CHECK(d.train.count() == 30);
  CHECK(d.validation.count() == 10);
  CHECK(d.test.count() == 6);
  int64_t val_ones = 0;
  for (int64_t l : d.validation.labels) val_ones += l;
  CHECK(val_ones == 5);  // stratified: a quarter of each class
  // Test image 2 at row 5 of the frame, col 7: pixel (3, 5) of the 28x28 image.
  CHECK(d.test.tokens[size_t(2 * 1024 + 5 * 32 + 7)] == f.test_images.pixels[size_t(2 * 784 + 3 * 28 + 5)]);
  for (int64_t t : {0, 1, 31, 32 + 1, 2 * 32 + 30, 30 * 32 + 15, 1023}) CHECK(d.test.tokens[size_t(t)] == 0);
  CHECK(d.test.tokens[size_t(2 * 32 + 2)] == f.test_images.pixels[0]);
  CHECK(sequential_images(f, 0.25, 0).train.tokens == d.train.tokens);
  CHECK(sequential_images(f, 0.25, 1).train.tokens != d.train.tokens);

  uint16_t out[1024];
  uint8_t img[33 * 33] = {};
  CHECK_THROWS_WITH_AS(pad_to_32(out, img, 33, 33), doctest::Contains("[sequential_images]"), pmx::Error);
  f.test_labels.pop_back();
  CHECK_THROWS_AS(sequential_images(f, 0.25, 0), pmx::Error);
}
