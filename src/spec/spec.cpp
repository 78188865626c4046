#include "spec/spec.hpp"

#include "util/hash.hpp"

namespace synctool::spec {

std::string SyncSpec::identity_hash() const {
  // A JSON array keeps field boundaries unambiguous ("ab"+"c" differs from "a"+"bc").
  nlohmann::json identity = nlohmann::json::array({source.connection, source.object, destination.connection,
                                                   destination.object, match.source, match.destination,
                                                   match.normalize});
  return util::sha256_hex(identity.dump());
}

const char* to_string(Direction d) {
  switch (d) {
    case Direction::one_way: return "one-way";
    case Direction::bidirectional: return "bidirectional";
  }
  return "?";
}

const char* to_string(FieldDirection d) {
  switch (d) {
    case FieldDirection::both: return "both";
    case FieldDirection::to_destination: return "to-destination";
    case FieldDirection::to_source: return "to-source";
  }
  return "?";
}

const char* to_string(BaselineWinner w) {
  switch (w) {
    case BaselineWinner::most_recent: return "most-recent";
    case BaselineWinner::source: return "source";
    case BaselineWinner::destination: return "destination";
  }
  return "?";
}

const char* to_string(Mode m) {
  switch (m) {
    case Mode::upsert: return "upsert";
    case Mode::mirror: return "mirror";
    case Mode::append: return "append";
  }
  return "?";
}

const char* to_string(DeletePropagation p) {
  switch (p) {
    case DeletePropagation::ignore: return "ignore";
    case DeletePropagation::archive: return "archive";
    case DeletePropagation::remove: return "delete";
  }
  return "?";
}

const char* to_string(ConflictStrategy s) {
  switch (s) {
    case ConflictStrategy::most_recent_wins: return "most-recent-wins";
    case ConflictStrategy::source_wins: return "source-wins";
    case ConflictStrategy::destination_wins: return "destination-wins";
    case ConflictStrategy::manual: return "manual";
  }
  return "?";
}

const char* to_string(FieldType t) {
  switch (t) {
    case FieldType::string: return "string";
    case FieldType::number: return "number";
    case FieldType::boolean: return "bool";
    case FieldType::datetime: return "datetime";
    case FieldType::email: return "email";
    case FieldType::enumeration: return "enumeration";
    case FieldType::date: return "date";
    case FieldType::multiselect: return "multiselect";
    case FieldType::json: return "json";
  }
  return "?";
}

}  // namespace synctool::spec
