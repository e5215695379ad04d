// The image-writing tools (make_pathfinder_samples, inspect_mixer) run as programs: a bad --out
// is refused before the images are generated or the weights loaded, naming the flag.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "test_util.h"

namespace fs = std::filesystem;

TEST_CASE("image_tools_app: an --out that cannot be written is refused first, naming --out") {
  pmx_test::TempDir tmp("image_tools_out");
  const std::string weights = tmp / "none.safetensors";  // missing: the load would fail next
  const pmx_test::RefusedRun cases[] = {
      // make_pathfinder_samples generated every block (34 s for --rows 64 --cols 64 --difficulties
      // 14,14,14) before write_file_atomic said it cannot create the file.
      {"make_pathfinder_samples", "--out " + (tmp / "no_dir/x.png"), "--out: cannot write " + (tmp / "no_dir/x.png")},
      {"make_pathfinder_samples", "--out " + tmp.dir.string(), "--out: cannot write " + tmp.dir.string()},
      {"make_pathfinder_samples", "--out ''", "--out must name a PNG file"},
      {"inspect_mixer", "--weights " + weights + " --seq-len 8 --vocab 4 --out " + (tmp / "no_dir/m.png"),
       "--out: cannot write " + (tmp / "no_dir/m.png")},
      {"inspect_mixer", "--weights " + weights + " --seq-len 8 --vocab 4 --out ''", "--out must name a PNG file"},
  };
  for (const pmx_test::RefusedRun& c : cases) {
    const pmx_test::AppRun run = pmx_test::expect_refused(c);
    INFO(c.app << " " << c.flags);
    CHECK(run.output.find("block 1") == std::string::npos);  // no image was generated
    CHECK(fs::is_empty(tmp.dir));
  }
}
