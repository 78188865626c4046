#include "connectors/sqlite/sqlite_connector.hpp"

#include "connectors/connector_helpers.hpp"
#include "connectors/settings.hpp"
#include "connectors/sqlite/sqlite_db.hpp"
#include "connectors/sqlite/sqlite_values.hpp"
#include "util/clock.hpp"
#include "util/json_path.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>

namespace synctool::connectors {

namespace {

namespace fs = std::filesystem;
using sqlite::Database;
using sqlite::quote_identifier;
using sqlite::SqliteError;
using sqlite::Statement;

constexpr const char* kVendor = "sqlite";

constexpr std::size_t kDefaultPageSize = 5000;
// Ops per write(): one transaction, so one fsync of the WAL per 5,000 rows. A row's error
// would stay its own in a larger batch (a failing statement undoes only itself), but the
// engine holds a whole batch in memory: 20,000 took the peak RSS of a 200,000-row mirror from
// 43 to 104 MB.
constexpr std::size_t kMaxBatch = 5000;
constexpr std::size_t kMaxLookup = 500;
constexpr std::size_t kStatementCacheLimit = 256;
// Write shapes kept per table; a batch mostly has one or two.
constexpr std::size_t kShapeCacheLimit = 64;
// Extra result columns a read adds after the wanted fields; not part of the record's fields.
constexpr const char* kIdAlias = "\"__synctool_id\"";
constexpr const char* kModifiedAlias = "\"__synctool_modified\"";
constexpr const char* kDeletedAlias = "\"__synctool_deleted\"";
constexpr const char* kRowidAlias = "\"__synctool_rowid\"";

// The endpoint keys of an object ([source] / [destination] in the sync spec).
struct EndpointOptions {
  std::string query;               // a SELECT read instead of the table
  std::string cursor_column;       // makes reads incremental
  std::string soft_delete_column;  // deletes stamp it; reads skip (or tombstone) stamped rows
  bool create_table = false;       // create the table and its columns on write
};

// SQLite compares identifiers without regard to ASCII case (as util::to_lower folds).
bool same_name(std::string_view a, std::string_view b) {
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [&](char x, char y) { return lower(x) == lower(y); });
}

struct NameHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view name) const { return std::hash<std::string_view>{}(name); }
};

struct Column {
  std::string name;
  std::string type;
  bool not_null = false;
  bool has_default = false;
  sqlite::Affinity affinity = sqlite::Affinity::blob;
};

struct TableInfo {
  bool exists = false;
  std::vector<Column> columns;
  bool has_rowid = false;
  std::string rowid_alias;          // the INTEGER PRIMARY KEY column, if any
  std::vector<std::string> unique;  // columns with a one-column PRIMARY KEY or UNIQUE constraint
  // Column index by name as the table spells it: the usual spelling, found without folding.
  std::unordered_map<std::string, std::size_t, NameHash, std::equal_to<>> spelled;

  // SQLite column names are case-insensitive (and no two differ only in case).
  const Column* find(std::string_view name) const {
    if (auto it = spelled.find(name); it != spelled.end()) return &columns[it->second];
    for (const auto& column : columns)
      if (same_name(column.name, name)) return &column;
    return nullptr;
  }
  bool is_unique(std::string_view name) const {
    return std::any_of(unique.begin(), unique.end(), [&](const auto& u) { return same_name(u, name); });
  }
  bool is_rowid_alias(std::string_view name) const { return !rowid_alias.empty() && same_name(rowid_alias, name); }
};

// Fixed width with milliseconds, so that stamps compare correctly as text.
std::string timestamp_text(std::int64_t epoch_ms) {
  auto text = util::format_iso8601(epoch_ms);
  if (text.find('.') == std::string::npos && !text.empty() && text.back() == 'Z') text.insert(text.size() - 1, ".000");
  return text;
}

std::string placeholders(std::size_t count) {
  std::string list;
  for (std::size_t i = 0; i < count; ++i) list += i ? ", ?" : "?";
  return list;
}

// Where a read gets its rows from.
struct Source {
  std::string from;                   // a quoted table or a parenthesised query
  const TableInfo* table = nullptr;   // null for a query
  std::string name;                   // for messages: "table contacts" or "query 'customers'"
  std::string query;                  // the query, for a query
};

// The columns a read statement returns after the record's fields, and how to read the fields.
struct Shape {
  int fields = 0;              // the record's fields come first
  bool modified = false;       // then the cursor (kModifiedAlias)
  bool deleted = false;        // the soft-delete stamp (kDeletedAlias)
  bool rowid = false;          // the row's rowid, for Record::origin (kRowidAlias)
  std::vector<std::string> names;  // per field: its name
  std::vector<bool> boolean;   // per field: a BOOLEAN column, whose 0/1 read as false/true
  // The fields to put in a record, ordered by name as its JSON object keeps them (so that each
  // goes in at the end, without a search); of two result columns with one name, the last.
  std::vector<int> order;
  // Their names in that order, for records read as rows (ReadRequest::rows); else null.
  std::shared_ptr<const std::vector<std::string>> row_names;
};

// The rows of a write that have one set of fields: the names (in the order a JSON object keeps
// them) resolved to columns once, and the statements that write such a row, prepared on first
// use and kept for the life of the connector (or until the table's schema changes).
struct WriteShape {
  std::vector<std::string> names;
  std::vector<const Column*> columns;  // per field; null: no such column
  int key = -1;                        // the field holding the key (its first step, if dotted)
  std::vector<bool> is_key;            // per field: names the key column (left out of updates)
  bool revive = false;                 // writing clears the soft-delete stamp
  std::optional<Statement> insert;         // create, and upsert without a unique key
  std::optional<Statement> upsert;         // INSERT ... ON CONFLICT(key)
  std::optional<Statement> update_by_key;  // upsert without a unique key (empty: nothing to set)
  std::optional<Statement> update_by_id;   // update (empty: nothing to set)
  bool key_set_empty = false;  // an update by key would set nothing
  bool id_set_empty = false;   // an update by id would set nothing
};

// What the writes to one table with one key and soft-delete column share.
struct WriteTarget {
  std::string object;  // the table, for messages
  std::string table;   // quoted
  std::string key;     // the key field ("" for rowids)
  bool key_dotted = false;         // a dotted key ("address.id") is a path into a field's value:
  std::string key_head, key_rest;  // the field, and the path in it
  std::string id_column;           // quoted key column, or rowid
  bool integer_id = false;         // ids compare as integers (rowids)
  bool key_generated = false;      // a create may leave the key to SQLite
  bool unique_key = false;         // the key has a unique constraint to conflict on
  std::string soft_delete;         // the soft-delete column ("" for none)
  bool soft_delete_column = false; // ... and the table has it
  std::optional<Statement> exists, remove, soft_remove;
  std::unordered_map<std::string, std::unique_ptr<WriteShape>> shapes;  // by length-prefixed names
  WriteShape* last = nullptr;  // the previous row's: rows of a batch mostly share one shape
  std::int64_t stamp_ms = -1;  // the time of the last soft-delete stamp made, and the stamp
  std::string stamp;
};

// A statement being built: SQL text plus its parameters in order.
struct Sql {
  std::string text;
  std::vector<Json> params;
};

class SqliteConnector final : public Connector {
 public:
  // Reads the settings only (the database opens on first use): `synctool check` makes
  // connectors to validate their settings, touching nothing.
  explicit SqliteConnector(const ConnectionConfig& config)
      : clock_(config.clock ? config.clock : &util::system_clock()) {
    ConnectionSettings settings(config, kVendor);
    const auto& values = config.settings;
    auto path = values.find("path");
    if (path == values.end() || !path->is_string() || path->get<std::string>().empty())
      settings.fail("path", "`path` must name a database file");
    path_ = path->get<std::string>();
    if (path_.is_relative() && !config.base_dir.empty()) path_ = fs::path(config.base_dir) / path_;
    if (auto timeout = values.find("busy_timeout_ms"); timeout != values.end()) {
      if (!timeout->is_number_integer() || timeout->get<std::int64_t>() < 0 ||
          timeout->get<std::int64_t>() > 3600000)
        settings.fail("busy_timeout_ms", "`busy_timeout_ms` must be a whole number of milliseconds from 0 to 3600000 (got " +
                                             timeout->dump(-1, ' ', false, Json::error_handler_t::replace) + ")");
      busy_timeout_ms_ = static_cast<int>(timeout->get<std::int64_t>());
    }
    create_ = settings.flag("create", false);
  }

  std::string type() const override { return "sqlite"; }

  void check() override {
    guarded([&] { db(); });
  }

  Capabilities capabilities(const ObjectRef& object) const override {
    auto options = lenient_options(object);
    Capabilities caps;
    caps.incremental_read = !options.cursor_column.empty();
    caps.tombstones = caps.incremental_read && !options.soft_delete_column.empty();
    caps.native_upsert = true;
    caps.hard_delete = true;
    caps.archive = !options.soft_delete_column.empty();
    caps.max_batch = kMaxBatch;
    caps.max_lookup = kMaxLookup;
    // Rowids never repeat; a key column may (whether it has a unique index is not known
    // without reading the schema, and one SELECT never returns a row twice anyway).
    caps.unique_ids = object.key_field.empty() && options.query.empty();
    // Each side has a connector (and a connection) of its own: the source's is used by the
    // reading thread alone while the engine stages what it read.
    caps.read_in_background = true;
    caps.write_in_background = true;
    return caps;
  }

  // Every column of the table (or of the query's result); column names compare without regard
  // to case, as SQLite's do. A table `create_table` makes or extends takes new fields.
  ObjectDescription describe(const ObjectRef& object) override {
    const auto options = parse_options(object);
    return guarded([&] {
      ObjectDescription description;
      description.name = object.name;
      description.case_insensitive = true;
      description.accepts_new_fields = options.create_table;
      if (!options.query.empty()) {
        for (const auto& column : query_columns(options.query)) {
          FieldInfo field;
          field.name = column.name;
          field.type = sqlite::field_type(column.type);
          field.unique = util::to_lower(field.name) == util::to_lower(object.key_field);
          description.fields.push_back(std::move(field));
        }
        return description;
      }
      const TableInfo& table = table_info(object.name);
      if (!table.exists) {
        if (options.create_table) return description;
        no_such_table(object.name);
      }
      for (const auto& column : table.columns) {
        FieldInfo field;
        field.name = column.name;
        field.type = sqlite::field_type(column.type);
        field.required = column.not_null && !column.has_default && !table.is_rowid_alias(column.name);
        field.unique = table.is_unique(column.name);
        description.fields.push_back(std::move(field));
      }
      return description;
    });
  }

  // A SELECT of no rows from the table or the query, so that a missing table, a query that
  // does not compile and a missing key, cursor or soft-delete column show; for a destination,
  // also a database synctool cannot write (a read-only file opens read-only without a word).
  void probe(const ObjectRef& object) override {
    const auto options = parse_options(object);
    guarded([&] {
      Database& database = db();
      if (auto source = source_for(object, options)) {
        Statement(database.get(), "SELECT * FROM " + source->from + " LIMIT 0").run();
        usable_options(object, options, *source);
      }
      if (object.destination && sqlite3_db_readonly(database.get(), "main") == 1)
        throw ConnectorError(ErrorKind::config, prefix() + "the database is read-only, and '" + object.name +
                                                    "' is written to");
    });
  }

  void check_options(const ObjectRef& object) const override { parse_options(object); }

  void read(const ObjectRef& object, const ReadRequest& request, const PageSink& sink) override {
    const auto parsed = parse_options(object);
    guarded([&] {
      auto source = source_for(object, parsed);
      if (!source) return;
      const EndpointOptions options = usable_options(object, parsed, *source);
      for (const auto& field : request.fields)
        if (!has_column(*source, field) && !(options.create_table && source->table))
          no_such_column(*source, field, nullptr);
      const bool incremental = request.since && !options.cursor_column.empty();
      Sql sql;
      sql.text = "SELECT " + select_list(object, options, *source, request.fields) + " FROM " + source->from;
      if (incremental) {
        sql.text += " WHERE " + modified_expression(options) + " >= ?";
        sql.params.emplace_back(*request.since);
      } else if (!options.soft_delete_column.empty()) {
        sql.text += " WHERE " + quote_identifier(options.soft_delete_column) + " IS NULL";
      }
      // Ordered by the cursor so that each page's cursor is safe to resume from.
      if (!options.cursor_column.empty()) sql.text += std::string(" ORDER BY ") + kModifiedAlias;

      Statement statement(db().get(), sql.text);
      for (std::size_t i = 0; i < sql.params.size(); ++i) statement.bind(static_cast<int>(i + 1), sql.params[i]);
      Shape shape = shape_of(statement, object, options, *source);
      if (request.rows) {
        std::vector<std::string> names;
        for (int i : shape.order) names.push_back(shape.names[static_cast<std::size_t>(i)]);
        shape.row_names = std::make_shared<const std::vector<std::string>>(std::move(names));
      }
      const std::size_t page_size = request.page_size ? request.page_size : kDefaultPageSize;
      std::string cursor = incremental ? *request.since : std::string();
      // The cursor after a page: the last cursor value read so far.
      auto send = [&](Page& page) {
        if (!options.cursor_column.empty())
          for (auto record = page.records.rbegin(); record != page.records.rend(); ++record)
            if (record->modified_at) {
              cursor = *record->modified_at;
              break;
            }
        page.cursor = cursor;
        sink(std::move(page));
      };
      Page page;
      while (statement.step()) {
        if (page.records.empty()) page.records.reserve(std::min(page_size, kDefaultPageSize));
        page.records.push_back(make_record(statement, shape));
        if (page.records.size() >= page_size) {
          send(page);
          page = Page{};
        }
      }
      if (!page.records.empty()) send(page);
    });
  }

  std::vector<Record> lookup(const ObjectRef& object, const std::string& field,
                             const std::vector<std::string>& values) override {
    const auto parsed = parse_options(object);
    return guarded([&] {
      std::vector<Record> found;
      if (values.empty()) return found;
      auto source = source_for(object, parsed);
      if (!source) return found;
      const EndpointOptions options = usable_options(object, parsed, *source);
      std::string column;
      if (field == kNativeIdField) {
        column = id_expression(object, *source);
      } else {
        if (!has_column(*source, field)) {
          // A table created by synctool gains its columns on the first write that uses them.
          if (options.create_table && source->table) return found;
          no_such_column(*source, field, nullptr);
        }
        column = quote_identifier(field);
      }
      const std::string select =
          "SELECT " + select_list(object, options, *source, {}) + " FROM " + source->from + " WHERE " + column + " IN (";
      // Soft-deleted rows are found too (marked deleted): they still hold the key.
      for (std::size_t start = 0; start < values.size(); start += kMaxLookup) {
        const std::size_t count = std::min(kMaxLookup, values.size() - start);
        Statement& statement = cached(select + placeholders(count) + ")");
        for (std::size_t i = 0; i < count; ++i) statement.bind_text(static_cast<int>(i + 1), values[start + i]);
        const Shape shape = shape_of(statement, object, options, *source);
        while (statement.step()) found.push_back(make_record(statement, shape));
        statement.reset();
      }
      return found;
    });
  }

  std::vector<WriteResult> write(const ObjectRef& object, const std::vector<WriteOp>& ops) override {
    const auto options = parse_options(object);
    std::vector<WriteResult> results(ops.size());
    if (ops.empty()) return results;
    return guarded([&] {
      Database& database = db();
      if (statements_.size() > kStatementCacheLimit) statements_.clear();
      enable_wal();
      if (!table_info(object.name).exists && !options.create_table) no_such_table(object.name);
      database.exec("BEGIN IMMEDIATE");
      try {
        if (options.create_table) prepare_table(object, options, ops);
        const TableInfo& table = table_info(object.name);
        // Rows are addressed by these columns: a name that is no column would be taken for a
        // string literal and match nothing (a delete would do nothing and report success).
        usable_options(object, options, table_source(object.name, table));
        WriteTarget& target = write_target(object, options, table);
        for (std::size_t i = 0; i < ops.size(); ++i) {
          try {
            results[i] = apply(target, table, ops[i]);
          } catch (const SqliteError& e) {
            if (!e.row_level()) throw;
            // An ON CONFLICT ROLLBACK clause in the table ends the whole transaction.
            if (database.autocommit())
              throw ConnectorError(ErrorKind::config, prefix() + "table " + object.name +
                                                          ": a conflict clause rolled back the batch: " + e.what());
            results[i] = row_error(e.what());
          }
        }
        database.exec("COMMIT");
      } catch (...) {
        if (!database.autocommit()) {
          try {
            database.exec("ROLLBACK");
          } catch (const SqliteError&) {
            // The original error is the one worth reporting.
          }
        }
        forget_tables();  // DDL in the batch was rolled back too
        throw;
      }
      return results;
    });
  }

  // A field that is not a column of the table (without `create_table`) is a configuration
  // error; a value its column cannot hold exactly is this row's problem. Called for every row
  // the engine plans to write: nothing here copies a value or folds a name.
  std::string write_problem(const ObjectRef& object, const WriteOp& op) override {
    const auto options = parse_options(object);
    if (!op.fields.is_object() || op.fields.empty()) return "";
    return guarded([&]() -> std::string {
      const TableInfo& table = table_info(object.name);
      if (!table.exists && !options.create_table) no_such_table(object.name);
      for (const auto& [name, value] : op.fields.get_ref<const Json::object_t&>()) {
        const Column* column = table.find(name);
        if (column) {
          if (sqlite::fit(column->affinity, value, scratch_) == sqlite::Fit::refused)
            return sqlite::cannot_hold(name, column->type, value);
          continue;
        }
        if (!options.create_table) no_such_column(table_source(object.name, table), name, nullptr);
        const std::string declared = new_column_type(object, options, name);
        if (sqlite::fit(sqlite::affinity_of(declared), value, scratch_) == sqlite::Fit::refused)
          return sqlite::cannot_hold(name, declared, value);
      }
      return "";
    });
  }

 private:
  std::string prefix() const { return "sqlite: " + path_.string() + ": "; }

  [[noreturn]] void no_such_table(const std::string& name) const {
    throw ConnectorError(ErrorKind::config, prefix() + "no such table: " + name);
  }

  // Runs `body`, turning SQLite errors into classified connector errors.
  template <typename Body>
  auto guarded(Body&& body) -> decltype(body()) {
    try {
      return body();
    } catch (const SqliteError& e) {
      throw ConnectorError(e.busy() ? ErrorKind::transient : ErrorKind::config, prefix() + e.what());
    }
  }

  // The endpoint's options, checked without touching the database; errors name the key.
  // Called for every row write_problem() sees: the message is made only for an error.
  static EndpointOptions parse_options(const ObjectRef& object) {
    EndpointOptions options;
    if (!object.options.is_object()) return options;
    auto fail = [&](const char* key, const std::string& problem) {
      throw ConnectorError(ErrorKind::config, std::string(kVendor) + ": object '" + object.name + "': " + problem, key);
    };
    auto text = [&](const char* key, std::string& out) {
      auto it = object.options.find(key);
      if (it == object.options.end()) return;
      if (!it->is_string() || it->get_ref<const std::string&>().empty())
        fail(key, std::string("`") + key + "` must be a non-empty string");
      out = it->get_ref<const std::string&>();
    };
    text("query", options.query);
    if (!options.query.empty()) {
      options.query = strip_trailing_semicolons(options.query);
      if (options.query.empty()) fail("query", "`query` must be a SELECT statement");
    }
    text("cursor_column", options.cursor_column);
    text("soft_delete_column", options.soft_delete_column);
    if (auto it = object.options.find("create_table"); it != object.options.end()) {
      if (!it->is_boolean()) fail("create_table", "`create_table` must be true or false");
      options.create_table = it->get<bool>();
    }
    if (!options.query.empty() && options.create_table) fail("create_table", "`create_table` cannot go with a `query`");
    return options;
  }

  static EndpointOptions lenient_options(const ObjectRef& object) {
    EndpointOptions options;
    if (!object.options.is_object()) return options;
    auto text = [&](const char* key) {
      auto it = object.options.find(key);
      return it != object.options.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    options.query = text("query");
    options.cursor_column = text("cursor_column");
    options.soft_delete_column = text("soft_delete_column");
    return options;
  }

  struct QueryColumn {
    std::string name;
    std::string type;  // the declared type of the column it reads, "" for an expression
  };

  // The result columns of a `query` (prepared, never run), kept per query.
  const std::vector<QueryColumn>& query_columns(const std::string& query) {
    if (auto it = queries_.find(query); it != queries_.end()) return it->second;
    Statement statement(db().get(), "SELECT * FROM (" + query + ") LIMIT 0");
    std::vector<QueryColumn> columns;
    for (int i = 0; i < statement.column_count(); ++i)
      columns.push_back({statement.column_name(i), statement.column_decltype(i)});
    return queries_.emplace(query, std::move(columns)).first->second;
  }

  std::vector<std::string> column_names(const Source& source) {
    std::vector<std::string> names;
    if (source.table) {
      for (const auto& column : source.table->columns) names.push_back(column.name);
    } else {
      for (const auto& column : query_columns(source.query)) names.push_back(column.name);
    }
    return names;
  }

  bool has_column(const Source& source, const std::string& name) {
    if (source.table) return source.table->find(name) != nullptr;
    const auto lower = util::to_lower(name);
    const auto& columns = query_columns(source.query);
    return std::any_of(columns.begin(), columns.end(), [&](const auto& c) { return util::to_lower(c.name) == lower; });
  }

  // SQLite takes a double-quoted name that is no column for a string literal: a misspelled
  // column would read as its own name and match nothing. Names are checked first, instead.
  // `option`: the endpoint key that names the column, if any; `role` what the column is for.
  [[noreturn]] void no_such_column(const Source& source, const std::string& name, const char* option,
                                   const char* role = nullptr) {
    std::string message = prefix() + (option ? std::string("`") + option + "`: " : std::string()) + source.name +
                          " has no column '" + name + "'" + (role ? std::string(" (") + role + ")" : std::string());
    if (auto hint = util::closest_match(name, column_names(source)); !hint.empty())
      message += " (did you mean '" + hint + "'?)";
    throw ConnectorError(ErrorKind::config, message, option ? option : "");
  }

  // The options as a read or write can use them: the key, cursor and soft-delete columns exist
  // (a soft-delete or cursor column that a `create_table` table does not have yet is left out:
  // the first write adds it, and nothing was deleted before).
  EndpointOptions usable_options(const ObjectRef& object, EndpointOptions options, const Source& source) {
    const bool grows = options.create_table && source.table;
    auto settle = [&](std::string& column, const char* option) {
      if (column.empty() || has_column(source, column)) return;
      if (grows) {
        column.clear();
        return;
      }
      no_such_column(source, column, option);
    };
    settle(options.cursor_column, "cursor_column");
    settle(options.soft_delete_column, "soft_delete_column");
    if (!object.key_field.empty() && !has_column(source, object.key_field))
      no_such_column(source, object.key_field, nullptr, "the key");
    return options;
  }

  Database& db() {
    if (db_) return *db_;
    std::error_code ec;
    if (!fs::exists(path_, ec) && !create_)
      throw ConnectorError(ErrorKind::config, prefix() + "no such database file");
    // A connector is used by one thread at a time (its caches are not shared either): the
    // connection goes without SQLite's mutex, which every sqlite3_column_* call would take.
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create_ ? SQLITE_OPEN_CREATE : 0);
    auto database = std::make_unique<Database>(path_.string(), flags, busy_timeout_ms_);
    // Opening is lazy: reading the schema proves the file is a database.
    Statement(database->get(), "SELECT count(*) FROM sqlite_master").run();
    db_ = std::move(database);
    return *db_;
  }

  // WAL lets readers go on while synctool writes; harmless to repeat, ignored where refused.
  void enable_wal() {
    if (wal_checked_) return;
    wal_checked_ = true;
    try {
      Statement(db().get(), "PRAGMA journal_mode=WAL").run();
    } catch (const SqliteError&) {
      // Read-only media or a locked database: the default journal works too.
    }
  }

  Statement& cached(const std::string& sql) {
    auto it = statements_.find(sql);
    if (it == statements_.end()) it = statements_.emplace(sql, Statement(db().get(), sql)).first;
    it->second.reset();
    return it->second;
  }

  const TableInfo& table_info(const std::string& name) {
    if (auto it = tables_.find(name); it != tables_.end()) return it->second;
    TableInfo info;
    sqlite3* handle = db().get();
    Statement columns(handle, "SELECT name, type, \"notnull\", dflt_value IS NOT NULL, pk FROM pragma_table_info(?)");
    columns.bind_text(1, name);
    std::vector<std::string> key_columns;
    while (columns.step()) {
      Column column;
      column.name = columns.column_text(0).value_or("");
      column.type = columns.column_text(1).value_or("");
      column.not_null = columns.column_json(2) == 1;
      column.has_default = columns.column_json(3) == 1;
      if (columns.column_json(4).get<std::int64_t>() > 0) key_columns.push_back(column.name);
      column.affinity = sqlite::affinity_of(column.type);
      info.spelled.emplace(column.name, info.columns.size());
      info.columns.push_back(std::move(column));
    }
    info.exists = !info.columns.empty();
    if (info.exists) {
      try {
        Statement(handle, "SELECT rowid FROM " + quote_identifier(name) + " LIMIT 0");
        info.has_rowid = true;
      } catch (const SqliteError&) {
        info.has_rowid = false;  // a view or a WITHOUT ROWID table
      }
      if (key_columns.size() == 1) {
        info.unique.push_back(key_columns[0]);
        if (info.has_rowid && util::to_upper(info.find(key_columns[0])->type) == "INTEGER")
          info.rowid_alias = key_columns[0];
      }
      Statement indexes(handle, "SELECT name FROM pragma_index_list(?) WHERE \"unique\" AND NOT partial");
      indexes.bind_text(1, name);
      while (indexes.step()) {
        Statement parts(handle, "SELECT name FROM pragma_index_info(?)");
        parts.bind_text(1, indexes.column_text(0).value_or(""));
        std::vector<std::optional<std::string>> names;
        while (parts.step()) names.push_back(parts.column_text(0));
        if (names.size() == 1 && names[0]) info.unique.push_back(*names[0]);
      }
    }
    return tables_.emplace(name, std::move(info)).first->second;
  }

  // The rows a read or lookup sees; nullopt for a table that create_table has yet to create.
  std::optional<Source> source_for(const ObjectRef& object, const EndpointOptions& options) {
    Source source;
    if (!options.query.empty()) {
      source.from = "(" + options.query + ") AS " + quote_identifier(object.name);
      source.name = "query '" + object.name + "'";
      source.query = options.query;
      return source;
    }
    const TableInfo& table = table_info(object.name);
    if (!table.exists) {
      if (options.create_table) return std::nullopt;
      no_such_table(object.name);
    }
    source.from = quote_identifier(object.name);
    source.table = &table;
    source.name = "table " + object.name;
    return source;
  }

  static Source table_source(const std::string& name, const TableInfo& table) {
    return Source{quote_identifier(name), &table, "table " + name, ""};
  }

  std::string id_expression(const ObjectRef& object, const Source& source) const {
    if (!object.key_field.empty()) return quote_identifier(object.key_field);
    if (source.table && source.table->has_rowid) return "rowid";
    throw ConnectorError(ErrorKind::config,
                         prefix() + object.name + ": rows have no rowid; set `key` to the column that identifies them");
  }

  // When a row counts as modified: the cursor column, or the soft-delete stamp when later.
  static std::string modified_expression(const EndpointOptions& options) {
    const auto cursor = quote_identifier(options.cursor_column);
    if (options.soft_delete_column.empty()) return cursor;
    const auto deleted = quote_identifier(options.soft_delete_column);
    return "(CASE WHEN " + deleted + " IS NOT NULL AND (" + cursor + " IS NULL OR " + deleted + " > " + cursor +
           ") THEN " + deleted + " ELSE " + cursor + " END)";
  }

  // Whether reads name each row by its rowid (Record::origin): where the key is a column that
  // two rows may share.
  static bool rowid_origin(const ObjectRef& object, const Source& source) {
    return source.table && source.table->has_rowid && !object.key_field.empty() &&
           !source.table->is_rowid_alias(object.key_field);
  }

  // The wanted fields, then the hidden id / modified / deleted / rowid columns make_record reads.
  std::string select_list(const ObjectRef& object, const EndpointOptions& options, const Source& source,
                          const std::vector<std::string>& fields) const {
    std::string list;
    for (const auto& field : fields) {
      if (options.create_table && source.table && !source.table->find(field)) continue;
      // Named as asked: SQLite would name the result column as the table spells it.
      list += (list.empty() ? "" : ", ") + quote_identifier(field) + " AS " + quote_identifier(field);
    }
    if (fields.empty()) list = "*";
    if (list.empty()) list = "NULL AS \"__synctool_none\"";
    list += ", " + id_expression(object, source) + " AS " + kIdAlias;
    if (!options.cursor_column.empty()) list += ", " + modified_expression(options) + " AS " + kModifiedAlias;
    if (!options.soft_delete_column.empty())
      list += ", " + quote_identifier(options.soft_delete_column) + " AS " + kDeletedAlias;
    if (rowid_origin(object, source)) list += std::string(", rowid AS ") + kRowidAlias;
    return list;
  }

  // How to read the rows of a statement built by select_list().
  static Shape shape_of(const Statement& statement, const ObjectRef& object, const EndpointOptions& options,
                        const Source& source) {
    Shape shape;
    shape.modified = !options.cursor_column.empty();
    shape.deleted = !options.soft_delete_column.empty();
    shape.rowid = rowid_origin(object, source);
    shape.fields = statement.column_count() - 1 - shape.modified - shape.deleted - shape.rowid;
    for (int i = 0; i < shape.fields; ++i) {
      shape.names.push_back(statement.column_name(i));
      shape.boolean.push_back(sqlite::boolean_column(statement.column_decltype(i)));
      if (shape.names.back() != "__synctool_none") shape.order.push_back(i);
    }
    auto name_of = [&](int i) -> const std::string& { return shape.names[static_cast<std::size_t>(i)]; };
    std::stable_sort(shape.order.begin(), shape.order.end(), [&](int a, int b) { return name_of(a) < name_of(b); });
    // A record keeps one value per name, the last column's (as assigning each in turn would).
    std::vector<int> last;
    for (std::size_t k = 0; k < shape.order.size(); ++k)
      if (k + 1 == shape.order.size() || name_of(shape.order[k]) != name_of(shape.order[k + 1]))
        last.push_back(shape.order[k]);
    shape.order = std::move(last);
    return shape;
  }

  static std::string_view column_text(sqlite3_stmt* row, int i) {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(row, i));  // before _bytes
    return {text ? text : "", static_cast<std::size_t>(sqlite3_column_bytes(row, i))};
  }

  // A column as a record holds it: INTEGER -> integer (a BOOLEAN column's 0/1 -> false/true),
  // REAL -> double, TEXT -> string, NULL -> null, BLOB -> base64 string.
  static Json field_value(sqlite3_stmt* row, int i, bool boolean) {
    switch (sqlite3_column_type(row, i)) {
      case SQLITE_INTEGER: {
        const std::int64_t number = sqlite3_column_int64(row, i);
        if (boolean && (number == 0 || number == 1)) return number == 1;
        return number;
      }
      case SQLITE_FLOAT:
        return sqlite3_column_double(row, i);
      case SQLITE_TEXT:
        return Json::string_t(column_text(row, i));
      case SQLITE_BLOB: {
        const void* data = sqlite3_column_blob(row, i);
        return util::base64_encode(data, static_cast<std::size_t>(sqlite3_column_bytes(row, i)));
      }
      default:
        return nullptr;
    }
  }

  // The same value as field_value(), added to a row.
  static void add_cell(Row& cells, sqlite3_stmt* row, int i, bool boolean) {
    switch (sqlite3_column_type(row, i)) {
      case SQLITE_INTEGER: {
        const std::int64_t number = sqlite3_column_int64(row, i);
        if (boolean && (number == 0 || number == 1))
          cells.add_boolean(number == 1);
        else
          cells.add_integer(number);
        return;
      }
      case SQLITE_FLOAT: cells.add_real(sqlite3_column_double(row, i)); return;
      case SQLITE_TEXT: cells.add_text(column_text(row, i)); return;
      case SQLITE_BLOB: cells.add_json(field_value(row, i, boolean)); return;
      default: cells.add_null(); return;
    }
  }

  // A column as a native id: its text ("" for NULL); an integer printed as SQLite would.
  static void id_text(sqlite3_stmt* row, int i, std::string& out) {
    switch (sqlite3_column_type(row, i)) {
      case SQLITE_NULL:
        out.clear();
        return;
      case SQLITE_INTEGER: {
        char digits[24];
        const std::int64_t number = sqlite3_column_int64(row, i);
        out.assign(digits, std::to_chars(digits, digits + sizeof digits, number).ptr);
        return;
      }
      default:
        out.assign(column_text(row, i));
    }
  }

  // One row of a statement built by select_list(): fields in name order, each added at the
  // end of the record's object (no search, no copy of the value).
  static Record make_record(const Statement& statement, const Shape& shape) {
    sqlite3_stmt* row = statement.handle();
    Record record;
    if (shape.row_names) {
      auto& cells = record.row.emplace(shape.row_names);
      for (int i : shape.order) add_cell(cells, row, i, shape.boolean[static_cast<std::size_t>(i)]);
    } else {
      auto& fields = record.fields.get_ref<Json::object_t&>();
      for (int i : shape.order)
        fields.emplace_hint(fields.end(), shape.names[static_cast<std::size_t>(i)],
                            field_value(row, i, shape.boolean[static_cast<std::size_t>(i)]));
    }
    int next = shape.fields;
    id_text(row, next++, record.id);
    if (shape.modified) {
      if (sqlite3_column_type(row, next) != SQLITE_NULL) record.modified_at.emplace(column_text(row, next));
      ++next;
    }
    if (shape.deleted) record.deleted = sqlite3_column_type(row, next++) != SQLITE_NULL;
    if (shape.rowid) {
      std::string rowid;
      id_text(row, next++, rowid);
      record.origin = "rowid " + rowid;
    }
    return record;
  }

  // With create_table: creates the table from the batch's fields, or adds columns it lacks.
  // The type `create_table` gives a new column: from the declared [schema] (sqlite::
  // column_type_for), TEXT for a field it does not declare and for the soft-delete stamp.
  static std::string new_column_type(const ObjectRef& object, const EndpointOptions& options, const std::string& name) {
    const auto lower = util::to_lower(name);
    if (!options.soft_delete_column.empty() && util::to_lower(options.soft_delete_column) == lower) return "TEXT";
    for (const auto& field : object.schema)
      if (util::to_lower(field.name) == lower) return sqlite::column_type_for(field.type);
    return "TEXT";
  }

  // With create_table: creates the table (the key first, as its primary key, then the declared
  // [schema] fields and the batch's fields, typed by new_column_type) or adds the columns it
  // lacks. Existing columns keep their type.
  void prepare_table(const ObjectRef& object, const EndpointOptions& options, const std::vector<WriteOp>& ops) {
    if (object.key_field.empty())
      throw ConnectorError(ErrorKind::config, prefix() + object.name + ": `create_table` needs a key field");
    std::vector<std::string> wanted{object.key_field};
    auto add = [&](const std::string& name) {
      auto lower = util::to_lower(name);
      if (std::none_of(wanted.begin(), wanted.end(), [&](const auto& w) { return util::to_lower(w) == lower; }))
        wanted.push_back(name);
    };
    // A declared "address.city" is a path into the column `address` (JSON text), not a column.
    for (const auto& field : object.schema)
      if (field.name.find('.') == std::string::npos) add(field.name);
    for (const auto& op : ops)
      if (op.fields.is_object())
        for (const auto& [name, value] : op.fields.items()) add(name);
    if (!options.soft_delete_column.empty()) add(options.soft_delete_column);

    const TableInfo& table = table_info(object.name);
    Database& database = db();
    const std::string name = quote_identifier(object.name);
    if (!table.exists) {
      std::string sql = "CREATE TABLE " + name + " (";
      for (std::size_t i = 0; i < wanted.size(); ++i)
        sql += (i ? ", " : "") + quote_identifier(wanted[i]) + " " + new_column_type(object, options, wanted[i]) +
               (i ? "" : " PRIMARY KEY");
      database.exec(sql + ")");
    } else {
      std::vector<std::string> missing;
      for (const auto& column : wanted)
        if (!table.find(column)) missing.push_back(column);
      if (missing.empty()) return;
      for (const auto& column : missing)
        database.exec("ALTER TABLE " + name + " ADD COLUMN " + quote_identifier(column) + " " +
                      new_column_type(object, options, column));
    }
    forget_table(object.name);
  }

  // What the writes to one table with this key and soft-delete column share (made once).
  WriteTarget& write_target(const ObjectRef& object, const EndpointOptions& options, const TableInfo& table) {
    std::string id;
    for (const std::string* part : {&object.name, &object.key_field, &options.soft_delete_column})
      id += std::to_string(part->size()) + ':' + *part;
    if (auto it = targets_.find(id); it != targets_.end()) return *it->second;
    auto target = std::make_unique<WriteTarget>();
    const std::string& key = object.key_field;
    target->object = object.name;
    target->table = quote_identifier(object.name);
    target->key = key;
    const auto dot = key.find('.');
    target->key_dotted = dot != std::string::npos;
    target->key_head = key.substr(0, dot);
    if (target->key_dotted) target->key_rest = key.substr(dot + 1);
    target->id_column = key.empty() ? "rowid" : quote_identifier(key);
    target->integer_id = key.empty() || table.is_rowid_alias(key);
    target->key_generated = target->integer_id;
    target->unique_key = !key.empty() && table.is_unique(key);
    target->soft_delete = options.soft_delete_column;
    target->soft_delete_column = !target->soft_delete.empty() && table.find(target->soft_delete);
    return *targets_.emplace(std::move(id), std::move(target)).first->second;
  }

  // The tables' cached schemas, and everything resolved against them, are out of date.
  void forget_table(const std::string& name) {
    tables_.erase(name);
    std::erase_if(targets_, [&](const auto& entry) { return entry.second->object == name; });
  }
  void forget_tables() {
    tables_.clear();
    targets_.clear();
  }

  static bool same_fields(const WriteShape& shape, const Json::object_t& given) {
    if (shape.names.size() != given.size()) return false;
    auto name = shape.names.begin();
    for (const auto& field : given)
      if (field.first != *name++) return false;
    return true;
  }

  // The shape of a row with these fields: the previous row's, else one made before, else a new
  // one (a key no field name can fake: each name's length, then the name).
  WriteShape& shape_for(WriteTarget& target, const TableInfo& table, const Json::object_t& given) {
    if (target.last && same_fields(*target.last, given)) return *target.last;
    std::string id;
    for (const auto& field : given) id += std::to_string(field.first.size()) + ':' + field.first;
    auto it = target.shapes.find(id);
    if (it == target.shapes.end()) {
      if (target.shapes.size() >= kShapeCacheLimit) {
        target.last = nullptr;
        target.shapes.clear();
      }
      auto shape = std::make_unique<WriteShape>();
      std::size_t kept = 0;
      for (const auto& field : given) {
        const std::string& name = field.first;
        if (!target.key.empty() && shape->key < 0 && name == target.key_head)
          shape->key = static_cast<int>(shape->names.size());
        const bool is_key = !target.key.empty() && same_name(name, target.key);
        if (!is_key) ++kept;
        shape->names.push_back(name);
        shape->columns.push_back(table.find(name));
        shape->is_key.push_back(is_key);
      }
      // Writing a record makes it live again unless the write sets the stamp itself.
      shape->revive = target.soft_delete_column && !given.contains(target.soft_delete);
      shape->key_set_empty = kept == 0 && !shape->revive;
      shape->id_set_empty = given.empty() && !shape->revive;
      it = target.shapes.emplace(std::move(id), std::move(shape)).first;
    }
    target.last = it->second.get();
    return *target.last;
  }

  // Each statement below is prepared on its first use and kept: `slot` holds it.
  Statement& prepared(std::optional<Statement>& slot, const std::string& sql) {
    return slot.emplace(db().get(), sql, SQLITE_PREPARE_PERSISTENT);
  }

  static std::string insert_sql(const WriteTarget& target, const WriteShape& shape) {
    if (shape.names.empty()) return "INSERT INTO " + target.table + " DEFAULT VALUES";
    std::string columns;
    for (const auto& name : shape.names) columns += (columns.empty() ? "" : ", ") + quote_identifier(name);
    return "INSERT INTO " + target.table + " (" + columns + ") VALUES (" + placeholders(shape.names.size()) + ")";
  }

  // "a" = ?, "b" = ? (without the key column when `skip_key`), and the stamp cleared to revive.
  static std::string assignments(const WriteTarget& target, const WriteShape& shape, bool skip_key) {
    std::string set;
    for (std::size_t i = 0; i < shape.names.size(); ++i) {
      if (skip_key && shape.is_key[i]) continue;
      set += (set.empty() ? "" : ", ") + quote_identifier(shape.names[i]) + " = ?";
    }
    if (shape.revive) set += (set.empty() ? "" : ", ") + quote_identifier(target.soft_delete) + " = NULL";
    return set;
  }

  Statement& insert_statement(const WriteTarget& target, WriteShape& shape) {
    if (shape.insert) return *shape.insert;
    return prepared(shape.insert, insert_sql(target, shape));
  }

  Statement& upsert_statement(const WriteTarget& target, WriteShape& shape) {
    if (shape.upsert) return *shape.upsert;
    std::string set;
    for (std::size_t i = 0; i < shape.names.size(); ++i)
      if (!shape.is_key[i])
        set += (set.empty() ? "" : ", ") + quote_identifier(shape.names[i]) + " = excluded." +
               quote_identifier(shape.names[i]);
    if (shape.revive) set += (set.empty() ? "" : ", ") + quote_identifier(target.soft_delete) + " = NULL";
    return prepared(shape.upsert, insert_sql(target, shape) + " ON CONFLICT(" + quote_identifier(target.key) + ") DO " +
                                      (set.empty() ? "NOTHING" : "UPDATE SET " + set));
  }

  Statement& update_statement(const WriteTarget& target, WriteShape& shape, bool by_key) {
    auto& slot = by_key ? shape.update_by_key : shape.update_by_id;
    if (slot) return *slot;
    return prepared(slot, "UPDATE " + target.table + " SET " + assignments(target, shape, by_key) + " WHERE " +
                              target.id_column + " = ?");
  }

  Statement& exists_statement(WriteTarget& target) {
    if (target.exists) return *target.exists;
    return prepared(target.exists, "SELECT 1 FROM " + target.table + " WHERE " + target.id_column + " = ?");
  }

  Statement& remove_statement(WriteTarget& target) {
    if (target.remove) return *target.remove;
    return prepared(target.remove, "DELETE FROM " + target.table + " WHERE " + target.id_column + " = ?");
  }

  // Keeps the first deletion time when a row is deleted twice.
  Statement& soft_remove_statement(WriteTarget& target) {
    if (target.soft_remove) return *target.soft_remove;
    const std::string stamp = quote_identifier(target.soft_delete);
    return prepared(target.soft_remove, "UPDATE " + target.table + " SET " + stamp + " = COALESCE(" + stamp +
                                            ", ?) WHERE " + target.id_column + " = ?");
  }

  // Binds the row's values in field order (without the key column when `skip_key`); returns
  // the next parameter's index.
  int bind_fields(Statement& statement, const WriteShape& shape, bool skip_key) const {
    int index = 1;
    for (std::size_t i = 0; i < shape.names.size(); ++i)
      if (!skip_key || !shape.is_key[i]) statement.bind_borrowed(index++, *bound_[i]);
    return index;
  }

  // Binds `id` for a comparison with the id column; integers stay integers for rowid columns.
  static void bind_id(Statement& statement, int index, const WriteTarget& target, const std::string& id) {
    if (target.integer_id) {
      std::int64_t number = 0;
      auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), number);
      if (ec == std::errc() && end == id.data() + id.size()) return statement.bind_int64(index, number);
    }
    statement.bind_text(index, id);
  }

  // The key's value as the row's native id: value_text(), without JSON's serializer for the
  // usual integer key.
  static std::string key_text(const Json& value) {
    if (!value.is_number_integer()) return value_text(value);
    char digits[24];
    char* end = value.is_number_unsigned()
                    ? std::to_chars(digits, digits + sizeof digits, value.get<std::uint64_t>()).ptr
                    : std::to_chars(digits, digits + sizeof digits, value.get<std::int64_t>()).ptr;
    return std::string(digits, end);
  }

  const std::string& deletion_stamp(WriteTarget& target) {
    const std::int64_t now = clock_->now_ms();
    if (now != target.stamp_ms) {
      target.stamp = timestamp_text(now);
      target.stamp_ms = now;
    }
    return target.stamp;
  }

  WriteResult apply(WriteTarget& target, const TableInfo& table, const WriteOp& op) {
    static const Json::object_t kNoFields;
    const Json::object_t& given = op.fields.is_object() ? op.fields.get_ref<const Json::object_t&>() : kNoFields;
    WriteShape& shape = shape_for(target, table, given);
    // The values as bound: each in the form its column stores exactly, or the row fails.
    if (bound_.size() < given.size()) {
      bound_.resize(given.size());
      converted_.resize(given.size());
    }
    std::size_t i = 0;
    for (const auto& [field, value] : given) {
      const Column* column = shape.columns[i];
      if (!column) return row_error("no column '" + field + "' in table " + target.object);
      switch (sqlite::fit(column->affinity, value, converted_[i])) {
        case sqlite::Fit::as_is:
          bound_[i] = &value;
          break;
        case sqlite::Fit::converted:
          bound_[i] = &converted_[i];
          break;
        case sqlite::Fit::refused:
          return row_error(sqlite::cannot_hold(field, column->type, value));
      }
      ++i;
    }

    const std::string& key = target.key;
    const Json* key_value = shape.key < 0 ? nullptr : bound_[static_cast<std::size_t>(shape.key)];
    if (key_value && target.key_dotted) key_value = util::json_get_path(*key_value, target.key_rest);
    if (key_value && key_value->is_null()) key_value = nullptr;
    auto missing_row = [&]() { return row_error("no row with " + (key.empty() ? "rowid" : key) + " = " + op.id); };

    switch (op.kind) {
      case OpKind::create: {
        if (!key_value && !target.key_generated) return row_error("missing key field '" + key + "'");
        Statement& insert = insert_statement(target, shape);
        bind_fields(insert, shape, false);
        insert.execute();
        return row_ok(key_value ? key_text(*key_value) : std::to_string(db().last_insert_rowid()));
      }
      case OpKind::upsert: {
        if (key.empty()) return row_error("upsert needs a key field");
        if (!key_value) return row_error("missing key field '" + key + "'");
        std::string id = key_text(*key_value);
        if (target.unique_key) {
          Statement& upsert = upsert_statement(target, shape);
          bind_fields(upsert, shape, false);
          upsert.execute();
          return row_ok(std::move(id));
        }
        // No unique constraint to conflict on: update the rows with the key, else insert one.
        bool found;
        if (shape.key_set_empty) {
          Statement& exists = exists_statement(target);
          exists.bind_borrowed(1, *key_value);
          found = exists.any_row();
        } else {
          Statement& update = update_statement(target, shape, true);
          update.bind_borrowed(bind_fields(update, shape, true), *key_value);
          update.execute();
          found = db().changes() > 0;
        }
        if (!found) {
          Statement& insert = insert_statement(target, shape);
          bind_fields(insert, shape, false);
          insert.execute();
        }
        return row_ok(std::move(id));
      }
      case OpKind::update: {
        if (op.id.empty()) return row_error("update without a row id");
        if (shape.id_set_empty) {
          Statement& exists = exists_statement(target);
          bind_id(exists, 1, target, op.id);
          if (!exists.any_row()) return missing_row();
        } else {
          Statement& update = update_statement(target, shape, false);
          bind_id(update, bind_fields(update, shape, false), target, op.id);
          update.execute();
          if (db().changes() == 0) return missing_row();
        }
        return row_ok(key_value ? key_text(*key_value) : op.id);
      }
      case OpKind::remove:
      case OpKind::archive: {
        if (op.id.empty()) return row_error(std::string(to_string(op.kind)) + " without a row id");
        if (!target.soft_delete.empty()) {
          Statement& statement = soft_remove_statement(target);
          statement.bind_text(1, deletion_stamp(target));
          bind_id(statement, 2, target, op.id);
          statement.execute();
        } else if (op.kind == OpKind::archive) {
          return row_error("archiving needs `soft_delete_column` on the destination");
        } else {
          Statement& statement = remove_statement(target);
          bind_id(statement, 1, target, op.id);
          statement.execute();
        }
        return row_ok(op.id);  // no row affected: already gone, which is what was asked
      }
    }
    return row_error("unknown operation");
  }

  const util::Clock* clock_;
  fs::path path_;
  int busy_timeout_ms_ = 5000;
  bool create_ = false;
  bool wal_checked_ = false;
  std::map<std::string, TableInfo> tables_;
  std::map<std::string, std::vector<QueryColumn>> queries_;
  // Members die in reverse order: the statements are finalized before the database closes.
  std::unique_ptr<Database> db_;
  std::unordered_map<std::string, Statement> statements_;
  // By table, key and soft-delete column (each length-prefixed).
  std::unordered_map<std::string, std::unique_ptr<WriteTarget>> targets_;
  // Per row of a write, reused: what each field binds, and its converted value where it needs one.
  std::vector<const Json*> bound_;
  std::vector<Json> converted_;
  Json scratch_;  // write_problem() asks only whether a value fits: its conversions land here
};

std::unique_ptr<Connector> make_sqlite_connector(const ConnectionConfig& config) {
  return std::make_unique<SqliteConnector>(config);
}

}  // namespace

const ConnectorType& sqlite_connector_type() {
  static const ConnectorType type{
      .type = "sqlite",
      .make = &make_sqlite_connector,
      .connection_keys = {"path", "busy_timeout_ms", "create"},
      .required_connection_keys = {"path"},
      .source_keys = {"query", "cursor_column", "soft_delete_column"},
      .destination_keys = {"soft_delete_column", "create_table"},
      .init_template =
          {
              .connection = R"(# A SQLite database file, relative to this file; ${{ENV}_DB} overrides it where it is set.
path = "${{ENV}_DB:-{name}.db}"
)",
              .connection_as_destination = R"(create = true                    # make the database file when it is missing
)",
              .object = "contacts",
              .source_keys = R"(# A table; or a model: query = "SELECT email, first_name, last_name FROM people"
# cursor_column = "updated_at"   # read only rows changed since the last run
)",
              .destination_keys = R"(create_table = true              # make the table and its columns on the first write
)",
              .email = "email",
              .first_name = "first_name",
              .last_name = "last_name",
          },
  };
  return type;
}

}  // namespace synctool::connectors
