#include "connectors/postgres/postgres_connector.hpp"

#include "connectors/connector_helpers.hpp"
#include "connectors/postgres/postgres_db.hpp"
#include "connectors/postgres/postgres_values.hpp"
#include "connectors/settings.hpp"
#include "net/redact.hpp"
#include "net/retry.hpp"
#include "util/clock.hpp"
#include "util/json_path.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <unordered_map>

namespace synctool::connectors {

namespace {

namespace fs = std::filesystem;
using postgres::Connection;
using postgres::Param;
using postgres::PgError;
using postgres::quote_identifier;
using postgres::Result;
using postgres::ValueKind;

constexpr const char* kVendor = "postgres";
constexpr std::size_t kDefaultPageSize = 5000;
constexpr std::size_t kMaxBatch = 5000;
constexpr std::size_t kMaxLookup = 1000;
// Rows stamped by a transaction that commits after a read has passed their time (now() is the
// transaction's start) would be missed by a cursor taken at face value: incremental reads of a
// date/time cursor look back this far by default.
constexpr std::int64_t kDefaultLookbackMs = 60'000;
// Hidden columns a read adds after the wanted fields.
constexpr const char* kKeyAlias = "__synctool_key";
constexpr const char* kModifiedAlias = "__synctool_modified";
constexpr const char* kDeletedAlias = "__synctool_deleted";
constexpr const char* kReadCursor = "synctool_read";
constexpr const char* kSavepoint = "synctool_rows";

const std::vector<std::string> kSslKeys = {"sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl", "sslpassword"};
const std::vector<std::string> kSslPathKeys = {"sslrootcert", "sslcert", "sslkey", "sslcrl"};
const std::vector<std::string> kSslModes = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"};

// The endpoint keys of an object ([source] / [destination] in the sync spec).
struct EndpointOptions {
  std::string schema;              // the table's schema (default: the connection's)
  std::string query;               // a SELECT read instead of the table
  std::string cursor_column;       // makes reads incremental
  std::string soft_delete_column;  // deletes stamp it; reads skip (or tombstone) stamped rows
  std::vector<std::string> key_columns;  // the row's identity when it is not the key field alone
  bool create_table = false;       // create the table and its columns on write
  std::int64_t lookback_ms = kDefaultLookbackMs;
};

struct Column {
  std::string name;
  std::string sql_type;  // format_type(): "text", "character varying(80)", "timestamp with time zone"
  Oid type = 0;
  int typmod = -1;       // pg_attribute.atttypmod: numeric(p,s), varchar(n)...; -1 for none
  char category = 'U';   // pg_type.typcategory
  bool not_null = false;
  bool has_default = false;  // a default, an identity or a generated column
  ValueKind kind() const { return postgres::value_kind(type, category); }
};

// A table, or the rows of a `query`.
struct Relation {
  bool exists = false;
  bool is_query = false;
  std::string name;   // for messages: schema.table, or the object's name for a query
  std::string from;   // what follows FROM: "schema"."table" or (query) AS "name"
  std::string oid;    // the table's oid, "" for a query
  std::vector<Column> columns;
  std::vector<std::vector<std::string>> unique_sets;  // columns of each unique index, PK first

  const Column* find(std::string_view column) const {
    for (const auto& c : columns)
      if (c.name == column) return &c;
    return nullptr;
  }
  bool unique(const std::vector<std::string>& key) const {
    std::set<std::string> wanted(key.begin(), key.end());
    return std::any_of(unique_sets.begin(), unique_sets.end(),
                       [&](const auto& set) { return std::set<std::string>(set.begin(), set.end()) == wanted; });
  }
  std::vector<std::string> names() const {
    std::vector<std::string> list;
    for (const auto& c : columns) list.push_back(c.name);
    return list;
  }
};

std::string comma_list(const std::vector<std::string>& items) { return util::join(items, ", "); }

// "dst"."a" = "key"."a" AND ... for the key columns.
std::string key_match(const std::vector<std::string>& key, const std::string& left, const std::string& right) {
  std::vector<std::string> parts;
  for (const auto& column : key)
    parts.push_back(left + "." + quote_identifier(column) + " = " + right + "." + quote_identifier(column));
  return util::join(parts, " AND ");
}

class PostgresConnector final : public Connector {
 public:
  // Reads and checks the settings only (connections open on first use): `synctool check`
  // makes connectors to validate their settings.
  explicit PostgresConnector(const ConnectionConfig& config)
      : clock_(config.clock ? config.clock : &util::system_clock()) {
    ConnectionSettings settings(config, kVendor);
    url_ = settings.text("url");
    if (url_.empty()) settings.fail("url", "`url` must name the database, e.g. url = \"${PG_URL}\"");
    postgres::UrlParts parts;
    try {
      parts = postgres::parse_url(url_);
    } catch (const PgError& e) {
      settings.fail("url", std::string("cannot read `url`: ") + e.what());
    }
    if (!parts.password.empty()) {
      redactor_.add(parts.password);
      if (config.redactor) config.redactor->add(parts.password);
    }
    where_ = parts.describe();
    schema_ = settings.text("schema");
    for (const auto& key : kSslKeys) {
      auto value = settings.text(key);
      if (value.empty()) continue;
      if (key == "sslmode" && std::find(kSslModes.begin(), kSslModes.end(), value) == kSslModes.end())
        settings.fail("sslmode", "`sslmode` must be one of " + comma_list(kSslModes) + " (got '" + value + "')");
      if (std::find(kSslPathKeys.begin(), kSslPathKeys.end(), key) != kSslPathKeys.end() &&
          fs::path(value).is_relative() && !config.base_dir.empty())
        value = (fs::path(config.base_dir) / value).string();
      overrides_.emplace_back(key, value);
    }
    const auto connect_s = std::max<std::int64_t>(2, settings.duration_ms("connect_timeout", 10'000) / 1000);
    overrides_.emplace_back("connect_timeout", std::to_string(connect_s));
    overrides_.emplace_back("fallback_application_name", "synctool");
    if (auto name = settings.text("application_name"); !name.empty()) overrides_.emplace_back("application_name", name);
    overrides_.emplace_back("client_encoding", "UTF8");
    statement_timeout_ms_ = settings.duration_ms("statement_timeout", 0);
    write_retry_.max_attempts = static_cast<int>(settings.integer("max_retries", 4, 0, 50)) + 1;
    write_retry_.max_elapsed_ms = settings.duration_ms("retry_for", 60'000);
    write_retry_.base_delay_ms = 250;
    write_retry_.max_delay_ms = 10'000;
    log_ = config.log;
  }

  std::string type() const override { return kVendor; }

  void check() override {
    guarded([&] {
      conn();
      const std::string& schema = default_schema();
      Result found = conn().exec("SELECT 1 FROM pg_namespace WHERE nspname = $1", {schema});
      if (found.rows() == 0)
        throw ConnectorError(ErrorKind::config, prefix() + "no schema '" + schema + "' in the database");
    });
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
    caps.schema_management = options.query.empty();
    // Rows are told apart by the primary key when no key is named; a named key column may
    // repeat (whether it has a unique index is not known without reading the catalog, and one
    // SELECT never returns a row twice anyway).
    caps.unique_ids = object.key_field.empty() && !object.options.contains("key_columns") && options.query.empty();
    caps.read_in_background = true;  // reads go through a connection of their own
    caps.write_in_background = true;
    return caps;
  }

  ObjectDescription describe(const ObjectRef& object) override {
    const EndpointOptions options = parse_options(object);
    return guarded([&] {
      ObjectDescription description;
      description.name = object.name;
      // Names are quoted, so they compare exactly (case_insensitive stays false).
      description.accepts_new_fields = options.create_table;
      const Relation& relation = relation_of(object, options);
      if (!relation.exists) {
        if (options.create_table) return description;
        no_such_table(object, options);
      }
      const auto key = key_columns(object, options, relation);
      for (const auto& column : relation.columns) {
        FieldInfo field;
        field.name = column.name;
        field.type = postgres::field_type(column.kind(), column.type);
        field.required = column.not_null && !column.has_default;
        field.unique = (key.size() == 1 && key[0] == column.name) || relation.unique({column.name});
        description.fields.push_back(std::move(field));
      }
      return description;
    });
  }

  // A SELECT of no rows from the table or the query (a missing table, a query that does not
  // compile, a missing SELECT privilege show), the key, cursor and soft-delete columns; for a
  // destination table the INSERT privilege, and for one `create_table` is to make, the
  // privilege to create tables in its schema.
  void probe(const ObjectRef& object) override {
    const EndpointOptions options = parse_options(object);
    if (object.destination && !options.query.empty()) read_only_query(object);
    guarded([&] {
      relations_.clear();  // the catalog as it is now
      const Relation& relation = relation_of(object, options);
      Connection& db = conn();
      if (!relation.exists) {
        if (!options.create_table) no_such_table(object, options);
        const std::string schema = schema_of(options);
        Result can = db.exec("SELECT has_schema_privilege($1, 'CREATE')", {schema});
        if (can.value(0, 0) != "t")
          throw ConnectorError(ErrorKind::config, prefix() + "no privilege to create table " + object.name +
                                                      " in schema " + schema + " (`create_table`)");
        return;
      }
      db.exec("SELECT * FROM " + relation.from + " LIMIT 0");
      key_columns(object, options, relation);
      named_column(relation, options.cursor_column, "cursor_column");
      if (!options.create_table) named_column(relation, options.soft_delete_column, "soft_delete_column");
      if (object.destination) {
        Result can = db.exec("SELECT has_table_privilege($1::oid, 'INSERT')", {relation.oid});
        if (can.value(0, 0) != "t")
          throw ConnectorError(ErrorKind::config, prefix() + "no privilege to insert into table " + relation.name);
      }
    });
  }

  void check_options(const ObjectRef& object) const override { read_options(object); }

  void read(const ObjectRef& object, const ReadRequest& request, const PageSink& sink) override {
    const EndpointOptions options = parse_options(object);
    guarded([&] {
      const Relation& relation = relation_of(object, options);
      if (!relation.exists) {
        if (options.create_table) return;
        no_such_table(object, options);
      }
      const auto key = key_columns(object, options, relation);
      const Column* cursor_column = named_column(relation, options.cursor_column, "cursor_column");
      named_column(relation, options.soft_delete_column, "soft_delete_column");
      const bool incremental = request.since && cursor_column;
      std::vector<const Column*> columns = wanted_columns(options, relation, request.fields);

      std::string sql = "SELECT " + select_list(columns, key, options) + " FROM " + relation.from;
      std::vector<Param> params;
      std::optional<std::string> floor;  // with a lookback: the cursor never goes below `since`
      if (incremental) {
        std::string since = *request.since;
        if (auto earlier = looked_back(since, *cursor_column, options.lookback_ms)) {
          floor = since;
          since = *earlier;
        }
        sql += " WHERE " + modified_expression(options) + " >= $1";
        params.emplace_back(since);
      } else if (!options.soft_delete_column.empty()) {
        sql += " WHERE " + quote_identifier(options.soft_delete_column) + " IS NULL";
      }
      // Ordered by the cursor so that each page's cursor is safe to resume from.
      if (cursor_column) sql += " ORDER BY " + modified_expression(options) + " NULLS FIRST";

      const std::size_t page_size = request.page_size ? request.page_size : kDefaultPageSize;
      std::string cursor = incremental ? *request.since : std::string();
      Connection& reader = read_conn();
      try {
        reader.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
        reader.exec("DECLARE " + std::string(kReadCursor) + " NO SCROLL CURSOR FOR " + sql, params);
        const std::string fetch = "FETCH FORWARD " + std::to_string(page_size) + " FROM " + kReadCursor;
        for (;;) {
          Result rows = reader.exec(fetch);
          if (rows.rows() == 0) break;
          Page page;
          page.records.reserve(static_cast<std::size_t>(rows.rows()));
          for (int r = 0; r < rows.rows(); ++r) {
            page.records.push_back(make_record(rows, r, columns, key, relation, options));
            const auto& modified = page.records.back().modified_at;
            if (cursor_column && modified && (!floor || *modified > cursor)) cursor = *modified;
          }
          page.cursor = cursor;
          sink(std::move(page));
        }
        reader.exec("COMMIT");
      } catch (...) {
        reader.rollback_quietly();
        throw;
      }
    });
  }

  std::vector<Record> lookup(const ObjectRef& object, const std::string& field,
                             const std::vector<std::string>& values) override {
    const EndpointOptions options = parse_options(object);
    return guarded([&] {
      std::vector<Record> found;
      if (values.empty()) return found;
      const Relation& relation = relation_of(object, options);
      if (!relation.exists) {
        if (options.create_table) return found;
        no_such_table(object, options);
      }
      const auto key = key_columns(object, options, relation);
      std::vector<const Column*> columns = wanted_columns(options, relation, {});
      const std::string select = "SELECT " + select_list(columns, key, options) + " FROM " + relation.from + " WHERE ";
      if (field == kNativeIdField && key.size() > 1) {
        // Composite ids are JSON arrays of the key values; an id of another shape matches nothing.
        std::vector<std::string> defs;
        for (const auto& name : key) defs.push_back(quote_identifier(name) + " " + relation.find(name)->sql_type);
        const std::string condition = "(" + qualified_list(key, "") + ") IN (SELECT " + qualified_list(key, "ids.") +
                                      " FROM json_to_recordset($1::json) AS ids(" + comma_list(defs) + "))";
        Json ids = Json::array();
        auto flush = [&] {
          if (!ids.empty()) run_lookup(select + condition, {util::json_dump(ids)}, columns, key, relation, options, found);
          ids = Json::array();
        };
        for (const auto& id : values) {
          if (auto row = id_object(key, id)) ids.push_back(std::move(*row));
          if (ids.size() == kMaxLookup) flush();
        }
        flush();
        return found;
      }
      const std::string column_name = field == kNativeIdField ? key[0] : field;
      const Column* column = relation.find(column_name);
      if (!column) {
        if (options.create_table && !relation.is_query) return found;
        no_such_column(relation, column_name);
      }
      const std::string condition = quote_identifier(column_name) + " = ANY($1::" + column->sql_type + "[])";
      for (std::size_t start = 0; start < values.size(); start += kMaxLookup) {
        std::vector<std::string> chunk(values.begin() + static_cast<std::ptrdiff_t>(start),
                                       values.begin() + static_cast<std::ptrdiff_t>(std::min(values.size(), start + kMaxLookup)));
        try {
          run_lookup(select + condition, {postgres::text_array_literal(chunk)}, columns, key, relation, options, found);
        } catch (const PgError& e) {
          if (!e.row_level()) throw;
          // A value that is not of the column's type ("abc" for an integer) matches nothing:
          // look the chunk up one value at a time and skip those.
          for (const auto& value : chunk) {
            try {
              run_lookup(select + condition, {postgres::text_array_literal({value})}, columns, key, relation, options,
                         found);
            } catch (const PgError& single) {
              if (!single.row_level()) throw;
            }
          }
        }
      }
      return found;
    });
  }

  // A batch is one transaction. A transient failure (connection lost, deadlock, serialization
  // failure, lock or statement timeout, server shutting down) rolled all of it back, so the
  // batch is tried again on a new connection after a backoff. Only a connection lost while
  // COMMIT was under way leaves the outcome unknown: tried again only when every write is
  // idempotent (upserts, updates, deletes); plain INSERTs fail instead, and the engine's
  // pending intents look them up on the next run rather than insert twice.
  std::vector<WriteResult> write(const ObjectRef& object, const std::vector<WriteOp>& ops) override {
    const EndpointOptions options = parse_options(object);
    if (ops.empty()) return {};
    if (!options.query.empty()) read_only_query(object);
    const bool idempotent = std::none_of(ops.begin(), ops.end(), [](const WriteOp& op) { return op.kind == OpKind::create; });
    const auto started = clock_->steady_ms();
    for (int attempt = 1;; ++attempt) {
      bool commit_sent = false;
      try {
        return write_once(object, options, ops, commit_sent);
      } catch (const ConnectorError& e) {
        if (e.kind() != ErrorKind::transient || attempt >= write_retry_.max_attempts || (commit_sent && !idempotent))
          throw;
        const auto delay = net::backoff_delay_ms(write_retry_, attempt, random_);
        if (clock_->steady_ms() - started + delay > write_retry_.max_elapsed_ms) throw;
        if (log_)
          log_(std::string(e.what()) + "; writing the batch of " + std::to_string(ops.size()) + " again in " +
               std::to_string(delay) + " ms (attempt " + std::to_string(attempt + 1) + ")");
        clock_->sleep_ms(delay);
      }
    }
  }

  std::vector<WriteResult> write_once(const ObjectRef& object, const EndpointOptions& options,
                                      const std::vector<WriteOp>& ops, bool& commit_sent) {
    std::vector<WriteResult> results(ops.size());
    return guarded([&] {
      Connection& db = conn();
      if (!relation_of(object, options).exists && !options.create_table) no_such_table(object, options);
      db.exec("BEGIN");
      try {
        if (options.create_table) prepare_table(object, options, ops);
        const Relation& relation = relation_of(object, options);
        for (const auto& op : ops)
          if (op.fields.is_object())
            for (const auto& [name, value] : op.fields.items())
              if (!relation.find(name)) no_such_column(relation, name);
        Writer writer{*this, db, object, options, relation, key_columns(object, options, relation), ops, results};
        writer.run();
        commit_sent = true;
        db.exec("COMMIT");
      } catch (...) {
        db.rollback_quietly();
        relations_.clear();  // DDL in the batch was rolled back too
        throw;
      }
      return results;
    });
  }

  std::string write_problem(const ObjectRef& object, const WriteOp& op) override {
    const EndpointOptions& options = parse_options(object);
    if (!options.query.empty()) read_only_query(object);
    return guarded([&]() -> std::string {
      const Relation& relation = relation_of(object, options);
      if (!relation.exists) {
        if (options.create_table) return "";
        no_such_table(object, options);
      }
      if (!op.fields.is_object()) return "";
      for (const auto& [name, value] : op.fields.items()) {
        const Column* column = relation.find(name);
        if (!column) {
          if (options.create_table) continue;  // added on the write, as text or its declared type
          no_such_column(relation, name);
        }
        if (auto problem = value_problem(*column, value); !problem.empty()) return problem;
      }
      return "";
    });
  }

  std::vector<SchemaChange> schema_plan(const ObjectRef& object, const std::vector<DeclaredField>& fields) override {
    const EndpointOptions options = parse_options(object);
    if (!options.query.empty()) read_only_query(object);
    relations_.clear();  // the table as it is now, not as this connector first saw it
    return guarded([&] {
      std::vector<SchemaChange> changes;
      const Relation& relation = relation_of(object, options);
      if (!relation.exists) {
        // A new table: the key columns first (text unless declared), then the declared fields.
        for (const auto& name : new_table_key(object, options)) {
          auto declared = std::find_if(fields.begin(), fields.end(), [&](const auto& f) { return f.name == name; });
          if (declared != fields.end()) continue;
          changes.push_back(create_change(name, "text", true, true));
        }
        const auto key = new_table_key(object, options);
        for (const auto& field : fields)
          changes.push_back(create_change(field.name, postgres::column_type_for(field.type), true,
                                          std::find(key.begin(), key.end(), field.name) != key.end()));
        return changes;
      }
      for (const auto& field : fields) {
        const std::string type = postgres::column_type_for(field.type);
        const Column* column = relation.find(field.name);
        if (!column) {
          changes.push_back(create_change(field.name, type, false, false));
        } else if (!postgres::column_holds(field.type, column->type, column->category)) {
          SchemaChange change;
          change.kind = SchemaChange::Kind::alter;
          change.field = field.name;
          change.summary = type + " (was " + column->sql_type + ")";
          change.definition = {{"type", type}, {"was", column->sql_type}};
          changes.push_back(std::move(change));
        }
      }
      return changes;
    });
  }

  void schema_apply(const ObjectRef& object, const std::vector<SchemaChange>& changes) override {
    const EndpointOptions options = parse_options(object);
    if (!options.query.empty()) read_only_query(object);
    guarded([&] {
      Connection& db = conn();
      const std::string table = qualified_table(object, options);
      db.exec("BEGIN");
      try {
        const bool new_table = std::any_of(changes.begin(), changes.end(), [](const auto& c) {
          return c.definition.value("new_table", false);
        });
        if (new_table) {
          std::vector<std::string> columns, key;
          for (const auto& change : changes) {
            columns.push_back(quote_identifier(change.field) + " " + change.definition.value("type", "text"));
            if (change.definition.value("key", false)) key.push_back(quote_identifier(change.field));
          }
          if (!key.empty()) columns.push_back("PRIMARY KEY (" + comma_list(key) + ")");
          db.exec("CREATE TABLE " + table + " (" + comma_list(columns) + ")");
        } else {
          for (const auto& change : changes) {
            const std::string column = quote_identifier(change.field);
            const std::string type = change.definition.value("type", "text");
            if (change.kind == SchemaChange::Kind::create)
              db.exec("ALTER TABLE " + table + " ADD COLUMN " + column + " " + type);
            else
              db.exec("ALTER TABLE " + table + " ALTER COLUMN " + column + " TYPE " + type + " USING " + column +
                      "::" + type);
          }
        }
        db.exec("COMMIT");
      } catch (...) {
        db.rollback_quietly();
        relations_.clear();
        throw;
      }
      relations_.clear();
    });
  }

 private:
  // Applies one write() batch inside the caller's transaction: ops are grouped into statements
  // by kind and field set; a statement that a row's values break is split in halves under a
  // savepoint until the row stands alone with its error.
  struct Writer {
    PostgresConnector& self;
    Connection& db;
    const ObjectRef& object;
    const EndpointOptions& options;
    const Relation& relation;
    std::vector<std::string> key;
    const std::vector<WriteOp>& ops;
    std::vector<WriteResult>& results;
    // Each op's key value as its native id (nullopt when a key column has no value), worked out once.
    std::vector<std::optional<std::string>> key_texts{};

    std::string table() const { return relation.from; }
    const std::string& soft_delete() const { return options.soft_delete_column; }

    void run() {
      // Waves in which no key repeats, so that one statement never touches a row twice and
      // ops on the same key keep their order.
      key_texts.reserve(ops.size());
      for (const auto& op : ops) key_texts.push_back(key_value_text(op.fields));
      std::vector<std::size_t> wave;
      std::set<std::string> keys;
      auto flush = [&] {
        std::map<std::string, std::vector<std::size_t>> groups;
        for (auto i : wave) groups[group_of(ops[i])].push_back(i);
        for (auto& [group, indices] : groups) apply(indices);
        wave.clear();
        keys.clear();
      };
      for (std::size_t i = 0; i < ops.size(); ++i) {
        if (auto problem = precheck(i); !problem.empty()) {
          results[i] = row_error(problem);
          continue;
        }
        std::string identity = identity_of(i);
        if (!keys.insert(identity).second) {
          flush();
          keys.insert(identity);
        }
        wave.push_back(i);
      }
      flush();
    }

    // What makes two ops share a statement: the kind and the fields written.
    static std::string group_of(const WriteOp& op) {
      std::string group = to_string(op.kind);
      if (op.kind == OpKind::create || op.kind == OpKind::upsert || op.kind == OpKind::update)
        for (const auto& [name, value] : op.fields.items()) group += '\x1f' + name;
      return group;
    }

    std::string identity_of(std::size_t i) const {
      if (!ops[i].id.empty()) return ops[i].id;
      return key_texts[i].value_or("\x01" + std::to_string(i));  // no key: a row of its own
    }

    // The key's value in a record's fields as the row's native id; nullopt when a part is missing.
    std::optional<std::string> key_value_text(const Json& fields) const {
      if (!fields.is_object()) return std::nullopt;
      Json parts = Json::array();
      for (const auto& name : key) {
        auto it = fields.find(name);
        if (it == fields.end() || it->is_null()) return std::nullopt;
        parts.push_back(*it);
      }
      return key.size() == 1 ? value_text(parts[0]) : util::json_dump(parts);
    }

    bool key_generated() const {
      return key.size() == 1 && relation.find(key[0]) && relation.find(key[0])->has_default;
    }

    std::string precheck(std::size_t i) const {
      const WriteOp& op = ops[i];
      if (op.fields.is_object() && op.kind != OpKind::remove && op.kind != OpKind::archive)
        for (const auto& [name, value] : op.fields.items())
          if (const Column* column = relation.find(name))
            if (auto problem = value_problem(*column, value); !problem.empty()) return problem;
      switch (op.kind) {
        case OpKind::create:
          if (!key_texts[i] && !key_generated()) return "missing key field '" + util::join(key, "', '") + "'";
          return "";
        case OpKind::upsert:
          if (!key_texts[i]) return "missing key field '" + util::join(key, "', '") + "'";
          return "";
        case OpKind::update:
        case OpKind::remove:
        case OpKind::archive:
          if (op.id.empty()) return std::string(to_string(op.kind)) + " without a row id";
          if (!self.id_object(key, op.id)) return "bad row id '" + op.id + "': expected a JSON array of " +
                                                   std::to_string(key.size()) + " key values";
          if (op.kind == OpKind::archive && soft_delete().empty())
            return "archiving needs `soft_delete_column` on the destination";
          return "";
      }
      return "unknown operation";
    }

    // Runs the ops of one group, splitting it while a row's values make the statement fail.
    void apply(const std::vector<std::size_t>& indices) {
      if (indices.empty()) return;
      try {
        db.exec(std::string("SAVEPOINT ") + kSavepoint);
        statement(indices);
        db.exec(std::string("RELEASE SAVEPOINT ") + kSavepoint);
      } catch (const PgError& e) {
        if (!e.row_level()) throw;
        db.exec(std::string("ROLLBACK TO SAVEPOINT ") + kSavepoint + "; RELEASE SAVEPOINT " + kSavepoint);
        if (indices.size() == 1) {
          results[indices[0]] = row_error(e.what());
          return;
        }
        const auto half = static_cast<std::ptrdiff_t>(indices.size() / 2);
        apply({indices.begin(), indices.begin() + half});
        apply({indices.begin() + half, indices.end()});
      }
    }

    std::vector<std::string> written_columns(const WriteOp& op) const {
      std::vector<std::string> columns;
      for (const auto& [name, value] : op.fields.items()) columns.push_back(name);
      return columns;
    }

    // Writing a record makes it live again unless the write sets the stamp itself.
    bool revives(const WriteOp& op) const {
      return !soft_delete().empty() && relation.find(soft_delete()) && !op.fields.contains(soft_delete());
    }

    std::string assignments(const std::vector<std::string>& columns, bool skip_key, const std::string& from,
                            bool revive) const {
      std::vector<std::string> set;
      for (const auto& column : columns) {
        if (skip_key && std::find(key.begin(), key.end(), column) != key.end()) continue;
        set.push_back(quote_identifier(column) + " = " + from + "." + quote_identifier(column));
      }
      if (revive) set.push_back(quote_identifier(soft_delete()) + " = NULL");
      return comma_list(set);
    }

    void statement(const std::vector<std::size_t>& indices) {
      const WriteOp& first = ops[indices[0]];
      switch (first.kind) {
        case OpKind::create:
          return create(indices);
        case OpKind::upsert:
          return upsert(indices);
        case OpKind::update:
          return update(indices);
        case OpKind::remove:
        case OpKind::archive:
          return remove(indices);
      }
    }

    // The op's fields as written: an empty text goes into a column that cannot hold one (a
    // number, a date, a boolean: an empty CSV cell) as NULL. The engine counts "" and null as
    // equal, so later runs see no change.
    bool blank_to_null(const std::string& name, const Json& value) const {
      if (!value.is_string() || !value.get_ref<const std::string&>().empty()) return false;
      const Column* column = relation.find(name);
      return column && column->category != 'S' && column->type != postgres::oid::json &&
             column->type != postgres::oid::jsonb;
    }

    // A double goes into a text column as its canonical decimal: the JSON form would store
    // 1e16 as "1e+16".
    bool float_to_text(const std::string& name, const Json& value) const {
      if (!value.is_number_float()) return false;
      const Column* column = relation.find(name);
      return column && column->category == 'S';
    }

    // A whole double goes into an integer column as an integer: the server reads "3.0" as no
    // integer at all. (precheck() refused the doubles that are not whole or out of range.)
    bool float_to_integer(const std::string& name, const Json& value) const {
      if (!value.is_number_float()) return false;
      const Column* column = relation.find(name);
      return column && (column->type == postgres::oid::int2 || column->type == postgres::oid::int4 ||
                        column->type == postgres::oid::int8);
    }

    bool rewritten(const std::string& name, const Json& value) const {
      return blank_to_null(name, value) || float_to_text(name, value) || float_to_integer(name, value);
    }

    Json written_fields(const WriteOp& op) const {
      Json fields = op.fields;
      for (auto& [name, value] : fields.items()) {
        if (blank_to_null(name, value)) value = nullptr;
        else if (float_to_text(name, value)) value = value_text(value);
        else if (float_to_integer(name, value)) value = Json::parse(value_text(value));
      }
      return fields;
    }

    // The op's fields as JSON text, copied only when a value has to change.
    std::string written_text(const WriteOp& op) const {
      for (const auto& [name, value] : op.fields.items())
        if (rewritten(name, value)) return util::json_dump(written_fields(op));
      return util::json_dump(op.fields);
    }

    std::string fields_array(const std::vector<std::size_t>& indices) const {
      std::string rows = "[";
      for (auto i : indices) {
        if (rows.size() > 1) rows += ',';
        rows += written_text(ops[i]);
      }
      return rows + "]";
    }

    // [{"k": {key columns}, "f": {fields}}...] for ops addressed by their row id.
    std::string addressed_array(const std::vector<std::size_t>& indices, bool with_fields) const {
      Json rows = Json::array();
      for (auto i : indices) {
        Json row = {{"k", *self.id_object(key, ops[i].id)}};
        if (with_fields) row["f"] = written_fields(ops[i]);
        rows.push_back(std::move(row));
      }
      return util::json_dump(rows);
    }

    std::string quoted(const std::vector<std::string>& columns, const std::string& prefix) const {
      std::vector<std::string> list;
      for (const auto& column : columns) list.push_back(prefix + quote_identifier(column));
      return comma_list(list);
    }

    void create(const std::vector<std::size_t>& indices) {
      const WriteOp& first = ops[indices[0]];
      const auto columns = written_columns(first);
      const bool generated = std::any_of(indices.begin(), indices.end(),
                                         [&](std::size_t i) { return !key_texts[i]; });
      if (generated) {
        // The key is generated by the table: one row at a time, to learn each new id.
        for (auto i : indices) {
          Result row = columns.empty()
                           ? db.exec("INSERT INTO " + table() + " DEFAULT VALUES RETURNING " + quoted(key, ""))
                           : db.exec_prepared("INSERT INTO " + table() + " (" + quoted(columns, "") + ") SELECT " +
                                         quoted(columns, "src.") + " FROM json_populate_record(NULL::" + table() +
                                         ", $1::json) AS src RETURNING " + quoted(key, ""),
                                     {written_text(ops[i])});
          results[i] = row_ok(row.text(0, 0).value_or(""));
        }
        return;
      }
      db.exec_prepared("INSERT INTO " + table() + " (" + quoted(columns, "") + ") SELECT " + quoted(columns, "src.") +
                  " FROM json_populate_recordset(NULL::" + table() + ", $1::json) AS src",
              {fields_array(indices)});
      for (auto i : indices) results[i] = row_ok(*key_texts[i]);
    }

    void upsert(const std::vector<std::size_t>& indices) {
      const WriteOp& first = ops[indices[0]];
      const auto columns = written_columns(first);
      const bool revive = revives(first);
      const std::string rows = "json_populate_recordset(NULL::" + table() + ", $1::json)";
      if (relation.unique(key)) {
        const std::string set = assignments(columns, true, "EXCLUDED", revive);
        db.exec_prepared("INSERT INTO " + table() + " (" + quoted(columns, "") + ") SELECT " + quoted(columns, "src.") +
                    " FROM " + rows + " AS src ON CONFLICT (" + quoted(key, "") + ") DO " +
                    (set.empty() ? "NOTHING" : "UPDATE SET " + set),
                {fields_array(indices)});
      } else {
        // No unique index to conflict on: update the rows with the key, insert the others.
        std::string set = assignments(columns, true, "src", revive);
        if (set.empty()) set = quote_identifier(key[0]) + " = dst." + quote_identifier(key[0]);
        db.exec_prepared("WITH src AS (SELECT * FROM " + rows + "), updated AS (UPDATE " + table() + " AS dst SET " + set +
                    " FROM src WHERE " + key_match(key, "dst", "src") + " RETURNING " + quoted(key, "dst.") +
                    ") INSERT INTO " + table() + " (" + quoted(columns, "") + ") SELECT " + quoted(columns, "src.") +
                    " FROM src WHERE NOT EXISTS (SELECT 1 FROM updated WHERE " + key_match(key, "updated", "src") +
                    ")",
                {fields_array(indices)});
      }
      for (auto i : indices) results[i] = row_ok(*key_texts[i]);
    }

    // The ops of `indices` whose rows a statement returned (by 1-based position) are done; the
    // others name a row that does not exist.
    void settle(const std::vector<std::size_t>& indices, const Result& done) {
      std::vector<bool> found(indices.size(), false);
      for (int r = 0; r < done.rows(); ++r) {
        auto n = std::stoul(std::string(done.value(r, 0)));
        if (n >= 1 && n <= indices.size()) found[n - 1] = true;
      }
      for (std::size_t j = 0; j < indices.size(); ++j) {
        const WriteOp& op = ops[indices[j]];
        results[indices[j]] = found[j] ? row_ok(key_texts[indices[j]].value_or(op.id))
                                       : row_error("no row with " + util::join(key, ", ") + " = " + op.id);
      }
    }

    std::string addressed_from() const {
      return " FROM json_array_elements($1::json) WITH ORDINALITY AS e(doc, n), json_populate_record(NULL::" + table() +
             ", e.doc->'k') AS id";
    }

    void update(const std::vector<std::size_t>& indices) {
      const WriteOp& first = ops[indices[0]];
      const auto columns = written_columns(first);
      const std::string set = assignments(columns, false, "src", revives(first));
      if (set.empty()) {
        settle(indices, db.exec_prepared("SELECT e.n" + addressed_from() + " JOIN " + table() + " AS dst ON " +
                                    key_match(key, "dst", "id"),
                                {addressed_array(indices, false)}));
        return;
      }
      settle(indices, db.exec_prepared("UPDATE " + table() + " AS dst SET " + set + addressed_from() +
                                  ", json_populate_record(NULL::" + table() + ", e.doc->'f') AS src WHERE " +
                                  key_match(key, "dst", "id") + " RETURNING e.n",
                              {addressed_array(indices, true)}));
    }

    void remove(const std::vector<std::size_t>& indices) {
      if (!soft_delete().empty()) {
        // Keeps the first deletion time when a row is deleted twice.
        const std::string column = quote_identifier(soft_delete());
        db.exec_prepared("UPDATE " + table() + " AS dst SET " + column + " = COALESCE(dst." + column + ", $2)" +
                    addressed_from() + " WHERE " + key_match(key, "dst", "id"),
                {addressed_array(indices, false), self.stamp_now()});
      } else {
        db.exec_prepared("DELETE FROM " + table() + " AS dst USING json_array_elements($1::json) AS e(doc), "
                    "json_populate_record(NULL::" + table() + ", e.doc->'k') AS id WHERE " +
                    key_match(key, "dst", "id"),
                {addressed_array(indices, false)});
      }
      // No row affected: already gone, which is what was asked.
      for (auto i : indices) results[i] = row_ok(ops[i].id);
    }
  };

  std::string prefix() const { return "postgres: " + where_ + ": "; }

  // Why `column` cannot hold `value` exactly (numeric(10,2) and 1.005); "" when it can.
  static std::string value_problem(const Column& column, const Json& value) {
    if (postgres::column_holds_value(column.type, column.typmod, value)) return "";
    return "column " + column.name + " (" + column.sql_type + ") cannot hold " + value_text(value) + " exactly";
  }

  // Runs `body`, turning libpq errors into classified connector errors.
  template <typename Body>
  auto guarded(Body&& body) -> decltype(body()) {
    try {
      return body();
    } catch (const PgError& e) {
      if (e.connection_lost() || (main_ && !main_->healthy())) main_.reset();
      if (e.connection_lost() || (reader_ && !reader_->healthy())) reader_.reset();
      throw ConnectorError(e.transient() ? ErrorKind::transient : ErrorKind::config,
                           redactor_.apply(prefix() + e.what()));
    }
  }

  std::string stamp_now() const { return util::format_iso8601(clock_->now_ms()); }

  // Opens a connection; a server that cannot be reached before the first success is a
  // configuration problem (wrong URL, server down, bad password), later a transient one.
  std::unique_ptr<Connection> open() {
    try {
      auto connection = std::make_unique<Connection>(url_, overrides_);
      std::string settings = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'iso_8601'";
      if (statement_timeout_ms_ > 0) settings += "; SET statement_timeout = " + std::to_string(statement_timeout_ms_);
      // Unqualified names in a `query` resolve in the connection's schema first.
      if (!schema_.empty()) settings += "; SET search_path TO " + quote_identifier(schema_) + ", public";
      connection->exec(settings);
      connected_once_ = true;
      return connection;
    } catch (const PgError& e) {
      std::string message = redactor_.apply(prefix() + "cannot connect: " + e.what());
      throw ConnectorError(connected_once_ ? ErrorKind::transient : ErrorKind::config, message);
    }
  }

  Connection& conn() {
    if (!main_ || !main_->healthy()) {
      main_.reset();
      main_ = open();
    }
    return *main_;
  }

  // Reads stream through a server-side cursor on a connection of their own, so that the
  // engine may write (even to this database) while a read is open.
  Connection& read_conn() {
    if (!reader_ || !reader_->healthy()) {
      reader_.reset();
      reader_ = open();
    }
    return *reader_;
  }

  const std::string& default_schema() {
    if (!schema_.empty()) return schema_;
    Result result = conn().exec("SELECT current_schema()");
    if (result.rows() == 0 || result.is_null(0, 0))
      throw ConnectorError(ErrorKind::config, prefix() + "no current schema (search_path names no existing schema); "
                                                         "set `schema` on the connection");
    schema_ = std::string(result.value(0, 0));
    return schema_;
  }

  std::string schema_of(const EndpointOptions& options) {
    return options.schema.empty() ? default_schema() : options.schema;
  }

  std::string qualified_table(const ObjectRef& object, const EndpointOptions& options) {
    return quote_identifier(schema_of(options)) + "." + quote_identifier(object.name);
  }

  [[noreturn]] void no_such_table(const ObjectRef& object, const EndpointOptions& options) {
    std::string message = prefix() + "no such table: " + schema_of(options) + "." + object.name;
    if (auto dot = object.name.find('.'); dot != std::string::npos && options.schema.empty())
      message += " (for table '" + object.name.substr(dot + 1) + "' in schema '" + object.name.substr(0, dot) +
                 "', set schema = \"" + object.name.substr(0, dot) + "\" and object = \"" +
                 object.name.substr(dot + 1) + "\")";
    throw ConnectorError(ErrorKind::config, message);
  }

  [[noreturn]] void no_such_column(const Relation& relation, const std::string& column) const {
    std::string message = prefix() + (relation.is_query ? "query " : "table ") + relation.name + " has no column '" +
                          column + "'";
    if (auto hint = util::closest_match(column, relation.names()); !hint.empty())
      message += " (did you mean '" + hint + "'?)";
    throw ConnectorError(ErrorKind::config, message);
  }

  [[noreturn]] void read_only_query(const ObjectRef& object) const {
    throw ConnectorError(ErrorKind::config, prefix() + object.name +
                                                ": a `query` is read-only; a destination needs a table (object = "
                                                "\"table_name\")");
  }

  // The column an option names (nullptr when the option is not set), or a config error.
  const Column* named_column(const Relation& relation, const std::string& name, const char* option) const {
    if (name.empty()) return nullptr;
    if (const Column* column = relation.find(name)) return column;
    std::string message = prefix() + "`" + option + "`: " + (relation.is_query ? "query " : "table ") + relation.name +
                          " has no column '" + name + "'";
    if (auto hint = util::closest_match(name, relation.names()); !hint.empty())
      message += " (did you mean '" + hint + "'?)";
    throw ConnectorError(ErrorKind::config, message);
  }

  // The engine asks once per row (write_problem): the last object's options are kept.
  const EndpointOptions& parse_options(const ObjectRef& object) {
    if (!parsed_for_ || parsed_name_ != object.name || parsed_json_ != object.options) {
      parsed_ = read_options(object);
      parsed_for_ = true;
      parsed_name_ = object.name;
      parsed_json_ = object.options;
    }
    return parsed_;
  }

  EndpointOptions read_options(const ObjectRef& object) const {
    EndpointOptions options;
    const auto where = prefix() + "object '" + object.name + "': ";
    if (!object.options.is_object()) return options;
    auto text = [&](const char* key, std::string& out) {
      auto it = object.options.find(key);
      if (it == object.options.end()) return;
      if (!it->is_string() || it->get<std::string>().empty())
        throw ConnectorError(ErrorKind::config, where + "`" + key + "` must be a non-empty string", key);
      out = it->get<std::string>();
    };
    text("schema", options.schema);
    text("query", options.query);
    if (!options.query.empty()) {
      options.query = strip_trailing_semicolons(options.query);
      if (options.query.empty())
        throw ConnectorError(ErrorKind::config, where + "`query` must be a SELECT statement", "query");
    }
    text("cursor_column", options.cursor_column);
    text("soft_delete_column", options.soft_delete_column);
    if (auto it = object.options.find("key_columns"); it != object.options.end()) {
      bool ok = it->is_array() && !it->empty();
      if (ok)
        for (const auto& item : *it) ok = ok && item.is_string() && !item.get<std::string>().empty();
      if (!ok)
        throw ConnectorError(ErrorKind::config, where + "`key_columns` must be a list of column names", "key_columns");
      for (const auto& item : *it) options.key_columns.push_back(item.get<std::string>());
    }
    options.create_table = endpoint_flag(kVendor, object, "create_table", false);
    options.lookback_ms = endpoint_duration_ms(kVendor, object, "lookback", kDefaultLookbackMs);
    if (!options.query.empty() && options.create_table)
      throw ConnectorError(ErrorKind::config, where + "`create_table` cannot go with a `query`", "create_table");
    return options;
  }

  static EndpointOptions lenient_options(const ObjectRef& object) {
    EndpointOptions options;
    options.cursor_column = endpoint_text(object, "cursor_column");
    options.soft_delete_column = endpoint_text(object, "soft_delete_column");
    options.query = endpoint_text(object, "query");
    return options;
  }

  // The key columns: key_columns, else the sync's key field, else the table's primary key.
  std::vector<std::string> key_columns(const ObjectRef& object, const EndpointOptions& options,
                                       const Relation& relation) const {
    std::vector<std::string> key = options.key_columns;
    if (key.empty() && !object.key_field.empty()) key.push_back(object.key_field);
    if (key.empty() && !relation.unique_sets.empty()) key = relation.unique_sets.front();
    if (key.empty())
      throw ConnectorError(ErrorKind::config, prefix() + relation.name +
                                                  ": no key column; set `key` (or `key_columns`) on the endpoint");
    for (const auto& name : key)
      if (!relation.find(name)) no_such_column(relation, name);
    return key;
  }

  std::vector<std::string> new_table_key(const ObjectRef& object, const EndpointOptions& options) const {
    if (!options.key_columns.empty()) return options.key_columns;
    if (!object.key_field.empty()) return {object.key_field};
    throw ConnectorError(ErrorKind::config,
                         prefix() + object.name + ": creating the table needs a key field (`key` or `key_columns`)");
  }

  static SchemaChange create_change(const std::string& field, const std::string& type, bool new_table, bool key) {
    SchemaChange change;
    change.kind = SchemaChange::Kind::create;
    change.field = field;
    change.summary = type + (key ? ", primary key" : "") + (new_table ? " (new table)" : "");
    change.definition = {{"type", type}};
    if (new_table) change.definition["new_table"] = true;
    if (key) change.definition["key"] = true;
    return change;
  }

  // A native id as {key column: value}; composite ids are JSON arrays of the values.
  std::optional<Json> id_object(const std::vector<std::string>& key, const std::string& id) const {
    Json object = Json::object();
    if (key.size() == 1) {
      object[key[0]] = id;
      return object;
    }
    auto parts = Json::parse(id, nullptr, false);
    if (parts.is_discarded() || !parts.is_array() || parts.size() != key.size()) return std::nullopt;
    for (std::size_t i = 0; i < key.size(); ++i) object[key[i]] = parts[i];
    return object;
  }

  static std::string qualified_list(const std::vector<std::string>& columns, const std::string& prefix) {
    std::vector<std::string> list;
    for (const auto& column : columns) list.push_back(prefix + quote_identifier(column));
    return comma_list(list);
  }

  const Relation& relation_of(const ObjectRef& object, const EndpointOptions& options) {
    const std::string cache_key = options.query.empty() ? schema_of(options) + '\x1f' + object.name
                                                        : "\x1fquery\x1f" + options.query;
    if (auto it = relations_.find(cache_key); it != relations_.end()) return it->second;
    Relation relation = options.query.empty() ? load_table(object, options) : load_query(object, options);
    return relations_.emplace(cache_key, std::move(relation)).first->second;
  }

  Relation load_table(const ObjectRef& object, const EndpointOptions& options) {
    Connection& db = conn();
    Relation relation;
    relation.name = schema_of(options) + "." + object.name;
    relation.from = qualified_table(object, options);
    Result oid = db.exec("SELECT to_regclass($1)::oid", {relation.from});
    if (oid.rows() == 0 || oid.is_null(0, 0)) return relation;
    relation.exists = true;
    const std::string relid(oid.value(0, 0));
    relation.oid = relid;
    Result columns = db.exec(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.atttypid, t.typcategory, a.attnotnull, "
        "a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '', a.atttypmod "
        "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
        "WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        {relid});
    for (int r = 0; r < columns.rows(); ++r) {
      Column column;
      column.name = std::string(columns.value(r, 0));
      column.sql_type = std::string(columns.value(r, 1));
      column.type = static_cast<Oid>(std::stoul(std::string(columns.value(r, 2))));
      column.category = columns.value(r, 3).empty() ? 'U' : columns.value(r, 3)[0];
      column.not_null = columns.value(r, 4) == "t";
      column.has_default = columns.value(r, 5) == "t";
      column.typmod = std::stoi(std::string(columns.value(r, 6)));
      relation.columns.push_back(std::move(column));
    }
    // Unique indexes that ON CONFLICT can use: not partial, not on expressions, not deferrable.
    Result indexes = db.exec(
        "SELECT array_to_json(ARRAY(SELECT a.attname FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n) "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.n)) "
        "FROM pg_index i WHERE i.indrelid = $1::oid AND i.indisunique AND i.indimmediate AND i.indpred IS NULL "
        "AND i.indexprs IS NULL ORDER BY i.indisprimary DESC, i.indexrelid",
        {relid});
    for (int r = 0; r < indexes.rows(); ++r)
      relation.unique_sets.push_back(Json::parse(indexes.value(r, 0)).get<std::vector<std::string>>());
    return relation;
  }

  Relation load_query(const ObjectRef& object, const EndpointOptions& options) {
    Connection& db = conn();
    Relation relation;
    relation.exists = true;
    relation.is_query = true;
    relation.name = "'" + object.name + "'";
    relation.from = "(" + options.query + ") AS " + quote_identifier(object.name);
    Result shape = db.exec("SELECT * FROM " + relation.from + " LIMIT 0");
    std::vector<std::string> oids;
    for (int c = 0; c < shape.columns(); ++c) {
      Column column;
      column.name = shape.column_name(c);
      column.type = shape.column_type(c);
      if (relation.find(column.name))
        throw ConnectorError(ErrorKind::config, prefix() + "query '" + object.name + "' returns two columns named '" +
                                                    column.name + "'; give them distinct names with AS");
      oids.push_back(std::to_string(column.type));
      relation.columns.push_back(std::move(column));
    }
    Result types = db.exec("SELECT oid, typcategory, format_type(oid, NULL) FROM pg_type WHERE oid = ANY($1::oid[])",
                           {"{" + util::join(oids, ",") + "}"});
    for (int r = 0; r < types.rows(); ++r) {
      const auto type = static_cast<Oid>(std::stoul(std::string(types.value(r, 0))));
      for (auto& column : relation.columns)
        if (column.type == type) {
          column.category = types.value(r, 1).empty() ? 'U' : types.value(r, 1)[0];
          column.sql_type = std::string(types.value(r, 2));
        }
    }
    return relation;
  }

  // The columns a read returns: the requested fields (those a table created on write does not
  // have yet are left out), or all.
  std::vector<const Column*> wanted_columns(const EndpointOptions& options,
                                            const Relation& relation, const std::vector<std::string>& fields) const {
    std::vector<const Column*> columns;
    if (fields.empty()) {
      for (const auto& column : relation.columns) columns.push_back(&column);
      return columns;
    }
    for (const auto& field : fields) {
      if (const Column* column = relation.find(field)) {
        if (std::find(columns.begin(), columns.end(), column) == columns.end()) columns.push_back(column);
      } else if (!options.create_table) {
        no_such_column(relation, field);
      }
    }
    return columns;
  }

  // When a row counts as modified: the cursor column, or the soft-delete stamp when later.
  static std::string modified_expression(const EndpointOptions& options) {
    const auto cursor = quote_identifier(options.cursor_column);
    if (options.soft_delete_column.empty()) return cursor;
    return "GREATEST(" + cursor + ", " + quote_identifier(options.soft_delete_column) + ")";
  }

  // `since` moved back by the lookback, for date/time cursors; nullopt when nothing changes.
  static std::optional<std::string> looked_back(const std::string& since, const Column& cursor,
                                                std::int64_t lookback_ms) {
    if (lookback_ms <= 0 || cursor.category != 'D') return std::nullopt;
    auto ms = util::parse_iso8601(since);
    if (!ms) return std::nullopt;
    auto earlier = util::format_iso8601(*ms - lookback_ms);
    if (cursor.type != postgres::oid::timestamptz && !earlier.empty() && earlier.back() == 'Z') earlier.pop_back();
    return earlier;
  }

  // The wanted fields, then the hidden key / modified / deleted columns make_record reads.
  static std::string select_list(const std::vector<const Column*>& columns, const std::vector<std::string>& key,
                                 const EndpointOptions& options) {
    std::vector<std::string> list;
    for (const Column* column : columns) {
      const auto name = quote_identifier(column->name);
      list.push_back(postgres::read_as_json(column->category) ? "to_json(" + name + ") AS " + name : name);
    }
    for (std::size_t i = 0; i < key.size(); ++i)
      list.push_back(quote_identifier(key[i]) + " AS " + quote_identifier(kKeyAlias + std::to_string(i)));
    if (!options.cursor_column.empty())
      list.push_back(modified_expression(options) + " AS " + quote_identifier(kModifiedAlias));
    if (!options.soft_delete_column.empty())
      list.push_back(quote_identifier(options.soft_delete_column) + " AS " + quote_identifier(kDeletedAlias));
    return comma_list(list);
  }

  static Json column_json(const Result& rows, int r, int c, const Column* column) {
    if (rows.is_null(r, c)) return nullptr;
    return postgres::to_json(column ? column->kind() : ValueKind::text, rows.value(r, c));
  }

  static Record make_record(const Result& rows, int r, const std::vector<const Column*>& columns,
                            const std::vector<std::string>& key, const Relation& relation,
                            const EndpointOptions& options) {
    Record record;
    int c = 0;
    for (const Column* column : columns) record.fields[column->name] = column_json(rows, r, c++, column);
    if (key.size() == 1) {
      record.id = value_text(column_json(rows, r, c++, relation.find(key[0])));
    } else {
      Json parts = Json::array();
      for (const auto& name : key) parts.push_back(column_json(rows, r, c++, relation.find(name)));
      record.id = util::json_dump(parts);
    }
    if (!options.cursor_column.empty()) {
      if (!rows.is_null(r, c)) {
        const Column* cursor = relation.find(options.cursor_column);
        auto kind = cursor ? cursor->kind() : ValueKind::text;
        std::string text(rows.value(r, c));
        record.modified_at = kind == ValueKind::timestamptz || kind == ValueKind::timestamp
                                 ? postgres::iso_timestamp(text, true)
                                 : text;
      }
      ++c;
    }
    if (!options.soft_delete_column.empty()) record.deleted = !rows.is_null(r, c);
    return record;
  }

  void run_lookup(const std::string& sql, const std::vector<Param>& params, const std::vector<const Column*>& columns,
                  const std::vector<std::string>& key, const Relation& relation, const EndpointOptions& options,
                  std::vector<Record>& found) {
    Result rows = conn().exec(sql, params);
    for (int r = 0; r < rows.rows(); ++r) found.push_back(make_record(rows, r, columns, key, relation, options));
  }

  // With create_table: creates the table (typed from the declared [schema], text otherwise)
  // or adds the columns it lacks, inside the write's transaction.
  void prepare_table(const ObjectRef& object, const EndpointOptions& options, const std::vector<WriteOp>& ops) {
    const auto key = new_table_key(object, options);
    std::vector<std::string> wanted = key;
    auto add = [&](const std::string& name) {
      if (std::find(wanted.begin(), wanted.end(), name) == wanted.end()) wanted.push_back(name);
    };
    // A declared "address.city" is a path into the column `address` (JSON text), not a column.
    for (const auto& field : object.schema)
      if (field.name.find('.') == std::string::npos) add(field.name);
    for (const auto& op : ops)
      if (op.fields.is_object())
        for (const auto& [name, value] : op.fields.items()) add(name);
    if (!options.soft_delete_column.empty()) add(options.soft_delete_column);
    auto type_of = [&](const std::string& name) -> std::string {
      if (name == options.soft_delete_column) return "timestamptz";
      for (const auto& field : object.schema)
        if (field.name == name) return postgres::column_type_for(field.type);
      return "text";
    };

    Connection& db = conn();
    const Relation& relation = relation_of(object, options);
    const std::string table = qualified_table(object, options);
    if (!relation.exists) {
      std::vector<std::string> columns;
      for (const auto& name : wanted) columns.push_back(quote_identifier(name) + " " + type_of(name));
      columns.push_back("PRIMARY KEY (" + qualified_list(key, "") + ")");
      db.exec("CREATE TABLE IF NOT EXISTS " + table + " (" + comma_list(columns) + ")");
    } else {
      bool added = false;
      for (const auto& name : wanted)
        if (!relation.find(name)) {
          db.exec("ALTER TABLE " + table + " ADD COLUMN IF NOT EXISTS " + quote_identifier(name) + " " + type_of(name));
          added = true;
        }
      if (!added) return;
    }
    relations_.clear();
  }

  const util::Clock* clock_;
  std::string url_;
  std::string where_;  // user@host:port/db, for messages
  std::string schema_;
  std::vector<std::pair<std::string, std::string>> overrides_;
  std::int64_t statement_timeout_ms_ = 0;
  net::RetryPolicy write_retry_;
  std::mt19937_64 random_{std::random_device{}()};
  std::function<void(const std::string&)> log_;
  net::Redactor redactor_;
  bool connected_once_ = false;
  std::map<std::string, Relation> relations_;
  bool parsed_for_ = false;
  std::string parsed_name_;
  Json parsed_json_;
  EndpointOptions parsed_;
  std::unique_ptr<Connection> main_;
  std::unique_ptr<Connection> reader_;
};

std::unique_ptr<Connector> make_postgres_connector(const ConnectionConfig& config) {
  return std::make_unique<PostgresConnector>(config);
}

std::string postgres_name_problem(const std::string& name) {
  if (name.empty()) return "a column needs a name";
  if (name.size() > 63) return "PostgreSQL cuts column names at 63 bytes";
  return "";
}

}  // namespace

const ConnectorType& postgres_connector_type() {
  static const ConnectorType type{
      .type = kVendor,
      .make = &make_postgres_connector,
      .connection_keys = {"url", "schema", "sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl", "sslpassword",
                          "connect_timeout", "statement_timeout", "application_name", "max_retries", "retry_for"},
      .required_connection_keys = {"url"},
      .source_keys = {"schema", "query", "cursor_column", "soft_delete_column", "key_columns", "lookback"},
      .destination_keys = {"schema", "soft_delete_column", "create_table", "key_columns"},
      .schema_mode = "columns",
      .schema_types = {"string", "number", "bool", "datetime", "email", "enumeration", "date", "multiselect", "json"},
      .schema_name_problem = &postgres_name_problem,
      .init_template =
          {
              .connection = R"(# postgresql://user:password@host:5432/db?sslmode=require (the password is a credential:
# keep it in the environment).
url = "${{ENV}_URL}"
# schema = "public"              # default: the server's current schema
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
