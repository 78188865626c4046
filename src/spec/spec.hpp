// The sync specification: synctool.toml (project) and syncs/NAME.toml (one sync each).
// Plain data; loader.hpp builds and validates it.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace synctool::spec {

struct Location {
  std::string file;
  int line = 0;
  int column = 0;
};

// One problem of a spec, where it is.
struct SpecProblem {
  Location where;
  std::string message;
  std::string to_string() const;  // "file:line:col: message" (parts that are unknown omitted)
};

struct ConnectionSpec {
  std::string name;
  std::string type;
  nlohmann::json settings = nlohmann::json::object();  // every key but `type`, ${ENV} resolved
  Location where;
  // Where each key of the [connections.NAME] table is written (`type` included), so that a
  // value refused later (by the connector) can be pointed at.
  std::map<std::string, Location> key_where = {};
  // What is wrong with the table (an unset ${VARIABLE}, an unknown type or key, a bad value).
  // A connection with problems does not fail the project: it fails each sync that uses it
  // (load_sync reports these at that sync's `connection` line), and `synctool check` reports
  // it even when no sync uses it. `settings` then holds only the keys that could be read.
  std::vector<SpecProblem> problems = {};
};

struct ProjectSpec {
  std::filesystem::path file;       // synctool.toml
  std::filesystem::path base_dir;   // its folder; relative paths resolve against it
  std::filesystem::path state_dir;  // absolute
  std::filesystem::path syncs_dir;  // absolute, default <base_dir>/syncs
  std::map<std::string, ConnectionSpec> connections;
  // metrics_dir: each run writes synctool_<sync>.prom here (absolute); empty: no metrics.
  std::filesystem::path metrics_dir;
  // [notify]: where a sync's change of health is posted. An empty url (${WEBHOOK:-} unset)
  // posts nothing. The url is always among the secrets.
  struct Notify {
    std::string url;
    std::vector<std::string> on;  // events: failing, recovered, safeguard, degraded
  } notify;
  // Values that came from ${ENV} interpolation in secret-looking connection keys (names
  // containing token, key, password or secret; `url`; `dsn`): each substituted value and the
  // whole resulting value. Redacted from every output.
  std::vector<std::string> secrets;
};

enum class Direction { one_way, bidirectional };
enum class Mode { upsert, mirror, append };
enum class DeletePropagation { ignore, archive, remove };
enum class ConflictStrategy { most_recent_wins, source_wins, destination_wins, manual };

struct EndpointSpec {
  std::string connection;
  std::string object;
  std::vector<std::string> fields;  // source: fields to read (empty: all); dest: ignored
  std::string filter;               // inclusion expression over source fields ("" = all)
  Location filter_where;
  std::string key;                  // identifying field for id-less systems ("" = match field)
  nlohmann::json options = nlohmann::json::object();  // connector-specific keys (query, list...)
  Location where;
  // Where each key of the [source] / [destination] table is written.
  std::map<std::string, Location> key_where = {};
};

struct Transform {
  // lowercase / uppercase map every Unicode letter; nfc composes ("e" + U+0301 -> "é").
  enum class Kind { trim, lowercase, uppercase, nfc, default_value, constant };
  Kind kind = Kind::trim;
  nlohmann::json value;  // for default_value and constant
};

// Which way a field is written in a bidirectional sync (one-way syncs write every field to
// the destination).
enum class FieldDirection { both, to_destination, to_source };

struct FieldMapping {
  std::string source;  // dotted path into the source record; "" for a constant
  std::string destination;  // dotted path into the destination record
  std::vector<Transform> transforms;  // applied in order
  Location where;
  FieldDirection direction = FieldDirection::both;
};

struct MatchSpec {
  std::string source;       // source field holding the match key
  std::string destination;  // destination field holding it
  // "trim", "lowercase" (full Unicode case folding), "uppercase", "nfc"
  std::vector<std::string> normalize;
  Location where;
};

// Declared field types. date: "YYYY-MM-DD"; multiselect: a list of option values (a text
// "a;b" becomes ["a", "b"]); json: any value, kept as it is.
enum class FieldType { string, number, boolean, datetime, email, enumeration, date, multiselect, json };

struct SchemaField {
  std::string name;  // destination field (dotted path)
  FieldType type = FieldType::string;
  bool required = false;
  std::vector<std::string> options;  // enumeration / multiselect values
  Location where;
};

struct DeletesSpec {
  DeletePropagation propagate = DeletePropagation::remove;  // what mirror mode does
  // The cap on deletes per run: an absolute count or a percentage of linked records.
  double max_value = 5;
  bool max_is_percent = true;
};

// Who wins where two records already differ when a bidirectional baseline links them.
enum class BaselineWinner { most_recent, source, destination };

struct ConflictsSpec {
  ConflictStrategy strategy = ConflictStrategy::most_recent_wins;
  // Destination field path (as in [field_map]) -> "source" | "destination": that side's value
  // wins a conflict on the field, whatever the strategy.
  std::map<std::string, std::string> owners;
  // An emptied field (null, "" or []) on one side leaves the other side's value alone.
  bool ignore_empty = false;
  BaselineWinner baseline = BaselineWinner::most_recent;
};

struct SyncSpec {
  std::filesystem::path file;
  std::string name;
  std::string title;
  Direction direction = Direction::one_way;
  Mode mode = Mode::upsert;
  std::string schedule;                        // cron expression or interval ("15m"); may be ""
  std::optional<std::int64_t> full_sync_every_ms;
  // How long each record's write history (`synctool history`, `revert`) is kept.
  int history_days = 30;
  EndpointSpec source;
  EndpointSpec destination;
  MatchSpec match;
  std::vector<FieldMapping> field_map;
  std::vector<SchemaField> schema;
  // "" (synctool only validates rows against the schema) or the destination connector's
  // schema mode ("properties" for HubSpot): `synctool schema` makes the destination hold it.
  std::string manage_schema;
  Location manage_schema_where;
  DeletesSpec deletes;
  ConflictsSpec conflicts;

  // Digest of everything that changes which records are "the same record" (connections,
  // objects, match fields and normalization). A change demands --resync.
  std::string identity_hash() const;
};

const char* to_string(Direction d);
const char* to_string(Mode m);
const char* to_string(DeletePropagation p);
const char* to_string(ConflictStrategy s);
const char* to_string(FieldDirection d);
const char* to_string(BaselineWinner w);
const char* to_string(FieldType t);

}  // namespace synctool::spec
