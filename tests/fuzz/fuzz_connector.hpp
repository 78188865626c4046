// What the HubSpot and Mailchimp targets share: a connector made through the registry as in
// production (its HTTP answered by the fuzz script, see fuzz_transport.hpp), one operation
// named by the scenario's first section, and the checks of the connector contract
// (connectors/connector.hpp) that a fuzzed answer must not break.
//
// Operation words (the first one picks the call; others are options):
//   check | describe | read [since] [all] | lookup <field> | write <kind> [n] | problem <kind> [n]
//   | plan | apply
// where <kind> is upsert, create, update, archive, remove or mixed and n is 1..9 (default 3).
#pragma once

#include "fuzz_support.hpp"
#include "fuzz_transport.hpp"

#include "connectors/registry.hpp"
#include "support/fake_clock.hpp"

#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace synctool::fuzz {

struct ConnectorFuzz {
  std::string_view target;
  connectors::ConnectionConfig config;
  connectors::ObjectRef object;
  std::vector<std::string> lookup_values;  // for `lookup email` and the like
  std::vector<std::string> native_ids;     // for `lookup @id`
  // The i-th op of a write of this kind.
  std::function<connectors::WriteOp(connectors::OpKind kind, int i)> make_op;
  std::vector<connectors::DeclaredField> schema;  // for `plan` and `apply`
};

inline std::vector<std::string> words_of(const std::string& text) {
  std::vector<std::string> words;
  std::istringstream in(text);
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

inline bool has_word(const std::vector<std::string>& words, std::string_view word) {
  for (std::size_t i = 1; i < words.size(); ++i)
    if (words[i] == word) return true;
  return false;
}

inline std::vector<connectors::WriteOp> ops_of(const ConnectorFuzz& fuzz, const std::vector<std::string>& words) {
  using connectors::OpKind;
  int count = 3;
  std::vector<OpKind> kinds = {OpKind::upsert};
  for (std::size_t i = 1; i < words.size(); ++i) {
    const auto& w = words[i];
    if (w.size() == 1 && w[0] >= '1' && w[0] <= '9') count = w[0] - '0';
    if (w == "create") kinds = {OpKind::create};
    if (w == "update") kinds = {OpKind::update};
    if (w == "archive") kinds = {OpKind::archive};
    if (w == "remove") kinds = {OpKind::remove};
    if (w == "mixed") kinds = {OpKind::upsert, OpKind::create, OpKind::update, OpKind::archive, OpKind::remove};
  }
  std::vector<connectors::WriteOp> ops;
  for (int i = 0; i < count; ++i) ops.push_back(fuzz.make_op(kinds[static_cast<std::size_t>(i) % kinds.size()], i));
  return ops;
}

inline void check_records(std::string_view target, const std::vector<connectors::Record>& records) {
  for (const auto& record : records)
    if (!record.fields.is_object())
      violated(target, "a record whose fields are not a JSON object: " +
                           record.fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

inline void run_operation(const ConnectorFuzz& fuzz, connectors::Connector& connector,
                          const std::vector<std::string>& words) {
  using namespace connectors;
  const std::string op = words.empty() ? "read" : words[0];
  const ObjectRef& object = fuzz.object;
  (void)connector.capabilities(object);
  if (op == "check") {
    connector.check();
  } else if (op == "describe") {
    (void)connector.describe(object);
  } else if (op == "lookup") {
    std::string field = words.size() > 1 ? words[1] : object.key_field;
    const auto& values = field == kNativeIdField ? fuzz.native_ids : fuzz.lookup_values;
    check_records(fuzz.target, connector.lookup(object, field, values));
  } else if (op == "write") {
    auto ops = ops_of(fuzz, words);
    auto results = connector.write(object, ops);
    if (results.size() != ops.size())
      violated(fuzz.target, "write() gave " + std::to_string(results.size()) + " results for " +
                                std::to_string(ops.size()) + " ops");
  } else if (op == "problem") {
    for (const auto& write_op : ops_of(fuzz, words)) (void)connector.write_problem(object, write_op);
  } else if (op == "plan" || op == "apply") {
    auto changes = connector.schema_plan(object, fuzz.schema);
    if (op == "apply") connector.schema_apply(object, changes);
  } else {
    ReadRequest request;
    if (!has_word(words, "all")) request.fields = object.fields;
    if (has_word(words, "since")) request.since = "2025-06-01T12:00:00Z";
    connector.read(object, request, [&](Page&& page) { check_records(fuzz.target, page.records); });
  }
}

// One input: the scenario's answers scripted, a fresh connector, the operation. A
// ConnectorError is how a connector reports a bad answer; anything else escaping is a finding.
inline void run_connector_fuzz(const ConnectorFuzz& fuzz, std::string_view input) {
  Scenario scenario = parse_scenario(input);
  HttpScript& script = http_script();
  script.responses = std::move(scenario.responses);
  script.requests.clear();
  testing::FakeClock clock;
  connectors::ConnectionConfig config = fuzz.config;
  config.clock = &clock;
  try {
    auto connector = connectors::make_connector(config);
    run_operation(fuzz, *connector, words_of(scenario.operation));
  } catch (const connectors::ConnectorError&) {
  }
}

}  // namespace synctool::fuzz
