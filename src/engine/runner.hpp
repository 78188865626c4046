// One pass of a sync (DESIGN section 4): choose the run kind, stage the source (and on full
// runs the destination), check the safeguards, plan, apply, advance cursors, record the run.
#pragma once

#include "connectors/connector.hpp"
#include "engine/compiled_sync.hpp"
#include "engine/plan.hpp"
#include "engine/report.hpp"
#include "state/store.hpp"
#include "util/clock.hpp"

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

namespace synctool::engine {

struct RunOptions {
  bool full = false;     // full reconciliation even if not due
  bool resync = false;   // forget links and cursors, baseline again
  bool force = false;    // override the delete safeguards
  bool dry_run = false;  // plan only: `diff`
  bool strict = false;   // exit 1 for every rejected or failed row, not only for new ones
};

// Where a run is, for a progress line: handed to RunInputs::progress now and then (each page
// read, every few hundred records decided, each batch confirmed).
struct RunProgress {
  const char* phase = "";     // "reading", then "writing"
  std::uint64_t read = 0;     // records read, both sides together
  std::uint64_t decided = 0;  // records planned (written, linked, found unchanged, rejected)
  std::uint64_t written = 0;  // writes the systems confirmed
  std::uint64_t total = 0;    // records to decide, once known (0 until then)
};

struct RunInputs {
  const CompiledSync& sync;
  connectors::Connector& source;
  connectors::Connector& destination;
  // The sync's state; opened read-only (or an empty memory store) for dry runs.
  state::StateStore& store;
  const util::Clock& clock;
  std::filesystem::path scratch_dir;  // parent folder for the run's staging tables
  PlanObserver* observer = nullptr;   // sees every planned action (diff prints them)
  // Progress lines for --verbose; may be empty.
  std::function<void(const std::string&)> log;
  // Masks secrets in any text that is stored (run history, failed rows); identity if empty.
  std::function<std::string(std::string_view)> redact;
  // How a spec file is named in messages (relative to the working directory); as is if empty.
  std::function<std::string(const std::string&)> show_file;
  // Progress (see RunProgress); may be empty. Called on the run's own thread.
  std::function<void(const RunProgress&)> progress;
};

// Never throws for connector or state trouble: the report's exit_code and error say what
// happened (3 for a connector, 7 for the state, 2 for a field the spec names that an object
// lacks, 130/143 when SIGINT/SIGTERM stopped it at a batch boundary). In a real run the
// report is also stored in the state's run history.
RunReport run_sync(const RunInputs& inputs, const RunOptions& options);

}  // namespace synctool::engine
