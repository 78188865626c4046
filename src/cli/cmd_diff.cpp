#include "cli/commands.hpp"
#include "cli/sync_session.hpp"
#include "report/text.hpp"

namespace synctool::cli {

namespace {

// Prints each planned action as it is decided (text), or collects them (JSON).
class DiffPrinter final : public engine::PlanObserver {
 public:
  explicit DiffPrinter(Output& out) : out_(out) {}
  void on_action(const engine::Action& a) override {
    if (a.kind == engine::Action::Kind::unchanged) return;
    if (!out_.json()) {
      out_.print(report::render_action(a));
      return;
    }
    nlohmann::json j = {{"action", engine::to_string(a.kind)}, {"key", a.key}};
    if (!a.source_id.empty()) j["source_id"] = a.source_id;
    if (!a.destination_id.empty()) j["destination_id"] = a.destination_id;
    if (a.two_way) j["target"] = engine::to_string(a.target);
    if (a.kind == engine::Action::Kind::create) j["values"] = a.values;
    if (a.kind == engine::Action::Kind::update) {
      auto changes = nlohmann::json::array();
      for (const auto& c : a.changes) {
        nlohmann::json change = {{"field", c.field}, {"old", c.old_value}, {"new", c.new_value}};
        if (!c.rule.empty()) change["rule"] = c.rule;
        changes.push_back(std::move(change));
      }
      j["changes"] = changes;
    }
    if (a.kind == engine::Action::Kind::reject) j["reason"] = a.reason;
    actions_.push_back(std::move(j));
  }
  nlohmann::json take() { return std::move(actions_); }

 private:
  Output& out_;
  nlohmann::json actions_ = nlohmann::json::array();
};

}  // namespace

int cmd_diff(Context& ctx, const std::string& name, const RunFlags& flags) {
  engine::RunOptions options;
  options.full = flags.full;
  options.resync = flags.resync;
  options.force = flags.force;
  options.dry_run = true;
  DiffPrinter printer(ctx.out());
  engine::RunReport report;
  try {
    report = run_one_sync(ctx, name, options, &printer);
  } catch (const spec::SpecError& e) {
    return report_spec_error(ctx.out(), e);
  }
  if (ctx.out().json()) {
    ctx.out().print_json({{"actions", printer.take()}, {"report", report.to_json()}});
  } else {
    ctx.out().print(report::render_diff_totals(report));
    if (report.exit_code > engine::exit_code::rows_failed)
      ctx.out().print(report::render_run_report(report));
  }
  if (!report.error.empty()) ctx.out().error(name + ": " + report.error);
  return report.exit_code;
}

}  // namespace synctool::cli
