// The exit code of several runs together (DESIGN section 6), with paused (8) placed just above 0.
#include "engine/report.hpp"

#include <catch2/catch.hpp>

#include <vector>

namespace ec = synctool::engine::exit_code;

TEST_CASE("most_severe orders 130/143, 7, 3, 6, 2, 4, 5, 1, 8, 0", "[engine][exit-code]") {
  const std::vector<int> order = {ec::interrupted_int, ec::local_failure, ec::connection, ec::resync_needed, ec::usage,
                                  ec::safeguard,       ec::locked,        ec::rows_failed, ec::paused,        ec::ok};
  for (std::size_t i = 0; i < order.size(); ++i) {
    for (std::size_t j = i; j < order.size(); ++j) {
      INFO(order[i] << " vs " << order[j]);
      CHECK(ec::most_severe(order[i], order[j]) == order[i]);
      CHECK(ec::most_severe(order[j], order[i]) == order[i]);
    }
  }
  CHECK(ec::paused == 8);
  // A paused sync named beside one whose rows failed: the failure shows.
  CHECK(ec::most_severe(ec::paused, ec::rows_failed) == ec::rows_failed);
  CHECK(ec::most_severe(ec::ok, ec::paused) == ec::paused);
}
