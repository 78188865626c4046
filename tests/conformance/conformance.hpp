// The conformance suite every connector passes (DESIGN section 7). A connector's test file
// describes how to make a fixture and what to expect, then calls run_conformance() inside a
// TEST_CASE; each behaviour is a Catch2 SECTION with a fresh fixture.
#pragma once

#include "connectors/connector.hpp"
#include "connectors/registry.hpp"

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace synctool::util {
class Clock;
}

namespace synctool::testing {

// One writable object that starts empty.
struct ConformanceFixture {
  connectors::ConnectionConfig config;
  connectors::ObjectRef object;  // key_field set; destination = true
  // Makes the record with this native id count as modified now, strictly later than any
  // earlier touch and any earlier write (only needed when incremental reads are expected).
  std::function<void(const std::string& id)> touch;
  // Whatever must live as long as the fixture: temporary folders, fake clocks, servers.
  std::shared_ptr<void> keep_alive;
  // For a connector synctool cannot write to (a push source): puts the ops' records into the
  // system as its own users would, answering as write() must; the suite writes through it.
  std::function<std::vector<connectors::WriteResult>(const std::vector<connectors::WriteOp>&)> write_through;
};

struct ConformanceOptions {
  std::string name;
  std::function<ConformanceFixture()> make_fixture;
  // Connections that must fail with ErrorKind::config from make_connector() or check().
  std::function<std::vector<connectors::ConnectionConfig>(const ConformanceFixture&)> bad_configs;
  connectors::Capabilities capabilities;  // what capabilities() must report for the object
  // The record shape the suite writes: the key field and at least two text fields.
  std::vector<std::string> text_fields = {"first_name", "last_name"};
  // Makes the i-th distinct key value (must be valid for the system, e.g. an email).
  std::function<std::string(std::size_t i)> make_key = [](std::size_t i) {
    return "person" + std::to_string(i) + "@example.com";
  };
  // A native id that no record has.
  std::string missing_id = "no-such-record";
  // Any object name names a stream of the connection (a push source's object is a label), so
  // there is no object that does not exist for probe() to refuse.
  bool any_object_name = false;
  // Cursors are positions (a spool's delivery numbers), not times: no record lies exactly at a
  // cursor, so an incremental read returns only what came after it.
  bool cursor_is_position = false;
  // A cursor later than any record the tests write.
  std::string future_cursor = "9999-12-31T23:59:59.999Z";
  // Whether creating a record whose key already exists links the existing record (the write
  // succeeds with its id and changes nothing, as HubSpot's 409 "already exists" is handled)
  // instead of failing that row.
  bool create_of_existing_key_links = false;
  // Cap on the bulk write and lookup sizes (the maxima themselves unless smaller).
  std::size_t bulk_limit = 50000;
  // Two fields of the object that hold text of any length (a file's columns, text columns of
  // a table): the suite writes a nested object into the first and an array into the second,
  // and expects their JSON text back. Empty for systems whose fields are typed (CRMs).
  std::vector<std::string> json_text_fields;
};

void run_conformance(const ConformanceOptions& options);

// Helpers for the connector-specific tests beside the suite.
std::vector<connectors::Record> read_all(connectors::Connector& connector, const connectors::ObjectRef& object,
                                         connectors::ReadRequest request = {});
connectors::WriteOp op(connectors::OpKind kind, std::string id, connectors::Json fields = connectors::Json::object());
// A clock an hour ahead of the wall clock, for connectors of emulated services. A full read's
// cursor is the newest modification seen but never later than the read's start on the
// connector's clock; emulators keep their touches strictly increasing and so may run a little
// ahead of the wall clock, which would make the cursor (correctly, but inexactly) fall back to
// the start.
const util::Clock& clock_an_hour_ahead();
// Copies of the fixture's connection, each with one of `settings` instead of its own (for
// ConformanceOptions::bad_configs).
std::vector<connectors::ConnectionConfig> with_settings(const ConformanceFixture& fixture,
                                                        const std::vector<connectors::Json>& settings);
// Runs `call`, expects a ConnectorError of kind config, and returns its message.
std::string config_error(const std::function<void()>& call);

// The ConnectorError a call throws: its kind, the setting it names and its message.
struct Thrown {
  connectors::ErrorKind kind = connectors::ErrorKind::record;
  std::string setting;
  std::string message;
};
// Runs `call` and returns what it threw; fails the test when it throws no ConnectorError.
Thrown thrown(const std::function<void()>& call);

}  // namespace synctool::testing
