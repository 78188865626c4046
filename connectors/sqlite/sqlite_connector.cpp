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
constexpr std::size_t kMaxBatch = 5000;
constexpr std::size_t kMaxLookup = 500;
constexpr std::size_t kStatementCacheLimit = 256;
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

struct Column {
  std::string name;
  std::string type;
  bool not_null = false;
  bool has_default = false;
};

struct TableInfo {
  bool exists = false;
  std::vector<Column> columns;
  bool has_rowid = false;
  std::string rowid_alias;          // the INTEGER PRIMARY KEY column, if any
  std::vector<std::string> unique;  // columns with a one-column PRIMARY KEY or UNIQUE constraint

  // SQLite column names are case-insensitive.
  const Column* find(std::string_view name) const {
    auto lower = util::to_lower(name);
    for (const auto& column : columns)
      if (util::to_lower(column.name) == lower) return &column;
    return nullptr;
  }
  bool is_unique(std::string_view name) const {
    auto lower = util::to_lower(name);
    return std::any_of(unique.begin(), unique.end(), [&](const auto& u) { return util::to_lower(u) == lower; });
  }
  bool is_rowid_alias(std::string_view name) const {
    return !rowid_alias.empty() && util::to_lower(rowid_alias) == util::to_lower(name);
  }
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
      const Shape shape = shape_of(statement, object, options, *source);
      const std::size_t page_size = request.page_size ? request.page_size : kDefaultPageSize;
      std::string cursor = incremental ? *request.since : std::string();
      Page page;
      while (statement.step()) {
        page.records.push_back(make_record(statement, shape));
        if (!options.cursor_column.empty() && page.records.back().modified_at)
          cursor = *page.records.back().modified_at;
        if (page.records.size() >= page_size) {
          page.cursor = cursor;
          sink(std::move(page));
          page = Page{};
        }
      }
      if (!page.records.empty()) {
        page.cursor = cursor;
        sink(std::move(page));
      }
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
        Source source{quote_identifier(object.name), &table, "table " + object.name, ""};
        usable_options(object, options, source);
        for (std::size_t i = 0; i < ops.size(); ++i) {
          try {
            results[i] = apply(object, options, table, ops[i]);
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
        tables_.clear();  // DDL in the batch was rolled back too
        throw;
      }
      return results;
    });
  }

  // A field that is not a column of the table (without `create_table`) is a configuration
  // error; a value its column cannot hold exactly is this row's problem.
  std::string write_problem(const ObjectRef& object, const WriteOp& op) override {
    const auto options = parse_options(object);
    if (!op.fields.is_object() || op.fields.empty()) return "";
    return guarded([&]() -> std::string {
      const TableInfo& table = table_info(object.name);
      if (!table.exists && !options.create_table) no_such_table(object.name);
      const Source source{quote_identifier(object.name), &table, "table " + object.name, ""};
      for (const auto& [name, value] : op.fields.items()) {
        const Column* column = table.find(name);
        if (!column && !options.create_table) no_such_column(source, name, nullptr);
        const std::string declared = column ? column->type : new_column_type(object, options, name);
        if (!sqlite::storable(sqlite::affinity_of(declared), value)) return sqlite::cannot_hold(name, declared, value);
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
  static EndpointOptions parse_options(const ObjectRef& object) {
    EndpointOptions options;
    const auto where = std::string(kVendor) + ": object '" + object.name + "': ";
    if (!object.options.is_object()) return options;
    auto text = [&](const char* key, std::string& out) {
      auto it = object.options.find(key);
      if (it == object.options.end()) return;
      if (!it->is_string() || it->get<std::string>().empty())
        throw ConnectorError(ErrorKind::config, where + "`" + key + "` must be a non-empty string", key);
      out = it->get<std::string>();
    };
    text("query", options.query);
    if (!options.query.empty()) {
      options.query = strip_trailing_semicolons(options.query);
      if (options.query.empty())
        throw ConnectorError(ErrorKind::config, where + "`query` must be a SELECT statement", "query");
    }
    text("cursor_column", options.cursor_column);
    text("soft_delete_column", options.soft_delete_column);
    if (auto it = object.options.find("create_table"); it != object.options.end()) {
      if (!it->is_boolean())
        throw ConnectorError(ErrorKind::config, where + "`create_table` must be true or false", "create_table");
      options.create_table = it->get<bool>();
    }
    if (!options.query.empty() && options.create_table)
      throw ConnectorError(ErrorKind::config, where + "`create_table` cannot go with a `query`", "create_table");
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
    int flags = SQLITE_OPEN_READWRITE | (create_ ? SQLITE_OPEN_CREATE : 0);
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
    }
    return shape;
  }

  static Record make_record(const Statement& statement, const Shape& shape) {
    Record record;
    for (int i = 0; i < shape.fields; ++i) {
      const auto& name = shape.names[static_cast<std::size_t>(i)];
      if (name == "__synctool_none") continue;
      Json value = statement.column_json(i);
      if (shape.boolean[static_cast<std::size_t>(i)] && value.is_number_integer() &&
          (value.get<std::int64_t>() == 0 || value.get<std::int64_t>() == 1))
        value = value.get<std::int64_t>() == 1;
      record.fields[name] = std::move(value);
    }
    int next = shape.fields;
    record.id = statement.column_text(next++).value_or("");
    if (shape.modified) record.modified_at = statement.column_text(next++);
    if (shape.deleted) record.deleted = !statement.column_is_null(next++);
    if (shape.rowid) record.origin = "rowid " + statement.column_text(next++).value_or("");
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
    tables_.erase(object.name);
  }

  // Binds `id` for a comparison with the id column; integers stay integers for rowid columns.
  static Json id_value(const std::string& id, bool integer_column) {
    if (integer_column) {
      std::int64_t number = 0;
      auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), number);
      if (ec == std::errc() && end == id.data() + id.size()) return number;
    }
    return id;
  }

  std::int64_t run(const Sql& sql) {
    Statement& statement = cached(sql.text);
    for (std::size_t i = 0; i < sql.params.size(); ++i) statement.bind(static_cast<int>(i + 1), sql.params[i]);
    statement.run();
    return db().changes();
  }

  bool exists(const std::string& table, const std::string& id_column, const Json& id) {
    Statement& statement = cached("SELECT 1 FROM " + quote_identifier(table) + " WHERE " + id_column + " = ?");
    statement.bind(1, id);
    bool found = statement.step();
    statement.reset();
    return found;
  }

  WriteResult apply(const ObjectRef& object, const EndpointOptions& options, const TableInfo& table,
                    const WriteOp& op) {
    const std::string name = quote_identifier(object.name);
    static const Json kEmpty = Json::object();
    const Json& given = op.fields.is_object() ? op.fields : kEmpty;
    // The values as bound: each in the form its column stores exactly, or the row fails.
    Json fields = Json::object();
    for (const auto& [field, value] : given.items()) {
      const Column* column = table.find(field);
      if (!column) return row_error("no column '" + field + "' in table " + object.name);
      auto stored = sqlite::storable(sqlite::affinity_of(column->type), value);
      if (!stored) return row_error(sqlite::cannot_hold(field, column->type, value));
      fields[field] = std::move(*stored);
    }

    const std::string& key = object.key_field;
    const Json* key_value = key.empty() ? nullptr : util::json_get_path(fields, key);
    if (key_value && key_value->is_null()) key_value = nullptr;
    const bool key_generated = key.empty() || table.is_rowid_alias(key);
    const std::string id_column = key.empty() ? "rowid" : quote_identifier(key);
    const bool integer_id = key.empty() || table.is_rowid_alias(key);
    const std::string& soft_delete = options.soft_delete_column;
    // Writing a record makes it live again unless the write sets the stamp itself.
    const bool revive = !soft_delete.empty() && table.find(soft_delete) && !given.contains(soft_delete);

    auto insert = [&]() {
      Sql sql;
      if (fields.empty()) {
        sql.text = "INSERT INTO " + name + " DEFAULT VALUES";
      } else {
        std::string columns;
        for (const auto& [field, value] : fields.items()) {
          columns += (columns.empty() ? "" : ", ") + quote_identifier(field);
          sql.params.push_back(value);
        }
        sql.text = "INSERT INTO " + name + " (" + columns + ") VALUES (" + placeholders(sql.params.size()) + ")";
      }
      return sql;
    };
    auto assignments = [&](Sql& sql, bool skip_key) {
      std::string set;
      for (const auto& [field, value] : fields.items()) {
        if (skip_key && util::to_lower(field) == util::to_lower(key)) continue;
        set += (set.empty() ? "" : ", ") + quote_identifier(field) + " = ?";
        sql.params.push_back(value);
      }
      if (revive) set += (set.empty() ? "" : ", ") + quote_identifier(soft_delete) + " = NULL";
      return set;
    };
    auto inserted_id = [&]() -> std::string {
      if (key_value) return value_text(*key_value);
      return std::to_string(db().last_insert_rowid());
    };
    auto missing_row = [&]() { return row_error("no row with " + (key.empty() ? "rowid" : key) + " = " + op.id); };

    switch (op.kind) {
      case OpKind::create: {
        if (!key_value && !key_generated) return row_error("missing key field '" + key + "'");
        run(insert());
        return row_ok(inserted_id());
      }
      case OpKind::upsert: {
        if (key.empty()) return row_error("upsert needs a key field");
        if (!key_value) return row_error("missing key field '" + key + "'");
        const std::string key_text = value_text(*key_value);
        if (table.is_unique(key)) {
          Sql sql = insert();
          std::string set;
          for (const auto& [field, value] : fields.items())
            if (util::to_lower(field) != util::to_lower(key))
              set += (set.empty() ? "" : ", ") + quote_identifier(field) + " = excluded." + quote_identifier(field);
          if (revive) set += (set.empty() ? "" : ", ") + quote_identifier(soft_delete) + " = NULL";
          sql.text += " ON CONFLICT(" + quote_identifier(key) + ") DO " + (set.empty() ? "NOTHING" : "UPDATE SET " + set);
          run(sql);
          return row_ok(key_text);
        }
        // No unique constraint to conflict on: update the rows with the key, else insert one.
        Sql update;
        const std::string set = assignments(update, true);
        bool found;
        if (set.empty()) {
          found = exists(object.name, id_column, *key_value);
        } else {
          update.text = "UPDATE " + name + " SET " + set + " WHERE " + id_column + " = ?";
          update.params.push_back(*key_value);
          found = run(update) > 0;
        }
        if (!found) run(insert());
        return row_ok(key_text);
      }
      case OpKind::update: {
        if (op.id.empty()) return row_error("update without a row id");
        const Json id = id_value(op.id, integer_id);
        Sql update;
        const std::string set = assignments(update, false);
        if (set.empty()) {
          if (!exists(object.name, id_column, id)) return missing_row();
        } else {
          update.text = "UPDATE " + name + " SET " + set + " WHERE " + id_column + " = ?";
          update.params.push_back(id);
          if (run(update) == 0) return missing_row();
        }
        return row_ok(key_value ? value_text(*key_value) : op.id);
      }
      case OpKind::remove:
      case OpKind::archive: {
        if (op.id.empty()) return row_error(std::string(to_string(op.kind)) + " without a row id");
        const Json id = id_value(op.id, integer_id);
        Sql sql;
        if (!soft_delete.empty()) {
          // Keeps the first deletion time when a row is deleted twice.
          sql.text = "UPDATE " + name + " SET " + quote_identifier(soft_delete) + " = COALESCE(" +
                     quote_identifier(soft_delete) + ", ?) WHERE " + id_column + " = ?";
          sql.params = {timestamp_text(clock_->now_ms()), id};
        } else if (op.kind == OpKind::archive) {
          return row_error("archiving needs `soft_delete_column` on the destination");
        } else {
          sql.text = "DELETE FROM " + name + " WHERE " + id_column + " = ?";
          sql.params = {id};
        }
        run(sql);  // no row affected: already gone, which is what was asked
        return row_ok(op.id);
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
  };
  return type;
}

}  // namespace synctool::connectors
