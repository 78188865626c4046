#include "report/text.hpp"

#include "util/json_path.hpp"
#include <fmt/format.h>
#include <utf8proc.h>

#include <algorithm>
#include <optional>

namespace synctool::report {

namespace {

bool numeric_cell(const std::string& s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.' || c == '-'; });
}

// "-" and "" stand for no value in any column.
bool placeholder_cell(const std::string& s) { return s.empty() || s == "-"; }

std::string count(std::uint64_t n) { return std::to_string(n); }

std::string spaces(std::size_t n) { return std::string(n, ' '); }

}  // namespace

std::string table_cell(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    out += byte < 0x20 || byte == 0x7f ? ' ' : c;
  }
  return out;
}

std::size_t display_width(std::string_view text) {
  std::size_t width = 0;
  const auto* bytes = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  auto left = static_cast<utf8proc_ssize_t>(text.size());
  while (left > 0) {
    utf8proc_int32_t code_point = -1;
    utf8proc_ssize_t used = utf8proc_iterate(bytes, left, &code_point);
    if (used <= 0) {  // a stray byte: shown as one replacement character
      ++width;
      used = 1;
    } else {
      width += static_cast<std::size_t>(std::max(0, utf8proc_charwidth(code_point)));
    }
    bytes += used;
    left -= used;
  }
  return width;
}

std::string render_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  auto clean = [&](const std::vector<std::string>& row) {
    std::vector<std::string> cells;
    for (std::size_t i = 0; i < header.size(); ++i) cells.push_back(i < row.size() ? table_cell(row[i]) : "");
    return cells;
  };
  std::vector<std::vector<std::string>> lines{clean(header)};
  for (const auto& row : rows) lines.push_back(clean(row));
  std::vector<std::size_t> width(header.size(), 0);
  for (const auto& line : lines)
    for (std::size_t i = 0; i < line.size(); ++i) width[i] = std::max(width[i], display_width(line[i]));
  // A column of numbers (and placeholders) is right-aligned, the first one never.
  std::vector<bool> numeric(header.size(), false);
  for (std::size_t i = 1; i < header.size(); ++i) {
    bool any = false, all = true;
    for (std::size_t n = 1; n < lines.size(); ++n) {
      any = any || numeric_cell(lines[n][i]);
      all = all && (numeric_cell(lines[n][i]) || placeholder_cell(lines[n][i]));
    }
    numeric[i] = any && all;
  }

  std::string out;
  for (std::size_t n = 0; n < lines.size(); ++n) {
    const bool is_header = n == 0;
    std::string text;
    for (std::size_t i = 0; i < width.size(); ++i) {
      const std::string& cell = lines[n][i];
      const std::size_t pad = width[i] - display_width(cell);
      const bool last = i + 1 == width.size();
      if (!is_header && numeric[i])
        text += spaces(pad) + cell;
      else
        text += last ? cell : cell + spaces(pad);
      if (!last) text += "  ";
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    out += text + "\n";
  }
  return out;
}

std::string describe_exit_code(int code) {
  switch (code) {
    case engine::exit_code::ok: return "in sync";
    case engine::exit_code::rows_failed:
      return "finished, but rows were rejected or failed that the previous run did not have (retried next run)";
    case engine::exit_code::usage: return "usage or spec error; nothing done";
    case engine::exit_code::connection: return "a connection, auth or API error stopped the run (progress is kept)";
    case engine::exit_code::safeguard: return "a safeguard stopped the run before any delete (--force to override)";
    case engine::exit_code::locked: return "another run of this sync holds the lock";
    case engine::exit_code::resync_needed: return "state does not fit the spec any more; run with --resync";
    case engine::exit_code::local_failure:
      return "local failure: the state is unreadable, corrupt or unwritable, or the disk is full";
    case engine::exit_code::interrupted_int:
      return "stopped by SIGINT at a batch boundary; what was confirmed is kept, the run is recorded as interrupted";
    case engine::exit_code::interrupted_term:
      return "stopped by SIGTERM at a batch boundary; what was confirmed is kept, the run is recorded as interrupted";
  }
  return "unknown";
}

std::string render_value(const nlohmann::json& value) {
  if (value.is_null()) return "(empty)";
  return util::json_dump(value);
}

std::string describe_row(const std::string& key, const std::string& source_id) {
  if (!key.empty()) return key;
  return fmt::format("source record '{}' (no match key)", source_id);
}

std::string render_possible_duplicates(const engine::RunReport& r) {
  std::string out;
  for (const auto& d : r.possible_duplicates)
    out += fmt::format("  possible duplicate: source {} and destination {} ({}); linked by nothing, both kept\n",
                       d.source_key, d.destination_key, d.reason);
  return out;
}

std::string render_run_report(const engine::RunReport& r) {
  std::string out = fmt::format("{}: {} {}, {} {}, {:.2f} s\n", r.sync, r.dry_run ? "planned" : "ran",
                                engine::to_string(r.kind), r.direction, r.mode, r.duration_s);
  // Append mode leaves records that are already there alone: they are counted as skipped.
  const bool show_skipped = r.mode == "append" || r.source.skipped > 0 || r.destination.skipped > 0;
  auto row = [&](const char* side, const engine::SideCounts& c) {
    std::vector<std::string> cells{side, count(c.read), count(c.created), count(c.updated), count(c.deleted),
                                   count(c.unchanged)};
    if (show_skipped) cells.push_back(count(c.skipped));
    cells.push_back(count(c.rejected));
    cells.push_back(count(c.failed));
    return cells;
  };
  std::vector<std::string> header{"", "read", "created", "updated", "deleted", "unchanged"};
  if (show_skipped) header.push_back("skipped");
  header.push_back("rejected");
  header.push_back("failed");
  std::string table = render_table(header, {row("source", r.source), row("destination", r.destination)});
  // Indent the table under the headline.
  std::size_t start = 0;
  while (start < table.size()) {
    auto end = table.find('\n', start);
    out += "  " + table.substr(start, end - start) + "\n";
    start = end + 1;
  }

  if (r.direction == "bidirectional") {
    out += fmt::format("  conflicts: {} decided by a rule, {} queued for `synctool conflicts {}`; {} delete(s) not carried "
                       "out because the other side had edited the record\n",
                       r.conflicts_decided, r.conflicts_queued, r.sync, r.deletes_kept);
    for (const auto& note : r.notes) out += "  " + note + "\n";
    out += render_possible_duplicates(r);
  }

  const std::uint64_t rejected_total = r.destination.rejected + r.source.rejected;
  const std::uint64_t failed_total = r.destination.failed + r.source.failed;
  auto listed_new = [](const std::vector<engine::RowProblem>& problems) {
    return static_cast<std::uint64_t>(std::count_if(problems.begin(), problems.end(), [](const auto& p) { return p.is_new; }));
  };
  // How many of a list's rows are new is known when the list is whole, or when the other one
  // is (new_problems counts both).
  auto new_in = [&](const std::vector<engine::RowProblem>& mine, std::uint64_t my_total,
                    const std::vector<engine::RowProblem>& other, std::uint64_t other_total) -> std::optional<std::uint64_t> {
    if (mine.size() >= my_total) return listed_new(mine);
    if (other.size() >= other_total) {
      auto other_new = listed_new(other);
      return r.new_problems > other_new ? r.new_problems - other_new : 0;
    }
    return std::nullopt;
  };
  bool new_count_unknown = false;
  auto list = [&](const char* title, const std::vector<engine::RowProblem>& problems, std::uint64_t total,
                  std::optional<std::uint64_t> fresh) {
    if (total == 0) return;
    if (fresh)
      out += fmt::format("{} ({}, {} new):\n", title, total, *fresh);
    else
      out += fmt::format("{} ({}):\n", title, total);
    new_count_unknown = new_count_unknown || !fresh;
    for (const auto& p : problems)
      out += fmt::format("  {}: {}{}\n", describe_row(p.key, p.source_id), p.reason,
                         p.is_new ? "" : " (not new: it failed before this run too)");
    if (total > problems.size())
      out += fmt::format("  ... and {} more: synctool state show {}\n", total - problems.size(), r.sync);
  };
  list("rejected", r.rejected, rejected_total, new_in(r.rejected, rejected_total, r.failed, failed_total));
  list("failed", r.failed, failed_total, new_in(r.failed, failed_total, r.rejected, rejected_total));
  if (new_count_unknown) out += fmt::format("new problems: {} (rejected or failed rows that were not failing before)\n", r.new_problems);

  // The error itself goes to stderr, once (the command prints it).
  if (r.exit_code == engine::exit_code::ok && rejected_total + failed_total > 0)
    out += fmt::format("exit 0: finished; {} row(s) still rejected or failed, none of them new (retried next run; "
                       "--strict exits 1 for them)\n",
                       rejected_total + failed_total);
  else
    out += fmt::format("exit {}: {}\n", r.exit_code, describe_exit_code(r.exit_code));
  return out;
}

std::string render_action(const engine::Action& a) {
  using Kind = engine::Action::Kind;
  // A bidirectional sync writes both ways: "->" to the destination, "<-" to the source.
  const std::string way = !a.two_way ? "" : a.target == engine::Side::source ? "<- " : "-> ";
  switch (a.kind) {
    case Kind::create: {
      std::string out = fmt::format("+ {}create  {}\n", way, a.key);
      for (const auto& item : a.values.items())
        out += fmt::format("      {}: {}\n", item.key(), render_value(item.value()));
      return out;
    }
    case Kind::update: {
      std::string out = fmt::format("~ {}update  {}  (id {})\n", way, a.key, a.destination_id);
      for (const auto& c : a.changes)
        out += fmt::format("      {}: {} -> {}{}\n", c.field, render_value(c.old_value), render_value(c.new_value),
                           c.rule.empty() ? "" : "  (" + c.rule + ")");
      return out;
    }
    case Kind::remove: return fmt::format("- {}delete  {}  (id {})\n", way, a.key, a.destination_id);
    case Kind::reject: return fmt::format("! reject  {}: {}\n", describe_row(a.key, a.source_id), a.reason);
    case Kind::link: return fmt::format("= link    {}  (id {}, already equal)\n", a.key, a.destination_id);
    case Kind::skip: return fmt::format("  skip    {}  (append mode leaves existing records as they are)\n", a.key);
    case Kind::unchanged: return "";
  }
  return "";
}

std::string render_diff_totals(const engine::RunReport& r) {
  const auto& d = r.destination;
  if (r.direction == "bidirectional") {
    const std::string duplicates = render_possible_duplicates(r);
    const auto& s = r.source;
    return fmt::format(
        "{}: {} run would write -> destination: create {}, update {}, delete {}; <- source: create {}, update {}, "
        "delete {}; reject {}; conflicts {} decided, {} queued; {} unchanged ({} source and {} destination records "
        "read)\n",
        r.sync, engine::to_string(r.kind), d.created, d.updated, d.deleted, s.created, s.updated, s.deleted,
        d.rejected + s.rejected, r.conflicts_decided, r.conflicts_queued, d.unchanged, s.read, d.read) + duplicates;
  }
  std::string skipped = r.mode == "append" || d.skipped > 0 ? fmt::format(", skip {} already there", d.skipped) : "";
  return fmt::format(
      "{}: {} run would create {}, update {}, delete {}{}, reject {}; {} unchanged ({} read from the source)\n",
      r.sync, engine::to_string(r.kind), d.created, d.updated, d.deleted, skipped, d.rejected + r.source.rejected,
      d.unchanged, r.source.read);
}

}  // namespace synctool::report
