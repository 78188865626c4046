#include "connectors/sqlite/sqlite_connector.hpp"

#include "connectors/connector_helpers.hpp"
#include "connectors/sqlite/sqlite_db.hpp"
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

constexpr std::size_t kDefaultPageSize = 5000;
constexpr std::size_t kMaxBatch = 5000;
constexpr std::size_t kMaxLookup = 500;
constexpr std::size_t kStatementCacheLimit = 256;
// Extra result columns a read adds after the wanted fields; not part of the record's fields.
constexpr const char* kIdAlias = "\"__synctool_id\"";
constexpr const char* kModifiedAlias = "\"__synctool_modified\"";
constexpr const char* kDeletedAlias = "\"__synctool_deleted\"";

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

std::string field_type(const std::string& declared) {
  auto t = util::to_upper(declared);
  auto has = [&](const char* part) { return t.find(part) != std::string::npos; };
  if (has("BOOL")) return "bool";
  if (has("DATE") || has("TIME")) return "datetime";
  if (has("INT")) return "number";
  if (has("CHAR") || has("CLOB") || has("TEXT")) return "string";
  if (t.empty() || has("BLOB")) return "unknown";
  return "number";  // REAL, FLOAT, DOUBLE, NUMERIC, DECIMAL: SQLite's numeric affinities
}

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
};

// A statement being built: SQL text plus its parameters in order.
struct Sql {
  std::string text;
  std::vector<Json> params;
};

class SqliteConnector final : public Connector {
 public:
  explicit SqliteConnector(const ConnectionConfig& config)
      : clock_(config.clock ? config.clock : &util::system_clock()) {
    const auto& settings = config.settings;
    auto where = "sqlite: connection '" + config.name + "': ";
    auto path = settings.find("path");
    if (path == settings.end() || !path->is_string() || path->get<std::string>().empty())
      throw ConnectorError(ErrorKind::config, where + "`path` must name a database file");
    path_ = path->get<std::string>();
    if (path_.is_relative() && !config.base_dir.empty()) path_ = fs::path(config.base_dir) / path_;
    if (auto timeout = settings.find("busy_timeout_ms"); timeout != settings.end()) {
      if (!timeout->is_number_integer() || timeout->get<std::int64_t>() < 0 ||
          timeout->get<std::int64_t>() > 3600000)
        throw ConnectorError(ErrorKind::config, where + "`busy_timeout_ms` must be a whole number of milliseconds");
      busy_timeout_ms_ = static_cast<int>(timeout->get<std::int64_t>());
    }
    if (auto create = settings.find("create"); create != settings.end()) {
      if (!create->is_boolean()) throw ConnectorError(ErrorKind::config, where + "`create` must be true or false");
      create_ = create->get<bool>();
    }
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
    return caps;
  }

  ObjectDescription describe(const ObjectRef& object) override {
    const auto options = parse_options(object);
    return guarded([&] {
      ObjectDescription description;
      description.name = object.name;
      if (!options.query.empty()) {
        Statement statement(db().get(), "SELECT * FROM (" + strip_trailing_semicolons(options.query) + ") LIMIT 0");
        for (int i = 0; i < statement.column_count(); ++i) {
          FieldInfo field;
          field.name = statement.column_name(i);
          field.type = field_type(statement.column_decltype(i));
          field.unique = field.name == object.key_field;
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
        field.type = field_type(column.type);
        field.required = column.not_null && !column.has_default && !table.is_rowid_alias(column.name);
        field.unique = table.is_unique(column.name);
        description.fields.push_back(std::move(field));
      }
      return description;
    });
  }

  void read(const ObjectRef& object, const ReadRequest& request, const PageSink& sink) override {
    const auto options = parse_options(object);
    guarded([&] {
      auto source = source_for(object, options);
      if (!source) return;
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
      const std::size_t page_size = request.page_size ? request.page_size : kDefaultPageSize;
      std::string cursor = incremental ? *request.since : std::string();
      Page page;
      while (statement.step()) {
        page.records.push_back(make_record(statement, options));
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
    const auto options = parse_options(object);
    return guarded([&] {
      std::vector<Record> found;
      if (values.empty()) return found;
      auto source = source_for(object, options);
      if (!source) return found;
      std::string column;
      if (field == kNativeIdField) {
        column = id_expression(object, *source);
      } else {
        // A table created by synctool gains its columns on the first write that uses them.
        if (options.create_table && source->table && !source->table->find(field)) return found;
        column = quote_identifier(field);
      }
      const std::string select =
          "SELECT " + select_list(object, options, *source, {}) + " FROM " + source->from + " WHERE " + column + " IN (";
      // Soft-deleted rows are found too (marked deleted): they still hold the key.
      for (std::size_t start = 0; start < values.size(); start += kMaxLookup) {
        const std::size_t count = std::min(kMaxLookup, values.size() - start);
        Statement& statement = cached(select + placeholders(count) + ")");
        for (std::size_t i = 0; i < count; ++i) statement.bind_text(static_cast<int>(i + 1), values[start + i]);
        while (statement.step()) found.push_back(make_record(statement, options));
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

  EndpointOptions parse_options(const ObjectRef& object) const {
    EndpointOptions options;
    const auto where = "sqlite: object '" + object.name + "': ";
    if (!object.options.is_object()) return options;
    auto text = [&](const char* key, std::string& out) {
      auto it = object.options.find(key);
      if (it == object.options.end()) return;
      if (!it->is_string()) throw ConnectorError(ErrorKind::config, where + "`" + key + "` must be a string");
      out = it->get<std::string>();
    };
    text("query", options.query);
    text("cursor_column", options.cursor_column);
    text("soft_delete_column", options.soft_delete_column);
    if (auto it = object.options.find("create_table"); it != object.options.end()) {
      if (!it->is_boolean()) throw ConnectorError(ErrorKind::config, where + "`create_table` must be true or false");
      options.create_table = it->get<bool>();
    }
    return options;
  }

  static EndpointOptions lenient_options(const ObjectRef& object) {
    EndpointOptions options;
    if (!object.options.is_object()) return options;
    auto text = [&](const char* key) {
      auto it = object.options.find(key);
      return it != object.options.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    options.cursor_column = text("cursor_column");
    options.soft_delete_column = text("soft_delete_column");
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
      source.from = "(" + strip_trailing_semicolons(options.query) + ") AS " + quote_identifier(object.name);
      return source;
    }
    const TableInfo& table = table_info(object.name);
    if (!table.exists) {
      if (options.create_table) return std::nullopt;
      no_such_table(object.name);
    }
    source.from = quote_identifier(object.name);
    source.table = &table;
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

  // The wanted fields, then the hidden id / modified / deleted columns make_record reads.
  std::string select_list(const ObjectRef& object, const EndpointOptions& options, const Source& source,
                          const std::vector<std::string>& fields) const {
    std::string list;
    for (const auto& field : fields) {
      if (options.create_table && source.table && !source.table->find(field)) continue;
      list += (list.empty() ? "" : ", ") + quote_identifier(field);
    }
    if (fields.empty()) list = "*";
    if (list.empty()) list = "NULL AS \"__synctool_none\"";
    list += ", " + id_expression(object, source) + " AS " + kIdAlias;
    if (!options.cursor_column.empty()) list += ", " + modified_expression(options) + " AS " + kModifiedAlias;
    if (!options.soft_delete_column.empty())
      list += ", " + quote_identifier(options.soft_delete_column) + " AS " + kDeletedAlias;
    return list;
  }

  static Record make_record(const Statement& statement, const EndpointOptions& options) {
    const int hidden = 1 + !options.cursor_column.empty() + !options.soft_delete_column.empty();
    const int visible = statement.column_count() - hidden;
    Record record;
    for (int i = 0; i < visible; ++i) {
      auto name = statement.column_name(i);
      if (name != "__synctool_none") record.fields[name] = statement.column_json(i);
    }
    int next = visible;
    record.id = statement.column_text(next++).value_or("");
    if (!options.cursor_column.empty()) record.modified_at = statement.column_text(next++);
    if (!options.soft_delete_column.empty()) record.deleted = !statement.column_is_null(next);
    return record;
  }

  // With create_table: creates the table from the batch's fields, or adds columns it lacks.
  void prepare_table(const ObjectRef& object, const EndpointOptions& options, const std::vector<WriteOp>& ops) {
    if (object.key_field.empty())
      throw ConnectorError(ErrorKind::config, prefix() + object.name + ": `create_table` needs a key field");
    std::vector<std::string> wanted{object.key_field};
    auto add = [&](const std::string& name) {
      auto lower = util::to_lower(name);
      if (std::none_of(wanted.begin(), wanted.end(), [&](const auto& w) { return util::to_lower(w) == lower; }))
        wanted.push_back(name);
    };
    for (const auto& op : ops)
      if (op.fields.is_object())
        for (const auto& [name, value] : op.fields.items()) add(name);
    if (!options.soft_delete_column.empty()) add(options.soft_delete_column);

    const TableInfo& table = table_info(object.name);
    Database& database = db();
    if (!table.exists) {
      std::string sql = "CREATE TABLE " + quote_identifier(object.name) + " (";
      for (std::size_t i = 0; i < wanted.size(); ++i)
        sql += (i ? ", " : "") + quote_identifier(wanted[i]) + (i ? " TEXT" : " TEXT PRIMARY KEY");
      database.exec(sql + ")");
    } else {
      std::vector<std::string> missing;
      for (const auto& name : wanted)
        if (!table.find(name)) missing.push_back(name);
      if (missing.empty()) return;
      for (const auto& name : missing)
        database.exec("ALTER TABLE " + quote_identifier(object.name) + " ADD COLUMN " + quote_identifier(name) + " TEXT");
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
    const Json& fields = op.fields.is_object() ? op.fields : kEmpty;
    for (const auto& [field, value] : fields.items())
      if (!table.find(field)) return row_error("no column '" + field + "' in table " + object.name);

    const std::string& key = object.key_field;
    const Json* key_value = key.empty() ? nullptr : util::json_get_path(fields, key);
    if (key_value && key_value->is_null()) key_value = nullptr;
    const bool key_generated = key.empty() || table.is_rowid_alias(key);
    const std::string id_column = key.empty() ? "rowid" : quote_identifier(key);
    const bool integer_id = key.empty() || table.is_rowid_alias(key);
    const std::string& soft_delete = options.soft_delete_column;
    // Writing a record makes it live again unless the write sets the stamp itself.
    const bool revive = !soft_delete.empty() && table.find(soft_delete) && !fields.contains(soft_delete);

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
      if (key_value) return util::json_to_text(*key_value);
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
        const std::string key_text = util::json_to_text(*key_value);
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
        return row_ok(key_value ? util::json_to_text(*key_value) : op.id);
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
