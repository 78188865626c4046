// `synctool run SYNC... | --all`: each sync once, in the order given (--all: by name). A sync
// whose spec is broken is reported and skipped, the others run; a stop request (SIGINT,
// SIGTERM) starts no further sync. With more than one sync, a summary table follows the
// reports, and the exit code is the most severe of the syncs' (engine::exit_code::most_severe).
// `run --due` runs the syncs whose schedule came due (cli/sync_control.hpp) and prints nothing
// when none did. A paused sync is skipped by --all and --due (exit 0 for it); named, it exits 8
// (engine::exit_code::paused) unless --force.
#include "cli/commands.hpp"
#include "cli/sync_control.hpp"
#include "cli/run_observers.hpp"
#include "cli/sync_session.hpp"
#include "report/text.hpp"
#include "util/interrupt.hpp"

#include <algorithm>
#include <csignal>
#include <optional>

namespace synctool::cli {

namespace {

// What became of one selected sync.
struct Outcome {
  std::string sync;
  std::optional<engine::RunReport> report;  // when it ran
  std::vector<spec::SpecProblem> problems;  // when its spec is broken
  bool stopped_before = false;              // a stop request came before its turn
  std::optional<PauseRecord> paused;        // when skipped for being paused
  int exit_code = engine::exit_code::ok;

  std::string error() const {
    if (report) return report->error;
    if (paused) return "skipped: " + paused->describe();
    if (stopped_before) return "not run: " + std::string(util::stop_signal() == SIGINT ? "SIGINT" : "SIGTERM") +
                               " asked to stop";
    auto lines = spec_problem_lines(problems);
    std::string text = "spec error: " + (lines.empty() ? std::string("unknown") : lines.front());
    if (lines.size() > 1) text += " (and " + std::to_string(lines.size() - 1) + " more)";
    return text;
  }
};

// Each name once, in the order first given.
std::vector<std::string> unique_names(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const auto& n : names)
    if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
  return out;
}

nlohmann::json summary_json(const Outcome& o) {
  nlohmann::json j = {{"sync", o.sync}, {"ran", o.report.has_value()}};
  if (o.report) {
    const auto& r = *o.report;
    j["kind"] = engine::to_string(r.kind);
    j["created"] = r.destination.created;
    j["updated"] = r.destination.updated;
    j["deleted"] = r.destination.deleted;
    j["skipped"] = r.destination.skipped;
    j["rejected"] = r.source.rejected + r.destination.rejected;
    j["failed"] = r.source.failed + r.destination.failed;
    j["new_problems"] = r.new_problems;
  } else {
    j["kind"] = nullptr;
  }
  if (o.paused) j["paused"] = o.paused->to_json();
  j["exit_code"] = o.stopped_before ? nlohmann::json() : nlohmann::json(o.exit_code);
  std::string error = o.error();
  j["error"] = error.empty() || (o.paused && o.exit_code == engine::exit_code::ok) ? nlohmann::json()
                                                                                  : nlohmann::json(error);
  if (!o.problems.empty()) j["problems"] = spec_problems_json(o.problems);
  return j;
}

std::string summary_table(const std::vector<Outcome>& outcomes) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& o : outcomes) {
    std::vector<std::string> row{o.sync};
    if (o.report) {
      const auto& r = *o.report;
      row.push_back(engine::to_string(r.kind));
      for (auto n : {r.destination.created, r.destination.updated, r.destination.deleted, r.destination.skipped,
                     r.source.rejected + r.destination.rejected, r.source.failed + r.destination.failed})
        row.push_back(std::to_string(n));
    } else {
      row.insert(row.end(), 7, "-");
    }
    row.push_back(o.stopped_before ? "-" : std::to_string(o.exit_code));
    row.push_back(o.error());
    rows.push_back(std::move(row));
  }
  return report::render_table(
      {"SYNC", "KIND", "CREATED", "UPDATED", "DELETED", "SKIPPED", "REJECTED", "FAILED", "EXIT", "ERROR"}, rows);
}

// The sync's pause record; nullopt when it is not paused or its state cannot be read (its
// run then says why).
std::optional<PauseRecord> pause_of(Context& ctx, const std::string& name) {
  try {
    if (auto store = ctx.open_state_read_only(name)) return read_pause(*store);
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

int paused_error(Output& out, const std::string& name, const PauseRecord& pause) {
  const std::string message = "'" + name + "' is " + pause.describe() + "; nothing done (`synctool resume " + name +
                              "` ends the pause, --force runs it once)";
  if (out.json())
    out.print_json({{"ok", false},
                    {"sync", name},
                    {"paused", pause.to_json()},
                    {"error", message},
                    {"exit_code", engine::exit_code::paused}});
  out.error(message);
  return engine::exit_code::paused;
}

// The syncs `run --due` runs at `now_ms`, by name: those whose schedule came due since their
// last run started, and those whose spec or state is broken (their run reports it: a scheduler
// must not stay silent about them). `runnable`: whether any of them is not paused.
std::vector<std::string> due_sync_names(Context& ctx, std::int64_t now_ms, bool& runnable) {
  std::vector<std::string> due;
  runnable = false;
  for (const auto& name : ctx.all_sync_names()) {
    std::string schedule;
    try {
      schedule = ctx.load_sync(name).spec->schedule;
    } catch (const spec::SpecError&) {
      due.push_back(name);
      runnable = true;
      continue;
    }
    if (schedule.empty()) continue;
    try {
      auto store = ctx.open_state_read_only(name);
      if (store && !due_state(schedule, last_run_start(*store), now_ms).due) continue;
      if (!store || !read_pause(*store)) runnable = true;
    } catch (const std::exception&) {
      runnable = true;
    }
    due.push_back(name);
  }
  return due;
}

}  // namespace

int cmd_run(Context& ctx, const SyncSelection& selection, const RunFlags& flags) {
  auto& out = ctx.out();
  std::vector<std::string> names;
  try {
    if (selection.due) {
      if (selection.all || !selection.names.empty())
        return usage_error(out, "--due chooses the syncs itself: name none and leave out --all");
      std::int64_t now = 0;
      try {
        now = schedule_now_ms();
      } catch (const std::invalid_argument& e) {
        return usage_error(out, e.what());
      }
      if (ctx.all_sync_names().empty())
        return usage_error(out, "--due: there are no sync specs (*.toml) in " + ctx.project().syncs_dir.string());
      bool runnable = false;
      names = due_sync_names(ctx, now, runnable);
      if (!runnable) {
        // Nothing to do is the common case under cron, whose mail would carry any output.
        if (out.json()) out.print_json({{"runs", nlohmann::json::array()}, {"summary", nlohmann::json::array()}, {"exit_code", 0}});
        return engine::exit_code::ok;
      }
    } else if (selection.all) {
      names = ctx.all_sync_names();
      if (names.empty())
        return usage_error(out, "--all: there are no sync specs (*.toml) in " + ctx.project().syncs_dir.string());
    } else {
      names = unique_names(selection.names);
      if (names.empty()) return usage_error(out, "name a sync to run, or pass --all");
      // A name that is no sync at all is a mistake on the command line: nothing runs.
      std::vector<spec::SpecProblem> unknown;
      for (const auto& name : names) {
        try {
          spec::sync_file(ctx.project(), name);
        } catch (const spec::SpecError& e) {
          unknown.insert(unknown.end(), e.problems().begin(), e.problems().end());
        }
      }
      if (!unknown.empty()) return report_spec_error(out, spec::SpecError(std::move(unknown)));
    }
  } catch (const spec::SpecError& e) {
    return report_spec_error(out, e);  // the project itself is broken
  }
  const bool several = selection.all || selection.due || names.size() > 1;
  const bool named = !selection.all && !selection.due;  // a paused sync named runs with --force

  engine::RunOptions options;
  options.full = flags.full;
  options.resync = flags.resync;
  options.force = flags.force;
  options.strict = flags.strict;

  std::vector<Outcome> outcomes;
  int worst = engine::exit_code::ok;
  for (const auto& name : names) {
    Outcome o;
    o.sync = name;
    if (util::stop_requested()) {
      o.stopped_before = true;
      outcomes.push_back(std::move(o));
      continue;
    }
    if (auto pause = pause_of(ctx, name)) {
      if (!named || !flags.force) {
        if (!several) return paused_error(out, name, *pause);
        o.paused = pause;
        o.exit_code = named ? engine::exit_code::paused : engine::exit_code::ok;
        if (named) out.error(name + ": " + pause->describe() + "; nothing done (--force runs it)");
        worst = engine::exit_code::most_severe(worst, o.exit_code);
        outcomes.push_back(std::move(o));
        continue;
      }
      out.note("synctool: " + name + " is " + pause->describe() + "; running it anyway (--force)\n");
    }
    try {
      o.report = run_one_sync(ctx, name, options, nullptr);
      o.exit_code = o.report->exit_code;
      after_run(ctx, *o.report);  // metrics file, [notify]
    } catch (const spec::SpecError& e) {
      if (!several) return report_spec_error(out, e);
      o.problems = e.problems();
      o.exit_code = engine::exit_code::usage;
      for (const auto& line : spec_problem_lines(o.problems)) out.error(line);
    }
    worst = engine::exit_code::most_severe(worst, o.exit_code);
    if (o.report) {
      if (!out.json() && !(out.quiet() && o.exit_code == engine::exit_code::ok))
        out.print(report::render_run_report(*o.report));
      if (!o.report->error.empty()) out.error(name + ": " + o.report->error);
    }
    outcomes.push_back(std::move(o));
  }
  if (util::stop_requested())
    worst = engine::exit_code::most_severe(worst, util::exit_code_for_signal(util::stop_signal()));

  if (!several && outcomes.front().stopped_before) return command_error(out, worst, outcomes.front().error());
  if (out.json()) {
    if (!several) {
      out.print_json(outcomes.front().report->to_json());
    } else {
      auto runs = nlohmann::json::array();
      auto summary = nlohmann::json::array();
      for (const auto& o : outcomes) {
        if (o.report) runs.push_back(o.report->to_json());
        summary.push_back(summary_json(o));
      }
      out.print_json({{"runs", runs}, {"summary", summary}, {"exit_code", worst}});
    }
  } else if (several && !(out.quiet() && worst == engine::exit_code::ok)) {
    out.print("\n" + summary_table(outcomes) + "exit " + std::to_string(worst) + ": " +
              (outcomes.size() == 1 ? std::string("the sync's exit code")
                                    : "the most severe of the " + std::to_string(outcomes.size()) +
                                          " syncs' exit codes") +
              "\n");
  }
  return worst;
}

}  // namespace synctool::cli
