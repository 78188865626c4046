#include "connectors/csv/csv_connector.hpp"

#include "connectors/connector_helpers.hpp"
#include "connectors/csv/csv_format.hpp"
#include "connectors/settings.hpp"
#include "util/fs.hpp"
#include "util/json_path.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include <unistd.h>

namespace synctool::connectors {

namespace {

namespace fs = std::filesystem;
using csv::CsvError;
using csv::CsvReader;
using csv::CsvWriter;

constexpr std::size_t kDefaultPageSize = 5000;
constexpr std::size_t kMaxBatch = 50000;

[[noreturn]] void fail(const std::string& what) { throw ConnectorError(ErrorKind::config, "csv: " + what); }

// Field name -> column index, sorted by name and without repeats, so that records are built
// by appending to their JSON objects (which keep keys sorted) instead of searching them.
using Columns = std::vector<std::pair<std::string, std::size_t>>;

Columns sorted_columns(Columns columns) {
  std::stable_sort(columns.begin(), columns.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  columns.erase(std::unique(columns.begin(), columns.end(), [](const auto& a, const auto& b) { return a.first == b.first; }),
                columns.end());
  return columns;
}

std::optional<std::size_t> column_index(const std::vector<std::string>& header, std::string_view name) {
  for (std::size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return i;
  return std::nullopt;
}

// An object's file, opened with its header row already read and checked: every column name
// valid UTF-8 and none twice (a second `email` would otherwise shadow the first).
struct OpenFile {
  OpenFile(const fs::path& path, char delimiter) : in(path, std::ios::binary), reader(in, path.string(), delimiter) {
    if (!reader.next(header)) {
      header.clear();
      return;
    }
    csv::check_header(header, reader.name(), reader.row_line());
  }
  std::ifstream in;
  CsvReader reader;
  std::vector<std::string> header;  // empty for an empty file
};

// The ops of one batch that address one key, in batch order.
struct KeyPlan {
  std::vector<std::size_t> ops;
  bool seen = false;  // the file has a row with this key (ops applied to the first such row)
};

class CsvConnector final : public Connector {
 public:
  // Reads the settings only: `synctool check` makes connectors to validate them, touching nothing.
  explicit CsvConnector(const ConnectionConfig& config) {
    ConnectionSettings settings(config, "csv");
    const auto& values = config.settings;
    auto path = values.find("path");
    if (path == values.end() || !path->is_string() || path->get<std::string>().empty())
      settings.fail("path", "`path` must name a folder");
    folder_ = path->get<std::string>();
    if (folder_.is_relative() && !config.base_dir.empty()) folder_ = fs::path(config.base_dir) / folder_;
    if (auto delimiter = values.find("delimiter"); delimiter != values.end()) {
      std::string text = delimiter->is_string() ? delimiter->get<std::string>() : std::string();
      if (text == "tab" || text == "\\t") text = "\t";
      if (text.size() != 1 || text[0] == '"' || text[0] == '\r' || text[0] == '\n')
        settings.fail("delimiter", "`delimiter` must be a single character other than a quote or line break (got " +
                                       delimiter->dump(-1, ' ', false, Json::error_handler_t::replace) + ")");
      delimiter_ = text[0];
    }
  }

  std::string type() const override { return "csv"; }

  void check() override {
    std::error_code ec;
    auto status = fs::status(folder_, ec);
    if (!fs::exists(status)) fail(folder_.string() + ": no such folder");
    if (!fs::is_directory(status)) fail(folder_.string() + ": not a folder");
  }

  Capabilities capabilities(const ObjectRef&) const override {
    Capabilities caps;
    caps.incremental_read = false;
    caps.tombstones = false;
    caps.native_upsert = true;
    caps.hard_delete = true;
    caps.archive = false;
    caps.max_batch = kMaxBatch;
    caps.max_lookup = kMaxBatch;
    // The key is a column's value: two rows may carry the same one, and each is a record.
    caps.unique_ids = false;
    caps.read_in_background = true;  // a file of its own, parsed on the second core
    caps.write_in_background = true;
    return caps;
  }

  ObjectDescription describe(const ObjectRef& object) override {
    ObjectDescription description;
    description.name = object.name;
    // A destination file gains a column for every field written to it (and may not exist yet).
    description.accepts_new_fields = object.destination;
    return guarded([&] {
      auto file = open(object, object.destination);
      if (!file) return description;
      for (const auto& name : file->header) {
        FieldInfo info;
        info.name = name;
        info.type = "string";
        info.unique = name == object.key_field;
        description.fields.push_back(std::move(info));
      }
      return description;
    });
  }

  // The header of the file (which must have the key column), or for a destination whose file is
  // not there yet, a folder synctool can write the file into.
  void probe(const ObjectRef& object) override {
    guarded([&] {
      check();
      if (object.destination && ::access(folder_.c_str(), W_OK) != 0)
        fail(folder_.string() + ": cannot write files here: " + std::strerror(errno));
      auto file = open(object, object.destination);
      if (file && !file->header.empty()) key_column(object, *file);
    });
  }

  void read(const ObjectRef& object, const ReadRequest& request, const PageSink& sink) override {
    // Files carry no modification times: `since` cannot narrow the scan, so every read is full.
    guarded([&] {
      auto file = open(object, object.destination);
      if (!file || file->header.empty()) return;
      const std::size_t key = key_column(object, *file);
      Columns columns;
      if (request.fields.empty()) {
        for (std::size_t i = 0; i < file->header.size(); ++i) columns.emplace_back(file->header[i], i);
      } else {
        for (const auto& name : request.fields) {
          if (auto index = column_index(file->header, name))
            columns.emplace_back(name, *index);
          else if (!object.destination)  // a destination gains columns on its first write
            fail(file->reader.name() + ": no column '" + name + "' in the header");
        }
      }
      columns = sorted_columns(std::move(columns));
      const std::size_t page_size = request.page_size ? request.page_size : kDefaultPageSize;
      const std::size_t reserve = std::min<std::size_t>(page_size, 1 << 16);
      Page page;
      page.records.reserve(reserve);
      std::shared_ptr<const std::vector<std::string>> row_names;
      if (request.rows) {
        std::vector<std::string> names;
        for (const auto& column : columns) names.push_back(column.first);
        row_names = std::make_shared<const std::vector<std::string>>(std::move(names));
      }
      std::vector<std::string> row;
      while (file->reader.next(row)) {
        page.records.push_back(make_record(row, file->reader.row_line(), file->header, key, columns, row_names));
        if (page.records.size() >= page_size) {
          sink(std::move(page));
          page = Page{};
          page.records.reserve(reserve);
        }
      }
      if (!page.records.empty()) sink(std::move(page));
    });
  }

  std::vector<Record> lookup(const ObjectRef& object, const std::string& field,
                             const std::vector<std::string>& values) override {
    std::vector<Record> found;
    if (values.empty()) return found;
    return guarded([&] {
      auto file = open(object, object.destination);
      if (!file || file->header.empty()) return found;
      const std::size_t key = key_column(object, *file);
      const std::string& name = field == kNativeIdField ? object.key_field : field;
      auto index = column_index(file->header, name);
      if (!index) {
        if (object.destination) return found;
        fail(file->reader.name() + ": no column '" + name + "' in the header");
      }
      Columns columns;
      for (std::size_t i = 0; i < file->header.size(); ++i) columns.emplace_back(file->header[i], i);
      columns = sorted_columns(std::move(columns));
      const std::unordered_set<std::string_view> wanted(values.begin(), values.end());
      std::vector<std::string> row;
      while (file->reader.next(row))
        if (wanted.contains(row[*index]))
          found.push_back(make_record(row, file->reader.row_line(), file->header, key, columns));
      return found;
    });
  }

  std::vector<WriteResult> write(const ObjectRef& object, const std::vector<WriteOp>& ops) override {
    std::vector<WriteResult> results(ops.size());
    if (ops.empty()) return results;
    if (object.key_field.empty()) fail("object '" + object.name + "' needs a key field to identify rows");
    return guarded([&] {
      check();
      try {
        rewrite(object, ops, results);
      } catch (const ConnectorError&) {
        throw;
      } catch (const CsvError&) {
        throw;
      } catch (const std::runtime_error& e) {  // the new file could not be written
        fail(e.what());
      }
      return results;
    });
  }

 private:
  // Runs `body`, turning malformed-file errors into config errors (a page sink's own
  // exceptions pass through untouched).
  template <typename Body>
  auto guarded(Body&& body) -> decltype(body()) {
    try {
      return body();
    } catch (const CsvError& e) {
      fail(e.what());
    }
  }

  fs::path file_for(const ObjectRef& object) const {
    const std::string& name = object.name;
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
        name.find('\\') != std::string::npos)
      fail("object '" + name + "' must be a file name inside " + folder_.string());
    return folder_ / (util::ends_with(name, ".csv") ? name : name + ".csv");
  }

  // The object's file with its header read, or null when it does not exist and `allow_missing`.
  std::unique_ptr<OpenFile> open(const ObjectRef& object, bool allow_missing) const {
    const fs::path path = file_for(object);
    std::error_code ec;
    if (!fs::exists(path, ec)) {
      if (allow_missing) return nullptr;
      fail(path.string() + ": no such file");
    }
    if (fs::is_directory(path, ec)) fail(path.string() + ": is a folder, not a file");
    auto file = std::make_unique<OpenFile>(path, delimiter_);
    if (!file->in.is_open()) fail(path.string() + ": cannot open: " + std::strerror(errno));
    return file;
  }

  std::size_t key_column(const ObjectRef& object, const OpenFile& file) const {
    if (object.key_field.empty()) fail("object '" + object.name + "' needs a key field to identify rows");
    auto index = column_index(file.header, object.key_field);
    if (!index)
      fail(file.reader.name() + ": no column '" + object.key_field + "' (the key) in the header (" +
           util::join(file.header, ", ") + ")");
    return *index;
  }

  // The record of a row that starts on `line`. A cell that is not valid UTF-8 (which no JSON
  // value can hold) is left out, and the record carries the first such cell as its problem so
  // that the engine rejects the row, naming its line, and goes on.
  // With `row_names` (the columns' names, when the reader takes rows), the cells go into
  // Record::row instead of Record::fields.
  static Record make_record(const std::vector<std::string>& row, std::size_t line,
                            const std::vector<std::string>& header, std::size_t key, const Columns& columns,
                            const std::shared_ptr<const std::vector<std::string>>& row_names = nullptr) {
    Record record;
    record.origin = "line " + std::to_string(line);
    const auto invalid = csv::first_invalid_cell(row);
    if (invalid)
      record.problem = record.origin + ": column '" + header[invalid->column] + "' is not valid UTF-8 (" +
                       csv::invalid_byte(row[invalid->column], invalid->at) + ")";
    record.id = invalid ? csv::lossy_utf8(row[key]) : row[key];
    auto left_out = [&](std::size_t index) { return invalid && csv::invalid_utf8_at(row[index]); };
    if (row_names) {
      auto& cells = record.row.emplace(row_names);
      for (const auto& column : columns) {
        if (left_out(column.second))
          cells.add_absent();
        else
          cells.add_text(row[column.second]);
      }
      return record;
    }
    auto& fields = record.fields.get_ref<Json::object_t&>();
    for (const auto& [name, index] : columns)
      if (!left_out(index)) fields.emplace_hint(fields.end(), name, row[index]);
    return record;
  }

  // The key an op addresses: the key field's value for create/upsert, the native id otherwise.
  static std::optional<std::string> target_key(const WriteOp& op, const std::string& key_field, WriteResult& result) {
    switch (op.kind) {
      case OpKind::create:
      case OpKind::upsert: {
        const Json* value = op.fields.is_object() ? util::json_get_path(op.fields, key_field) : nullptr;
        std::string key = value ? value_text(*value) : std::string();
        if (key.empty()) {
          result = row_error("missing key field '" + key_field + "'");
          return std::nullopt;
        }
        return key;
      }
      case OpKind::update:
      case OpKind::remove:
        if (op.id.empty()) {
          result = row_error(std::string(to_string(op.kind)) + " without a row id");
          return std::nullopt;
        }
        return op.id;
      case OpKind::archive:
        result = row_error("csv files cannot archive rows; use delete");
        return std::nullopt;
    }
    return std::nullopt;
  }

  // Runs one key's ops against the row state (`exists`, `row`) and records their results.
  // Returns whether the row exists afterwards. With `row` null only existence is tracked.
  static bool apply(const KeyPlan& plan, const std::string& key, bool exists, std::vector<std::string>* row,
                    std::size_t key_index, const std::unordered_map<std::string, std::size_t>& columns,
                    const std::vector<WriteOp>& ops, std::vector<WriteResult>& results) {
    auto set_fields = [&](const WriteOp& op) {
      if (!row || !op.fields.is_object()) return;
      for (const auto& [name, value] : op.fields.items()) {
        auto column = columns.find(name);
        if (column != columns.end()) (*row)[column->second] = value_text(value);
      }
    };
    for (std::size_t i : plan.ops) {
      const WriteOp& op = ops[i];
      WriteResult& result = results[i];
      switch (op.kind) {
        case OpKind::create:
          if (exists) {
            result = row_error("a row with key " + key + " already exists");
            continue;
          }
          if (row) std::fill(row->begin(), row->end(), std::string());
          set_fields(op);
          exists = true;
          break;
        case OpKind::upsert:
          if (!exists && row) std::fill(row->begin(), row->end(), std::string());
          set_fields(op);
          exists = true;
          break;
        case OpKind::update:
          if (!exists) {
            result = row_error("no row with key " + key);
            continue;
          }
          set_fields(op);
          break;
        case OpKind::remove:
          exists = false;  // already gone is fine (see the seam's contract)
          break;
        case OpKind::archive:
          continue;  // rejected by target_key
      }
      result.ok = true;
      result.id = row && exists ? (*row)[key_index] : key;
    }
    return exists;
  }

  // Streams the old file into a new one, applying the batch, and swaps it in atomically.
  void rewrite(const ObjectRef& object, const std::vector<WriteOp>& ops, std::vector<WriteResult>& results) const {
    const fs::path path = file_for(object);
    std::unordered_map<std::string, KeyPlan> plans;
    std::vector<std::string> order;  // keys in order of first appearance: new rows append in it
    for (std::size_t i = 0; i < ops.size(); ++i) {
      auto key = target_key(ops[i], object.key_field, results[i]);
      if (!key) continue;
      auto [it, inserted] = plans.try_emplace(*key);
      if (inserted) order.push_back(*key);
      it->second.ops.push_back(i);
    }

    auto old = open(object, true);
    const bool has_header = old && !old->header.empty();
    std::vector<std::string> header = has_header ? old->header : std::vector<std::string>{object.key_field};
    auto key_index = column_index(header, object.key_field);
    if (!key_index)
      fail(path.string() + ": no column '" + object.key_field + "' (the key) in the header (" +
           util::join(header, ", ") + ")");

    auto new_columns = [&](const std::vector<WriteResult>* outcome) {
      std::vector<std::string> added;
      for (const auto& key : order) {
        for (std::size_t i : plans[key].ops) {
          if (outcome && !(*outcome)[i].ok) continue;
          if (!ops[i].fields.is_object()) continue;
          for (const auto& [name, value] : ops[i].fields.items())
            if (!column_index(header, name) && std::find(added.begin(), added.end(), name) == added.end())
              added.push_back(name);
        }
      }
      return added;
    };
    auto added = new_columns(nullptr);
    if (!added.empty()) {
      // Only ops that will succeed may add columns: find which keys exist with a cheap pass
      // over the key column, then dry-run the batch.
      std::unordered_set<std::string> existing;
      if (has_header) {
        OpenFile scan(path, delimiter_);
        std::vector<std::string> row;
        while (scan.reader.next(row))
          if (plans.contains(row[*key_index])) existing.insert(row[*key_index]);
      }
      std::vector<WriteResult> outcome = results;
      for (const auto& key : order) apply(plans[key], key, existing.contains(key), nullptr, *key_index, {}, ops, outcome);
      added = new_columns(&outcome);
    }
    header.insert(header.end(), added.begin(), added.end());
    std::unordered_map<std::string, std::size_t> columns;
    for (std::size_t i = 0; i < header.size(); ++i) columns.try_emplace(header[i], i);

    const bool crlf = has_header && old->reader.crlf();
    const bool bom = old && old->reader.had_bom();
    util::write_file_atomically(path, [&](std::ostream& out) {
      CsvWriter writer(out, delimiter_, crlf ? "\r\n" : "\n");
      if (bom) writer.write_bom();
      writer.write_row(header);
      std::vector<std::string> row;
      if (has_header) {
        while (old->reader.next(row)) {
          row.resize(header.size());
          auto plan = plans.find(row[*key_index]);
          // Ops apply to the first row with their key; later duplicates pass through as they are.
          if (plan != plans.end() && !plan->second.seen) {
            plan->second.seen = true;
            if (!apply(plan->second, plan->first, true, &row, *key_index, columns, ops, results)) continue;
          }
          writer.write_row(row);
        }
      }
      for (const auto& key : order) {
        const KeyPlan& plan = plans[key];
        if (plan.seen) continue;
        row.assign(header.size(), std::string());
        if (apply(plan, key, false, &row, *key_index, columns, ops, results)) writer.write_row(row);
      }
    });
  }

  fs::path folder_;
  char delimiter_ = ',';
};

std::unique_ptr<Connector> make_csv_connector(const ConnectionConfig& config) {
  return std::make_unique<CsvConnector>(config);
}

}  // namespace

const ConnectorType& csv_connector_type() {
  static const ConnectorType type{
      .type = "csv",
      .make = &make_csv_connector,
      .connection_keys = {"path", "delimiter"},
      .required_connection_keys = {"path"},
      .source_keys = {},
      .destination_keys = {},
      .init_template =
          {
              .connection = R"(# A folder of CSV files with a header row; object NAME is the file NAME.csv in it.
# Relative paths are relative to this file; ${{ENV}_DIR} overrides it where it is set.
path = "${{ENV}_DIR:-{name}}"
# delimiter = ";"                # default ","
)",
              .object = "contacts",
              .email = "email",
              .first_name = "first_name",
              .last_name = "last_name",
              // The folder and a header-only file: replace it with the export, or let the sync fill it.
              .files = {{"{name}/contacts.csv", "email,first_name,last_name\n"}},
          },
  };
  return type;
}

}  // namespace synctool::connectors
