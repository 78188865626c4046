// The connector seam: the only view the engine has of a system it syncs.
//
// A connector adapts one kind of system (a CSV folder, a SQLite file, HubSpot...). It is made
// by a factory from a connection's settings (see registry.hpp) and serves one or more objects
// (a CSV file, a table, a CRM object type). Every virtual below states its contract; the
// conformance suite in tests/conformance/ checks each connector against it.
#pragma once

#include "connectors/row.hpp"

#include <nlohmann/json.hpp>

#include <any>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace synctool::connectors {

using Json = nlohmann::json;

// How an error is handled by the engine (DESIGN section 2).
enum class ErrorKind {
  config,     // bad credentials, unknown object or column: stop the run, exit 3
  transient,  // 429, 5xx, timeout, reset, busy database: retried, then the batch fails
  record,     // one row rejected by the system: counted, kept in `failed`, the run goes on
  quota,      // the system refuses more work for now (a daily API allowance): stop the run,
              // keep all progress, exit 3; retrying would only spin
};

const char* to_string(ErrorKind kind);

// Thrown by connector calls for errors that affect the whole call (not a single row).
// The message is complete and user-facing ("sqlite: /x/db.sqlite: no such table: contacts").
class ConnectorError : public std::runtime_error {
 public:
  ConnectorError(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  // `setting`: the connection or endpoint key whose value is at fault ("delimiter"), so that
  // `synctool check` can point at its line in the spec.
  ConnectorError(ErrorKind kind, const std::string& message, std::string setting)
      : std::runtime_error(message), kind_(kind), setting_(std::move(setting)) {}
  ErrorKind kind() const { return kind_; }
  // The key at fault, or "" when the error is not about one key.
  const std::string& setting() const { return setting_; }

 private:
  ErrorKind kind_;
  std::string setting_;
};

// One record as a connector sees it.
struct Record {
  std::string id;                  // native id, stable for the life of the record
  Json fields = Json::object();    // field name -> value; nested objects allowed
  // Instead of `fields`, where the reader asked for rows (ReadRequest::rows) and the connector
  // reads a table: the same fields, flat and typed; `fields` is then empty until
  // take_row_into_fields() moves them over.
  std::optional<Row> row;
  std::optional<std::string> modified_at;  // ISO 8601 or the connector's sortable cursor text
  bool deleted = false;            // a tombstone: only `id` (and maybe fields) is meaningful
  // Where the record was read, for messages about it ("line 17" of a CSV file); "" when the
  // id says it well enough.
  std::string origin;
  // Why the record could not be read whole (invalid UTF-8 on its line...): the engine rejects
  // it with this reason and writes nothing for it. "" for a good record.
  std::string problem;
};

// Builds `record.fields` from `record.row` (and drops the row); nothing when it has none.
void take_row_into_fields(Record& record);

// A field of the typed [schema] a sync declares for its destination.
struct DeclaredField {
  std::string name;
  // string, number, bool, date, datetime, email, enumeration, multiselect, json
  std::string type;
  std::vector<std::string> options;  // enumeration / multiselect values
};

// Which object is meant, with the endpoint's options from the spec ([source] / [destination]
// keys other than connection/object/fields/filter, e.g. query, cursor_column, list).
struct ObjectRef {
  std::string name;
  Json options = Json::object();
  // The field that identifies a row where the system has no native id of its own (CSV, SQL
  // tables without a declared key): the endpoint's `key` option, else the match field.
  std::string key_field;
  // True when synctool writes to the object (the destination, and both sides of a
  // bidirectional sync). A connector may then treat a missing object (a CSV file not created
  // yet) as empty and create it on the first write instead of failing.
  bool destination = false;
  // The fields the sync uses on this object (top-level names). lookup() returns at least
  // these; systems with wide records (a CRM's hundreds of properties) fetch only these.
  // Empty: every field.
  std::vector<std::string> fields;
  // The sync's declared [schema] (destination only): connectors that create tables or
  // columns give them these types.
  std::vector<DeclaredField> schema;
};

// The pseudo field that names a record's native id in lookup().
inline constexpr const char* kNativeIdField = "@id";

struct ReadRequest {
  std::vector<std::string> fields;   // wanted fields; empty means every field
  std::optional<std::string> since;  // nullopt: full scan; else records modified >= since
  std::size_t page_size = 0;         // 0: the connector's own default
  // The reader takes records as rows (Record::row) where the connector has its fields as a
  // table's cells. Only the engine's source read sets it; everyone else gets `fields`.
  bool rows = false;
};

struct Page {
  std::vector<Record> records;
  // A cursor that is safe to resume from once every record of this and earlier pages has
  // been applied. Empty when the connector has no incremental reads.
  std::string cursor;
};

// Receives pages in order. Throwing from the sink aborts the read and propagates.
using PageSink = std::function<void(Page&& page)>;

enum class OpKind { create, update, upsert, remove, archive };
const char* to_string(OpKind kind);

struct WriteOp {
  OpKind kind = OpKind::create;
  std::string key;      // the match key, for correlating results and for messages
  std::string id;       // native id for update / remove / archive; empty for create and upsert
  Json fields = Json::object();  // values to write (create, update, upsert)
  // What write_problem() built from these fields while checking them (the connector's own wire
  // form), left for write() so that it is not built twice; write() may move it out. Valid for
  // these fields and this kind only: whoever changes either clears it.
  mutable std::any prepared;
};

struct WriteResult {
  bool ok = false;
  std::string id;              // native id of the written record (create and upsert)
  ErrorKind error_kind = ErrorKind::record;
  std::string error;           // why it failed, naming the field or status where known
};

struct FieldInfo {
  std::string name;
  std::string type;  // string, number, bool, datetime, email, enumeration, json, unknown
  bool required = false;
  bool unique = false;
};

struct ObjectDescription {
  std::string name;
  std::vector<FieldInfo> fields;
  // Fields that are not listed may still be written: the system creates them on the first
  // write that uses them (a CSV destination's columns, a table with `create_table`). The
  // engine then checks no field names against the list.
  bool accepts_new_fields = false;
  // Field names compare without regard to case (SQL column names).
  bool case_insensitive = false;
};

// One difference between a declared schema and the system's fields.
struct SchemaChange {
  enum class Kind { create, alter } kind = Kind::create;
  std::string field;
  std::string summary;                 // "string (text)", "number (was string)"...
  Json definition = Json::object();    // what schema_apply() sends, connector-specific
};

// What a connector can do for an object; the engine falls back when something is missing.
struct Capabilities {
  bool incremental_read = false;  // honours ReadRequest::since
  bool tombstones = false;        // incremental reads emit deleted records
  bool native_upsert = false;     // OpKind::upsert is atomic on the system
  bool hard_delete = true;        // OpKind::remove is supported
  bool archive = false;           // OpKind::archive is supported (soft delete)
  std::size_t max_batch = 100;    // most ops per write() call
  std::size_t max_lookup = 100;   // most values per lookup() call
  bool schema_management = false; // schema_plan() / schema_apply() are supported
  // lookup() by the object's key field may miss records written less than this long ago (a
  // search index that lags behind writes). The engine waits it out before looking up the
  // creates an earlier run sent without hearing back, so that it never creates them twice.
  std::int64_t lookup_lag_ms = 0;
  // True when native ids are unique and stable: two records read under one id are one record
  // seen twice (a page repeated while paging) and collapse into one. False when the id is a
  // column's value that may repeat (a CSV key column, a SQL column without a unique
  // constraint): every repeat is then another record, and the engine rejects all of them as
  // duplicates of one match key.
  bool unique_ids = true;
  // read() may run on a thread of its own while the engine works through the pages already
  // read: the connector's read touches nothing the engine uses meanwhile (no state, no shared
  // connection). Local sources say so; API connectors, which may store a refreshed token in
  // the state while reading, do not.
  bool read_in_background = false;
  // write() (and write_problem()) may run on a thread of its own while the engine plans the
  // next batch; the engine never calls the connector from two threads at once, but the state
  // is in use on the other thread meanwhile, so a connector that may store a refreshed token
  // in the state (through its TokenCache) while writing must not say so.
  bool write_in_background = false;
};

// What a connection that talks HTTP sent: every attempt (retries included), the 429 answers
// it got back and the retries, for the run report and the metrics file.
struct RequestStats {
  std::uint64_t requests = 0;
  std::uint64_t throttled = 0;
  std::uint64_t retries = 0;
};

class Connector {
 public:
  virtual ~Connector() = default;

  // The connector type, e.g. "csv".
  virtual std::string type() const = 0;

  // Credentials valid and the connection reachable. Throws ConnectorError(config) with a
  // clear message otherwise; never lets a raw library error through.
  virtual void check() = 0;

  virtual Capabilities capabilities(const ObjectRef& object) const = 0;

  // Fields of the object with types; throws ConnectorError(config) for an unknown object.
  // Every field a record of the object can carry is listed (the engine refuses a sync that
  // names a field the object does not have), unless accepts_new_fields says otherwise.
  virtual ObjectDescription describe(const ObjectRef& object) = 0;

  // Proves that `object` can be reached with these credentials through the cheapest real read
  // the system offers (one record of a CRM object, a SELECT of no rows, the file's header).
  // Throws ConnectorError(config) for an unknown object, a refused credential or a missing
  // permission. The default calls describe().
  virtual void probe(const ObjectRef& object);

  // Checks the object's endpoint options (its [source] / [destination] keys) without any I/O;
  // throws ConnectorError(config) whose setting() names the key at fault. The default accepts
  // every option.
  virtual void check_options(const ObjectRef& object) const;

  // Streams the object's records to `sink` in pages. A full scan returns every live record;
  // with `since`, records modified at or after it (inclusive), plus tombstones where the
  // capabilities say so. Memory use is bounded by the page size, not the object size.
  virtual void read(const ObjectRef& object, const ReadRequest& request, const PageSink& sink) = 0;

  // Records whose `field` equals one of `values` (at most capabilities().max_lookup values).
  // Comparison is exact; callers pass normalized values for fields stored normalized.
  // `field` == kNativeIdField looks records up by native id (used to retry failed rows).
  virtual std::vector<Record> lookup(const ObjectRef& object, const std::string& field,
                                     const std::vector<std::string>& values) = 0;

  // Applies a batch (at most capabilities().max_batch ops) and returns one result per op, in
  // order. Row-level problems are results with ok=false; a failure of the whole call throws
  // ConnectorError. When write() returns, every ok result is durable on the system.
  // Deleting (remove / archive) a record that is already gone succeeds: the goal is reached,
  // and a run killed between a delete and its state commit must be able to repeat it.
  virtual std::vector<WriteResult> write(const ObjectRef& object, const std::vector<WriteOp>& ops) = 0;

  // Why the system would refuse this write, where that is known without asking it (a required
  // field without a value, an address it never takes); "" when nothing speaks against it. The
  // engine rejects such rows before writing, so `diff` predicts them and no request is spent on
  // them. Throws ConnectorError(config) when no row could be written (a field the object does
  // not have). The default knows nothing. It may leave what it built in `op.prepared`.
  virtual std::string write_problem(const ObjectRef& object, const WriteOp& op);

  // Optional (capabilities().schema_management): the changes that would make the object's
  // fields hold `fields` (create missing fields, alter fields whose type or options differ;
  // never drop anything). The default throws ConnectorError(config).
  virtual std::vector<SchemaChange> schema_plan(const ObjectRef& object, const std::vector<DeclaredField>& fields);
  // Applies changes from schema_plan(), in order; throws ConnectorError on the first failure.
  virtual void schema_apply(const ObjectRef& object, const std::vector<SchemaChange>& changes);

  // The HTTP requests this connector sent since it was made; nullopt for one that sends none
  // (files, databases). Never throws.
  virtual std::optional<RequestStats> request_stats() const { return std::nullopt; }
};

}  // namespace synctool::connectors
