#include "cli/app.hpp"

#include "cli/commands.hpp"
#include "cli/connector_catalog.hpp"
#include "cli/context.hpp"
#include "cli/version.hpp"
#include "engine/report.hpp"

#include "state/store.hpp"
#include "util/strings.hpp"

#include <CLI/CLI.hpp>

#include <iostream>
#include <string_view>

namespace synctool::cli {

int command_error(Output& out, int code, const std::string& message) {
  if (out.json()) out.print_json({{"ok", false}, {"error", message}, {"exit_code", code}});
  out.error(message);
  return code;
}

int state_error(Output& out, nlohmann::json document, const std::string& message) {
  if (out.json()) {
    document["ok"] = false;
    document["error"] = message;
    document["exit_code"] = engine::exit_code::local_failure;
    out.print_json(document);
  }
  out.error(message);
  return engine::exit_code::local_failure;
}

int usage_error(Output& out, const std::string& message) {
  return command_error(out, engine::exit_code::usage, message);
}

namespace {

spec::SpecProblem displayed(spec::SpecProblem problem) {
  problem.where.file = display_path(problem.where.file);
  return problem;
}

// Whether --json is among the arguments, for the errors met before they are parsed.
bool json_requested(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg == "--json") return true;
  }
  return false;
}

}  // namespace

nlohmann::json spec_problems_json(const std::vector<spec::SpecProblem>& problems) {
  auto list = nlohmann::json::array();
  for (const auto& original : problems) {
    auto p = displayed(original);
    list.push_back({{"file", p.where.file}, {"line", p.where.line}, {"column", p.where.column}, {"message", p.message}});
  }
  return list;
}

std::vector<std::string> spec_problem_lines(const std::vector<spec::SpecProblem>& problems) {
  std::vector<std::string> lines;
  for (const auto& p : problems) lines.push_back(displayed(p).to_string());
  return lines;
}

int run_cli(int argc, char** argv) {
  CLI::App app{"synctool: keeps records in two systems in step, declared in TOML (synctool.toml + syncs/*.toml)"};
  app.require_subcommand(1);
  GlobalOptions global;
  app.add_option("--config", global.config, "Path of synctool.toml (default: ./synctool.toml)");
  app.add_flag("--json", global.json, "Machine-readable JSON on stdout");
  app.add_flag("-v,--verbose", global.verbose, "More detail on stderr");
  app.add_flag("-q,--quiet", global.quiet,
               "No progress line; run prints nothing for a sync that ended in sync (exit 0), as cron wants");
  app.add_option("--metrics-file", global.metrics_file,
                 "run of one sync: also write its Prometheus metrics to this file (atomically)");
  app.set_version_flag("--version", version_text(), "Print the version, the git commit and the build type");

  InitOptions init_options;
  auto* init = app.add_subcommand("init", "Write synctool.toml and a sync between two connection types to start from");
  init->add_option("TYPES", init_options.types, "The source's and the destination's type: " + util::join(connector_type_names(), ", "))
      ->required()
      ->expected(2);
  init->add_option("--dir", init_options.dir, "Write the project into this folder (default: the working directory)");
  init->add_flag("--force", init_options.force, "Replace synctool.toml and the sync's file where they exist");

  std::vector<std::string> check_names;
  bool connect = false;
  auto* check = app.add_subcommand("check", "Validate synctool.toml and every sync spec; report all problems");
  check->add_option("SYNC", check_names, "Syncs to check (default: all)");
  check->add_flag("--connect", connect, "Also connect to each system and check credentials and objects");

  RunFlags diff_flags;
  std::string diff_name;
  auto* diff = app.add_subcommand("diff", "Dry run: print exactly what `run` would do, and its totals");
  diff->add_option("SYNC", diff_name, "The sync")->required();
  diff->add_flag("--full", diff_flags.full, "Plan a full reconciliation");
  diff->add_flag("--resync", diff_flags.resync, "Plan a baseline that ignores the stored links");
  diff->add_flag("--force", diff_flags.force, "Plan past the delete safeguards");

  RunFlags run_flags;
  SyncSelection selection;
  auto* run = app.add_subcommand("run", "Run syncs once: baseline first, then incremental, --full to reconcile");
  run->add_option("SYNC", selection.names, "Syncs to run");
  run->add_flag("--all", selection.all, "Run every sync in syncs/");
  run->add_flag("--due", selection.due,
                "Run every sync whose schedule came due since its last run started (prints nothing when none is)");
  run->add_flag("--full", run_flags.full, "Full reconciliation: read both sides whole and repair any drift");
  run->add_flag("--resync", run_flags.resync, "Forget links and cursors and match records afresh (baseline)");
  run->add_flag("--force", run_flags.force, "Go past the delete safeguards (delete cap, empty source)");
  run->add_flag("--strict", run_flags.strict,
                "Exit 1 for every rejected or failed row, also those that failed before this run");

  auto* status = app.add_subcommand("status", "One line per sync: SYNC, DIRECTION, STATUS, LAST SYNC, RECORDS, SCHEDULE, NEXT DUE");

  std::string runs_name;
  std::size_t runs_limit = 20;
  auto* runs = app.add_subcommand("runs", "Run history, newest first");
  runs->add_option("SYNC", runs_name, "Only this sync");
  runs->add_option("-n,--limit", runs_limit, "How many runs (0 = all)")->capture_default_str();

  std::string state_name;
  auto* state = app.add_subcommand("state", "Inspect or reset a sync's stored state");
  state->require_subcommand(1);
  auto* state_show = state->add_subcommand("show", "Cursors, link count, pending creates, failed rows");
  state_show->add_option("SYNC", state_name, "The sync")->required();
  auto* state_reset = state->add_subcommand(
      "reset", "Forget links, cursors and failures (run history stays); a damaged state's files are removed");
  state_reset->add_option("SYNC", state_name, "The sync")->required();
  std::string cursor_side, cursor_value;
  auto* state_cursor = state->add_subcommand("cursor", "Show, set or clear where a side's next incremental read starts");
  state_cursor->require_subcommand(1);
  auto* cursor_get = state_cursor->add_subcommand("get", "Show the cursors (both sides unless --side)");
  auto* cursor_set = state_cursor->add_subcommand("set", "Read the side's changes from VALUE on (a backfill)");
  auto* cursor_reset = state_cursor->add_subcommand(
      "reset", "Clear the side's cursor: the next run reads that side whole, keeping the links");
  for (auto* sub : {cursor_get, cursor_set, cursor_reset}) {
    sub->add_option("SYNC", state_name, "The sync")->required();
    sub->add_option("--side", cursor_side, "source (default) or destination")
        ->check(CLI::IsMember({"source", "destination"}));
  }
  cursor_set->add_option("VALUE", cursor_value, "The cursor, in the form the side's cursors take")->required();

  std::string pause_name, pause_reason;
  auto* pause = app.add_subcommand("pause", "Pause a sync: run --all and --due skip it, run SYNC exits 8");
  pause->add_option("SYNC", pause_name, "The sync")->required();
  pause->add_option("--reason", pause_reason, "Why, shown by status");
  auto* resume = app.add_subcommand("resume", "End a sync's pause");
  resume->add_option("SYNC", pause_name, "The sync")->required();

  IngestOptions ingest_options;
  auto* ingest = app.add_subcommand(
      "ingest", "Spool one webhook delivery for a push source: verify its signature, parse its rows, keep them for the next run");
  ingest->add_option("SYNC", ingest_options.sync, "The sync whose source is the push connection")->required();
  ingest->add_option("--header,-H", ingest_options.headers, "A request header, 'Name: value' (repeat for each)");
  ingest->add_option("--body", ingest_options.body_file, "The body's file (default: standard input)");
  ingest->add_option("--method", ingest_options.method, "The request's method (hubspot-v3 signs it)")
      ->capture_default_str();
  ingest->add_option("--url", ingest_options.url, "The URL the sender called (hubspot-v3 signs it)");

  std::string schema_name;
  bool schema_apply = false;
  auto* schema = app.add_subcommand("schema", "Compare a sync's declared [schema] with the destination's fields");
  schema->add_option("SYNC", schema_name, "The sync")->required();
  schema->add_flag("--apply", schema_apply, "Create and alter the destination's fields to match");

  std::string history_name, history_key;
  std::size_t history_limit = 0;
  auto* history = app.add_subcommand("history", "Why a record changed: every write synctool made to it, newest first");
  history->add_option("SYNC", history_name, "The sync")->required();
  history->add_option("KEY", history_key, "The record's match key (normalized as [match] says)")->required();
  history->add_option("-n,--limit", history_limit, "At most this many runs (0 = all kept)")->capture_default_str();

  std::string revert_name;
  std::uint64_t revert_run = 0;
  bool revert_dry_run = false;
  auto* revert = app.add_subcommand(
      "revert", "Undo one run's writes from the recorded values; records changed since are refused and listed");
  revert->add_option("SYNC", revert_name, "The sync")->required();
  revert->add_option("RUN", revert_run, "The run's number (synctool runs SYNC shows it)")->required();
  revert->add_flag("--dry-run", revert_dry_run, "Only print what the revert would write and what it refuses");

  std::string conflicts_name, conflicts_key, conflicts_take;
  std::vector<std::string> conflicts_set;
  auto* conflicts = app.add_subcommand("conflicts", "Bidirectional syncs: list the conflicts queued for a decision");
  conflicts->add_option("SYNC", conflicts_name, "Only this sync");
  auto* conflicts_resolve = conflicts->add_subcommand(
      "resolve", "Choose a queued record's values; the next run writes them to both sides");
  conflicts_resolve->add_option("SYNC", conflicts_name, "The sync")->required();
  conflicts_resolve->add_option("KEY", conflicts_key, "The record's match key, as `synctool conflicts` shows it")->required();
  conflicts_resolve->add_option("--take", conflicts_take, "Take every field from this side: source or destination");
  conflicts_resolve->add_option("--set", conflicts_set, "field=value (repeatable); other fields keep their earlier value");

  std::vector<std::string> cron_names;
  CronFlags cron_flags;
  auto* cron = app.add_subcommand("cron", "Print what a scheduler needs to run the syncs: crontab, systemd units or Kubernetes CronJobs");
  cron->add_option("SYNC", cron_names, "Only these syncs (default: all)");
  cron->add_option("--format", cron_flags.format, "crontab, systemd or kubernetes")->capture_default_str();
  cron->add_flag("--one-job", cron_flags.one_job, "One `run --due` entry every minute instead of one entry per sync");
  cron->add_option("--binary", cron_flags.binary, "synctool's path (default: this binary; in the image: synctool)");
  cron->add_option("--env-file", cron_flags.env_file, "crontab, systemd: KEY=VALUE file with the credentials (absolute path)");
  cron->add_option("--alert-command", cron_flags.alert_command,
                   "crontab, systemd: run as `COMMAND SYNC EXIT_CODE` when a run fails (exit code not 0 or 5)");
  cron->add_option("--image", cron_flags.image, "kubernetes: the container image that holds synctool");
  cron->add_option("--namespace", cron_flags.namespace_name, "kubernetes: the namespace of every object");
  cron->add_option("--secret", cron_flags.secret, "kubernetes: the Secret with the credentials (default: synctool-credentials)");
  cron->add_option("--state-size", cron_flags.state_size, "kubernetes: the size of each state claim (default: 1Gi)");
  cron->add_option("--name", cron_flags.name, "Prefix of unit and object names (a group of syncs gets its own)")
      ->capture_default_str();
  cron->add_option("--output-dir", cron_flags.output_dir, "Write the files into this folder instead of printing them");
  cron->fallthrough();

  for (auto* sub : {init, check, diff, run, status, runs, state, state_show, state_reset, schema, conflicts, conflicts_resolve,
                    history, revert})
    sub->fallthrough();
  for (auto* sub : {state_cursor, cursor_get, cursor_set, cursor_reset, pause, resume, ingest}) sub->fallthrough();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version end here too, with exit code 0.
    if (e.get_exit_code() == 0 || !json_requested(argc, argv)) {
      int code = app.exit(e);
      return code == 0 ? 0 : engine::exit_code::usage;
    }
    GlobalOptions as_json = global;
    as_json.json = true;
    Output out(as_json);
    return usage_error(out, std::string(e.what()) + " (synctool --help lists the commands and options)");
  }

  Output out(global);
  Context ctx(global, out);
  try {
    if (*init) return cmd_init(ctx, init_options);
    if (*check) return cmd_check(ctx, check_names, connect);
    if (*diff) return cmd_diff(ctx, diff_name, diff_flags);
    if (*run && !global.metrics_file.empty() && (selection.all || selection.names.size() != 1))
      return usage_error(out, "--metrics-file takes the metrics of one sync: run one sync with it, or set "
                              "metrics_dir in synctool.toml for one file per sync");
    if (*run) return cmd_run(ctx, selection, run_flags);
    if (*status) return cmd_status(ctx);
    if (*runs) return cmd_runs(ctx, runs_name, runs_limit);
    if (*state_show) return cmd_state_show(ctx, state_name);
    if (*state_reset) return cmd_state_reset(ctx, state_name);
    if (*cursor_get) return cmd_state_cursor_get(ctx, state_name, cursor_side);
    if (*cursor_set) return cmd_state_cursor_set(ctx, state_name, cursor_side, cursor_value);
    if (*cursor_reset) return cmd_state_cursor_reset(ctx, state_name, cursor_side);
    if (*pause) return cmd_pause(ctx, pause_name, pause_reason);
    if (*resume) return cmd_resume(ctx, pause_name);
    if (*ingest) return cmd_ingest(ctx, ingest_options);
    if (*schema) return cmd_schema(ctx, schema_name, schema_apply);
    if (*history) return cmd_history(ctx, history_name, history_key, history_limit);
    if (*revert) return cmd_revert(ctx, revert_name, revert_run, revert_dry_run);
    if (*conflicts_resolve)
      return cmd_conflicts_resolve(ctx, conflicts_name, conflicts_key, conflicts_take, conflicts_set);
    if (*conflicts) return cmd_conflicts_list(ctx, conflicts_name);
    if (*cron) return cmd_cron(ctx, cron_names, cron_flags);
  } catch (const spec::SpecError& e) {
    return report_spec_error(out, e);
  } catch (const state::StateError& e) {
    return command_error(out, engine::exit_code::local_failure, e.what());
  } catch (const std::exception& e) {
    return command_error(out, engine::exit_code::connection, e.what());
  }
  return usage_error(out, "no command given (synctool --help lists them)");
}

}  // namespace synctool::cli
