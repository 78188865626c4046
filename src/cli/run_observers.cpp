#include "cli/run_observers.hpp"

#include "cli/push_spool.hpp"
#include "net/http.hpp"
#include "net/http_client.hpp"
#include "report/metrics.hpp"
#include "report/notify.hpp"
#include "util/clock.hpp"
#include "util/fs.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace synctool::cli {

namespace {

// How many recorded runs are looked at for the previous health and the last success: enough
// for any schedule's streak of failures worth telling apart, few enough to read in a moment.
constexpr std::size_t kRunsLookedAt = 200;

struct Facts {
  report::StateFacts state;
  std::optional<report::Health> before;  // the health of the latest earlier run that had one
};

// Reads the state after the run (read-only: the run has let go of it). A state that cannot be
// read leaves every fact unknown; the run's own report already says why.
Facts read_facts(Context& ctx, const engine::RunReport& run) {
  Facts facts;
  const bool succeeded = run.exit_code == engine::exit_code::ok || run.exit_code == engine::exit_code::rows_failed;
  if (succeeded) facts.state.last_success_ms = run.started_ms;
  try {
    auto store = ctx.open_state_read_only(run.sync);
    if (!store) return facts;  // never ran: nothing recorded, no earlier health
    facts.state.failed_rows = store->failed_count();
    std::uint64_t open = 0;
    store->for_each_conflict([&](const std::string&, const state::Conflict& c) {
      if (c.resolution.is_null()) ++open;
      return true;
    });
    facts.state.open_conflicts = open;
    facts.state.paused = store->get_meta(state::meta::paused).has_value();
    if (auto waiting = spool_waiting(*store)) facts.state.spool_waiting = *waiting;
    auto runs = store->runs(kRunsLookedAt);
    std::size_t first = 0;
    // The newest recorded run is this one unless the run stopped before it could be recorded
    // (a state or connection that could not be opened).
    if (!runs.empty() && runs.front().value("started_at", "") == run.started_at &&
        runs.front().value("exit_code", -1) == run.exit_code)
      first = 1;
    for (std::size_t i = first; i < runs.size(); ++i) {
      const auto& r = runs[i];
      if (!r.contains("exit_code") || !r["exit_code"].is_number_integer()) continue;
      int code = r["exit_code"].get<int>();
      if (!facts.before) facts.before = report::health_of(code);
      if (!facts.state.last_success_ms &&
          (code == engine::exit_code::ok || code == engine::exit_code::rows_failed) && r.contains("started_at") &&
          r["started_at"].is_string())
        facts.state.last_success_ms = util::parse_iso8601(r["started_at"].get<std::string>());
      if (facts.before && facts.state.last_success_ms) break;
    }
  } catch (const std::exception&) {
    // Unreadable or damaged state: the facts stay unknown (metrics leave them out).
  }
  return facts;
}

void warn(Context& ctx, const std::string& text) {
  ctx.out().note("synctool: warning: " + ctx.out().redactor().apply(text) + "\n");
}

void write_metrics(Context& ctx, const std::filesystem::path& file, const std::string& text) {
  try {
    std::error_code ec;
    if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path(), ec);
    // write_file_atomically writes <file>.tmp-<pid> and renames it over <file>: the textfile
    // collector, which reads only *.prom, never sees a half-written file, and two syncs'
    // runs never share a temporary file.
    util::write_file_atomically(file, [&](std::ostream& out) { out << text; });
  } catch (const std::exception& e) {
    warn(ctx, "cannot write the metrics file " + file.string() + ": " + e.what());
  }
}

// One POST of `body` with a short timeout and one retry (a 5xx, a 429, a dropped connection).
void post_webhook(Context& ctx, const std::string& url, const std::string& sync, const nlohmann::json& body) {
  net::TransportOptions transport_options;
  transport_options.connect_timeout_ms = 5'000;
  transport_options.total_timeout_ms = 10'000;
  net::ClientOptions options;
  options.name = "notify";
  options.rate_limit = {10, 1'000};
  options.max_in_flight = 1;
  options.retry.max_attempts = 2;
  options.retry.max_elapsed_ms = 15'000;
  options.retry.base_delay_ms = 500;
  options.retry.max_delay_ms = 2'000;
  options.transport = transport_options;
  options.redactor = &ctx.out().redactor();
  net::HttpRequest request;
  request.method = "POST";
  request.url = url;
  request.headers = {{"Content-Type", "application/json"}};
  request.body = ctx.out().redactor().apply(body.dump());
  // Failures name the webhook by "[notify] url", never by its address: the URL is the secret.
  const std::string what = "[notify] webhook for sync '" + sync + "'";
  try {
    auto transport = net::make_curl_transport(transport_options);
    net::HttpClient client(options, *transport, nullptr, util::system_clock());
    auto response = client.send(std::move(request));
    if (!response.ok()) warn(ctx, what + " answered HTTP " + std::to_string(response.status) + "; no message sent");
    else if (ctx.out().verbose())
      ctx.out().note(sync + ": [notify] webhook answered HTTP " + std::to_string(response.status) + "\n");
  } catch (const net::HttpFailure& e) {
    warn(ctx, what + " failed" + (e.status() ? " with HTTP " + std::to_string(e.status()) : std::string()) +
                  " after a retry; no message sent");
  } catch (const std::exception& e) {
    warn(ctx, what + " failed: " + std::string(e.what()));
  }
}

}  // namespace

void refresh_paused_metric(Context& ctx, const std::string& sync, bool paused) {
  try {
    const auto& project = ctx.project();
    if (project.metrics_dir.empty()) return;
    const auto file = project.metrics_dir / report::metrics_file_name(sync);
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) return;  // never ran: the first run writes it
    std::ifstream in(file);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string sample = "synctool_sync_paused{";
    const auto at = text.find("\n" + sample);
    if (at == std::string::npos) return;  // the run could not read the state: no such sample
    const auto end = text.find('\n', at + 1);
    const auto space = text.rfind(' ', end);
    if (end == std::string::npos || space == std::string::npos || space < at) return;
    text.replace(space + 1, end - space - 1, paused ? "1" : "0");
    write_metrics(ctx, file, text);
  } catch (const std::exception& e) {
    warn(ctx, "cannot update the metrics file of '" + sync + "': " + e.what());
  }
}

void after_run(Context& ctx, const engine::RunReport& report) {
  if (report.exit_code == engine::exit_code::locked) return;
  try {
    const auto& project = ctx.project();
    std::vector<std::filesystem::path> files;
    if (!project.metrics_dir.empty()) files.push_back(project.metrics_dir / report::metrics_file_name(report.sync));
    if (!ctx.options().metrics_file.empty()) files.emplace_back(ctx.options().metrics_file);
    const auto health = report::health_of(report.exit_code);
    const bool notify = !project.notify.url.empty() && health.has_value();
    if (files.empty() && !notify) return;

    auto facts = read_facts(ctx, report);
    if (!files.empty()) {
      auto text = report::render_metrics(report, facts.state);
      for (const auto& file : files) write_metrics(ctx, file, text);
    }
    if (notify) {
      auto event = report::health_event(facts.before, *health);
      const auto& on = project.notify.on;
      if (!event.empty() && std::find(on.begin(), on.end(), event) != on.end())
        post_webhook(ctx, project.notify.url, report.sync, report::notify_message(report, facts.before, *health, event));
    }
  } catch (const std::exception& e) {
    warn(ctx, "after the run of '" + report.sync + "': " + e.what());
  }
}

}  // namespace synctool::cli
