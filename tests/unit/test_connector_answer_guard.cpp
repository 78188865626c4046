// The answer guard around every connector (connectors/answer_guard): JSON type errors from a
// vendor's answer become transient ConnectorErrors naming the call; everything else passes.
#include "connectors/answer_guard.hpp"

#include <catch2/catch.hpp>

using namespace synctool::connectors;

namespace {

// Reads a field of the wrong type out of a canned "answer", as a connector would.
class MistypedAnswers final : public Connector {
 public:
  Json answer = Json::parse(R"({"status": 404, "results": {"id": "1"}})");
  std::string type() const override { return "fakevendor"; }
  void check() override { (void)answer.at("status").get<std::string>(); }
  Capabilities capabilities(const ObjectRef&) const override { return {}; }
  ObjectDescription describe(const ObjectRef& object) override { return {object.name, {}}; }
  void read(const ObjectRef&, const ReadRequest&, const PageSink& sink) override {
    Page page;
    Record record;
    record.id = "1";
    page.records.push_back(std::move(record));
    sink(std::move(page));
    for (const auto& item : answer.at("results").get<std::vector<Json>>()) (void)item;
  }
  std::vector<Record> lookup(const ObjectRef&, const std::string&, const std::vector<std::string>&) override {
    throw ConnectorError(ErrorKind::config, "fakevendor: 401 Unauthorized");
  }
  std::vector<WriteResult> write(const ObjectRef&, const std::vector<WriteOp>& ops) override {
    std::vector<WriteResult> results(ops.size());
    for (auto& r : results) r.id = answer.at("status").get<std::string>();
    return results;
  }
};

}  // namespace

TEST_CASE("a mistyped field in an answer becomes a transient error naming the connector, call and object") {
  auto guarded = guard_answers(std::make_unique<MistypedAnswers>());
  ObjectRef contacts;
  contacts.name = "contacts";
  CHECK(guarded->type() == "fakevendor");
  try {
    guarded->write(contacts, {WriteOp{}});
    FAIL("no error");
  } catch (const ConnectorError& e) {
    CHECK(e.kind() == ErrorKind::transient);
    CHECK(std::string(e.what()) ==
          "fakevendor: unexpected answer while writing to 'contacts': type must be string, but is number");
  }
  try {
    guarded->check();
    FAIL("no error");
  } catch (const ConnectorError& e) {
    CHECK_THAT(e.what(), Catch::StartsWith("fakevendor: unexpected answer while checking the connection: "));
  }
}

TEST_CASE("the guard passes connector errors and the engine's own errors in a read's sink through untouched") {
  auto guarded = guard_answers(std::make_unique<MistypedAnswers>());
  ObjectRef contacts;
  contacts.name = "contacts";
  try {
    guarded->lookup(contacts, "email", {"a@example.com"});
    FAIL("no error");
  } catch (const ConnectorError& e) {
    CHECK(e.kind() == ErrorKind::config);
    CHECK(std::string(e.what()) == "fakevendor: 401 Unauthorized");
  }
  // An error of the sink (the engine's, here a JSON one) is not the answer's fault.
  CHECK_THROWS_AS(guarded->read(contacts, {}, [](Page&&) { (void)Json(1).get<std::string>(); }),
                  nlohmann::json::type_error);
  // Past the sink, the answer's own mistyped `results` is the guard's.
  CHECK_THROWS_WITH(guarded->read(contacts, {}, [](Page&&) {}),
                    Catch::Contains("while reading 'contacts': type must be array, but is object"));
}
