// The engine end to end in memory, for unit tests: one spec, fake connectors on both sides,
// the memory state store, a scratch folder for staging, a clock a test may replace.
#pragma once

#include "engine/runner.hpp"
#include "state/memory_store.hpp"
#include "support/fake_connector.hpp"
#include "support/temp_dir.hpp"
#include "util/clock.hpp"

#include <memory>
#include <utility>

namespace synctool::testing {

// The contacts sync most engine tests use: email (trimmed, lower-cased) matches email, name ->
// full_name, age -> age; deletes capped at 50%.
inline spec::SyncSpec contacts_spec(spec::Mode mode = spec::Mode::upsert) {
  spec::SyncSpec s;
  s.name = "contacts";
  s.mode = mode;
  s.source = {"src", "contacts", {}, "", {}, "", nlohmann::json::object(), {}};
  s.destination = {"dst", "contacts", {}, "", {}, "", nlohmann::json::object(), {}};
  s.match.source = "email";
  s.match.destination = "email";
  s.match.normalize = {"trim", "lowercase"};
  s.field_map = {{"email", "email", {}, {}}, {"name", "full_name", {}, {}}, {"age", "age", {}, {}}};
  s.deletes.max_value = 50;
  s.deletes.max_is_percent = true;
  return s;
}

struct EngineHarness {
  spec::SyncSpec spec;
  std::unique_ptr<engine::CompiledSync> compiled;
  FakeConnector source, destination;
  std::unique_ptr<state::StateStore> store = state::make_memory_store();
  TempDir scratch;
  const util::Clock* clock = &util::system_clock();
  std::function<void(const std::string&)> log;  // the run's progress lines (--verbose)

  explicit EngineHarness(spec::SyncSpec s) : spec(std::move(s)) {
    compiled = std::make_unique<engine::CompiledSync>(spec);
  }

  engine::RunReport run(engine::RunOptions options = {}, engine::PlanObserver* observer = nullptr) {
    engine::RunInputs in{*compiled, source, destination, *store, *clock, scratch.path(), observer, log, {}, {}, {}};
    return engine::run_sync(in, options);
  }
  engine::RunReport diff() {
    engine::RunOptions options;
    options.dry_run = true;
    return run(options);
  }
};

}  // namespace synctool::testing
