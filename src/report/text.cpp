#include "report/text.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace synctool::report {

namespace {

bool numeric_cell(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.' || c == '-'; });
}

std::string count(std::uint64_t n) { return std::to_string(n); }

}  // namespace

std::string render_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(header.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < row.size() && i < width.size(); ++i) width[i] = std::max(width[i], row[i].size());
  };
  measure(header);
  for (const auto& row : rows) measure(row);
  auto line = [&](const std::vector<std::string>& row, bool is_header) {
    std::string out;
    for (std::size_t i = 0; i < width.size(); ++i) {
      const std::string cell = i < row.size() ? row[i] : "";
      bool right = !is_header && i > 0 && numeric_cell(cell);
      bool last = i + 1 == width.size();
      if (right)
        out += fmt::format("{:>{}}", cell, width[i]);
      else
        out += last ? cell : fmt::format("{:<{}}", cell, width[i]);
      if (!last) out += "  ";
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::string out = line(header, true);
  for (const auto& row : rows) out += line(row, false);
  return out;
}

std::string describe_exit_code(int code) {
  switch (code) {
    case engine::exit_code::ok: return "in sync";
    case engine::exit_code::rows_failed: return "finished, but some records were rejected or failed (retried next run)";
    case engine::exit_code::usage: return "usage or spec error; nothing done";
    case engine::exit_code::connection: return "a connection, auth or API error stopped the run (progress is kept)";
    case engine::exit_code::safeguard: return "a safeguard stopped the run before any delete (--force to override)";
    case engine::exit_code::locked: return "another run of this sync holds the lock";
    case engine::exit_code::resync_needed: return "state does not fit the spec any more; run with --resync";
  }
  return "unknown";
}

std::string render_value(const nlohmann::json& value) {
  if (value.is_null()) return "(empty)";
  return value.dump();
}

std::string render_run_report(const engine::RunReport& r) {
  std::string out = fmt::format("{}: {} {}, {} {}, {:.2f} s\n", r.sync, r.dry_run ? "planned" : "ran",
                                engine::to_string(r.kind), r.direction, r.mode, r.duration_s);
  auto row = [](const char* side, const engine::SideCounts& c) {
    return std::vector<std::string>{side,        count(c.read),     count(c.created),  count(c.updated),
                                    count(c.deleted), count(c.unchanged), count(c.rejected), count(c.failed)};
  };
  std::string table = render_table({"", "read", "created", "updated", "deleted", "unchanged", "rejected", "failed"},
                                   {row("source", r.source), row("destination", r.destination)});
  // Indent the table under the headline.
  std::size_t start = 0;
  while (start < table.size()) {
    auto end = table.find('\n', start);
    out += "  " + table.substr(start, end - start) + "\n";
    start = end + 1;
  }
  auto list = [&](const char* title, const std::vector<engine::RowProblem>& problems, std::uint64_t total) {
    if (problems.empty()) return;
    out += fmt::format("{} ({}):\n", title, total);
    for (const auto& p : problems) {
      std::string who = p.key.empty() ? fmt::format("source record '{}'", p.source_id) : p.key;
      out += fmt::format("  {}: {}\n", who, p.reason);
    }
    if (total > problems.size()) out += fmt::format("  ... and {} more (synctool state show {})\n", total - problems.size(), r.sync);
  };
  list("rejected", r.rejected, r.destination.rejected + r.source.rejected);
  list("failed", r.failed, r.destination.failed + r.source.failed);
  if (!r.error.empty()) out += fmt::format("error: {}\n", r.error);
  out += fmt::format("exit {}: {}\n", r.exit_code, describe_exit_code(r.exit_code));
  return out;
}

std::string render_action(const engine::Action& a) {
  using Kind = engine::Action::Kind;
  switch (a.kind) {
    case Kind::create: {
      std::string out = fmt::format("+ create  {}\n", a.key);
      for (const auto& item : a.values.items())
        out += fmt::format("      {}: {}\n", item.key(), render_value(item.value()));
      return out;
    }
    case Kind::update: {
      std::string out = fmt::format("~ update  {}  (id {})\n", a.key, a.destination_id);
      for (const auto& c : a.changes)
        out += fmt::format("      {}: {} -> {}\n", c.field, render_value(c.old_value), render_value(c.new_value));
      return out;
    }
    case Kind::remove: return fmt::format("- delete  {}  (id {})\n", a.key, a.destination_id);
    case Kind::reject:
      return fmt::format("! reject  {}: {}\n", a.key.empty() ? "source record '" + a.source_id + "'" : a.key, a.reason);
    case Kind::link: return fmt::format("= link    {}  (id {}, already equal)\n", a.key, a.destination_id);
    case Kind::skip: return fmt::format("  skip    {}  (append mode leaves existing records as they are)\n", a.key);
    case Kind::unchanged: return "";
  }
  return "";
}

std::string render_diff_totals(const engine::RunReport& r) {
  const auto& d = r.destination;
  return fmt::format(
      "{}: {} run would create {}, update {}, delete {}, reject {}; {} unchanged ({} read from the source)\n",
      r.sync, engine::to_string(r.kind), d.created, d.updated, d.deleted, d.rejected + r.source.rejected, d.unchanged,
      r.source.read);
}

}  // namespace synctool::report
