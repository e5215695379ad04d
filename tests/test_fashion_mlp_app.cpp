// fashion_mlp run as a program: flags it must refuse before it loads (or fetches) the data.
#include <doctest/doctest.h>

#include <string>

#include "test_util.h"

TEST_CASE("fashion_mlp_app: a learning rate <= 0 is refused naming --lr, before the data is loaded") {
  const std::string app = pmx_test::built_app("fashion_mlp");
  if (app.empty()) {
    MESSAGE("apps/fashion_mlp not built (PMX_BUILD_APPS=OFF): skipped");
    return;
  }
  // --lr 0 trained for minutes to chance accuracy and exited 0; --lr -1 failed after loading
  // with "[optimizer] learning rate must be non-negative", not naming the flag.
  for (const char* lr : {"0", "-1", "-1e-300"}) {
    std::string out;
    const int status = pmx_test::run_command(
        "PMX_NO_FETCH=1 " + app + " --data-dir /dev/null/none --log none --lr " + lr, &out);
    INFO("--lr " << lr << " -> " << out);
    CHECK(status != 0);
    CHECK(out.find(std::string("--lr must be > 0, got ") + lr) != std::string::npos);
    CHECK(out.find("[data]") == std::string::npos);  // refused before looking for the data
  }
}
