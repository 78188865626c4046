// Runs one sync (or plans it, for diff): opens its state and connectors, takes the lock for
// real runs, calls the engine, and returns the report.
#pragma once

#include "cli/context.hpp"
#include "engine/plan.hpp"
#include "engine/report.hpp"
#include "engine/runner.hpp"

namespace synctool::cli {

// Keeps a connection's refreshed OAuth token in the sync's state (sealed by net/oauth). A
// dry run reads it but never writes.
class StateTokenCache final : public net::TokenCache {
 public:
  StateTokenCache(state::StateStore& store, std::string connection, bool writable);
  std::optional<std::string> load() override;
  void store(const std::string& sealed) override;

 private:
  state::StateStore& store_;
  std::string name_;
  bool writable_;
};

// Spec errors propagate as spec::SpecError; everything else ends in the report's exit code.
engine::RunReport run_one_sync(Context& ctx, const std::string& name, const engine::RunOptions& options,
                               engine::PlanObserver* observer);

}  // namespace synctool::cli
