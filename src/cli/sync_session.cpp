#include "cli/sync_session.hpp"

#include "cli/push_spool.hpp"
#include "connectors/push/push_connector.hpp"
#include "report/progress.hpp"
#include "state/lock.hpp"
#include "state/memory_store.hpp"
#include "util/clock.hpp"

#include <filesystem>

namespace synctool::cli {

namespace {

engine::RunReport failed_report(const std::string& name, bool dry_run, int code, std::string error) {
  engine::RunReport report;
  report.sync = name;
  report.dry_run = dry_run;
  report.started_ms = util::system_clock().now_ms();
  report.started_at = util::format_iso8601(report.started_ms);
  report.exit_code = code;
  report.error = std::move(error);
  return report;
}

// Staging folders left by a killed run: safe to remove once we hold the lock.
void remove_stale_staging(const std::filesystem::path& scratch) {
  std::error_code ec;
  std::filesystem::remove_all(scratch, ec);
}

}  // namespace

StateTokenCache::StateTokenCache(state::StateStore& store, std::string connection, bool writable)
    : store_(store), name_(std::string(state::meta::oauth_token_prefix) + connection), writable_(writable) {}

std::optional<std::string> StateTokenCache::load() { return store_.get_meta(name_); }

void StateTokenCache::store(const std::string& sealed) {
  if (!writable_) return;
  auto txn = store_.begin();
  txn->set_meta(name_, sealed);
  txn->commit();
}

engine::RunReport run_one_sync(Context& ctx, const std::string& name, const engine::RunOptions& options,
                               engine::PlanObserver* observer) {
  auto loaded = ctx.load_sync(name);
  const auto& sync = *loaded.spec;
  try {
    std::optional<state::SyncLock> lock;
    std::unique_ptr<state::StateStore> store;
    std::filesystem::path scratch;
    if (options.dry_run) {
      store = ctx.open_state_read_only(name);
      if (!store) store = state::make_memory_store();  // never run: plan against empty state
      scratch = std::filesystem::temp_directory_path() / "synctool-diff";
    } else {
      auto dir = ctx.state_dir(name);
      store = ctx.open_state(name);  // creates the private folders before the lock file goes in
      lock = state::SyncLock::try_acquire(dir);
      if (!lock)
        return failed_report(name, false, engine::exit_code::locked,
                             "another run of '" + name + "' holds the lock " + (dir / "lock").string() +
                                 "; this run did nothing");
      scratch = dir / "staging";
      remove_stale_staging(scratch);
    }
    StateTokenCache source_tokens(*store, sync.source.connection, !options.dry_run);
    StateTokenCache destination_tokens(*store, sync.destination.connection, !options.dry_run);
    // A push source reads the spool that `synctool ingest` fills in this same state.
    std::unique_ptr<StatePushSpool> spool;
    if (auto config = ctx.connection_config(sync.source.connection); config.type == "push")
      spool = std::make_unique<StatePushSpool>(*store, !options.dry_run,
                                               connectors::push::read_push_settings(config).delivery_ids_kept_ms,
                                               util::system_clock());
    auto source = ctx.open_connector(sync.source.connection, &source_tokens, spool.get());
    auto destination = ctx.open_connector(sync.destination.connection, &destination_tokens);
    engine::RunInputs inputs{*loaded.compiled, *source, *destination, *store, util::system_clock(), scratch, observer, {}, {}, {}, {}};
    const auto& out = ctx.out();
    inputs.redact = [&out](std::string_view text) { return out.redactor().apply(text); };
    inputs.show_file = [](const std::string& file) { return display_path(file); };
    if (out.verbose()) inputs.log = [&out, name](const std::string& line) { out.note(name + ": " + line + "\n"); };
    // --verbose writes lines of its own to stderr, which a line rewritten in place would garble.
    report::ProgressLine progress(name, !out.quiet() && !out.verbose());
    if (progress.active()) inputs.progress = [&progress](const engine::RunProgress& p) { progress.update(p); };
    auto report = engine::run_sync(inputs, options);
    progress.clear();
    if (!options.dry_run) remove_stale_staging(scratch);
    return report;
  } catch (const state::StateError& e) {
    return failed_report(name, options.dry_run, engine::exit_code::local_failure, e.what());
  } catch (const connectors::ConnectorError& e) {
    // A connection key with a value the connector cannot use is a spec error, found late.
    int code = e.setting().empty() ? engine::exit_code::connection : engine::exit_code::usage;
    return failed_report(name, options.dry_run, code, e.what());
  } catch (const std::runtime_error& e) {
    return failed_report(name, options.dry_run, engine::exit_code::connection, e.what());
  }
}

}  // namespace synctool::cli
