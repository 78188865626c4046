#include "engine/mapping.hpp"
#include "engine/values.hpp"
#include "util/strings.hpp"
#include "util/unicode.hpp"

#include <catch2/catch.hpp>

#include <random>

using namespace synctool;
using engine::RecordMapper;
using nlohmann::json;
using Kind = spec::Transform::Kind;

namespace {

spec::Transform transform(Kind kind, json value = nullptr) {
  spec::Transform t;
  t.kind = kind;
  t.value = std::move(value);
  return t;
}

spec::FieldMapping mapping(std::string source, std::string destination, std::vector<spec::Transform> transforms = {}) {
  spec::FieldMapping m;
  m.source = std::move(source);
  m.destination = std::move(destination);
  m.transforms = std::move(transforms);
  return m;
}

// HubSpot contacts -> Mailchimp members, as in the design document.
spec::SyncSpec hubspot_mailchimp() {
  spec::SyncSpec s;
  s.name = "hubspot-mailchimp";
  s.match.source = "email";
  s.match.destination = "email_address";
  s.match.normalize = {"trim", "lowercase"};
  s.field_map = {mapping("email", "email_address"), mapping("firstname", "merge_fields.FNAME"),
                 mapping("lastname", "merge_fields.LNAME"), mapping("company", "merge_fields.COMPANY")};
  return s;
}

}  // namespace

TEST_CASE("map() writes each source field to its destination path", "[mapping]") {
  auto s = hubspot_mailchimp();
  RecordMapper mapper(s);
  json out = mapper.map({{"email", "ann@x.io"}, {"firstname", "Ann"}, {"lastname", "Lee"}, {"company", "Acme"},
                         {"phone", "123"}});
  CHECK(out == json{{"email_address", "ann@x.io"},
                    {"merge_fields", {{"FNAME", "Ann"}, {"LNAME", "Lee"}, {"COMPANY", "Acme"}}}});
}

TEST_CASE("map() turns a missing source field into null", "[mapping]") {
  auto s = hubspot_mailchimp();
  RecordMapper mapper(s);
  json out = mapper.map({{"email", "ann@x.io"}});
  CHECK(out["merge_fields"]["FNAME"].is_null());
  CHECK(out["merge_fields"].contains("COMPANY"));
}

TEST_CASE("map() reads dotted source paths", "[mapping]") {
  spec::SyncSpec s;
  s.field_map = {mapping("properties.email", "Email"), mapping("properties.address.city", "Mailing.City"),
                 mapping("properties.missing.deep", "Other")};
  RecordMapper mapper(s);
  json out = mapper.map({{"properties", {{"email", "a@b.c"}, {"address", {{"city", "Berlin"}}}}}});
  CHECK(out == json{{"Email", "a@b.c"}, {"Mailing", {{"City", "Berlin"}}}, {"Other", nullptr}});
}

TEST_CASE("map() keeps non-text values as they are", "[mapping]") {
  spec::SyncSpec s;
  s.field_map = {mapping("n", "n", {transform(Kind::trim), transform(Kind::uppercase)}), mapping("obj", "obj")};
  RecordMapper mapper(s);
  json out = mapper.map({{"n", 42}, {"obj", {{"k", true}}}});
  CHECK(out == json{{"n", 42}, {"obj", {{"k", true}}}});
}

TEST_CASE("transforms apply in order", "[mapping]") {
  spec::SyncSpec s;
  s.field_map = {mapping("name", "trimmed", {transform(Kind::trim)}),
                 mapping("name", "lower", {transform(Kind::lowercase)}),
                 mapping("name", "upper", {transform(Kind::trim), transform(Kind::uppercase)}),
                 mapping("name", "shout_then_lower", {transform(Kind::uppercase), transform(Kind::lowercase)})};
  RecordMapper mapper(s);
  json out = mapper.map({{"name", "  Zoë Smith "}});
  CHECK(out["trimmed"] == "Zoë Smith");
  CHECK(out["lower"] == "  zoë smith ");
  CHECK(out["upper"] == "ZOË SMITH");  // every Unicode letter, not only ASCII
  CHECK(out["shout_then_lower"] == "  zoë smith ");
}

TEST_CASE("default replaces null, missing and blank values", "[mapping]") {
  spec::SyncSpec s;
  s.field_map = {mapping("country", "country", {transform(Kind::default_value, "DE")})};
  RecordMapper mapper(s);
  CHECK(mapper.map({{"country", "FR"}})["country"] == "FR");
  CHECK(mapper.map(json::object())["country"] == "DE");
  CHECK(mapper.map({{"country", nullptr}})["country"] == "DE");
  CHECK(mapper.map({{"country", ""}})["country"] == "DE");
  CHECK(mapper.map({{"country", "   "}})["country"] == "DE");  // blank after trim counts as empty
  CHECK(mapper.map({{"country", 0}})["country"] == 0);
  CHECK(mapper.map({{"country", false}})["country"] == false);
}

TEST_CASE("a default after trim sees the trimmed value", "[mapping]") {
  spec::SyncSpec s;
  s.field_map = {mapping("city", "city", {transform(Kind::trim), transform(Kind::default_value, "unknown")})};
  RecordMapper mapper(s);
  CHECK(mapper.map({{"city", "  "}})["city"] == "unknown");
  CHECK(mapper.map({{"city", " Rome "}})["city"] == "Rome");
}

TEST_CASE("constant mappings ignore the source", "[mapping]") {
  spec::SyncSpec s;
  s.field_map = {mapping("", "status", {transform(Kind::constant, "subscribed")}),
                 mapping("name", "source", {transform(Kind::constant, json{{"system", "hubspot"}})}),
                 mapping("", "fallback", {transform(Kind::default_value, 7)})};
  RecordMapper mapper(s);
  json out = mapper.map({{"name", "x"}});
  CHECK(out == json{{"status", "subscribed"}, {"source", {{"system", "hubspot"}}}, {"fallback", 7}});
}

TEST_CASE("the later of two mappings to one destination wins", "[mapping]") {
  spec::SyncSpec s;
  s.field_map = {mapping("a", "out"), mapping("b", "out")};
  RecordMapper mapper(s);
  CHECK(mapper.map({{"a", 1}, {"b", 2}}) == json{{"out", 2}});
  CHECK(mapper.destination_paths() == std::vector<std::string>{"out"});
}

TEST_CASE("apply_transform works on single values", "[mapping]") {
  CHECK(engine::apply_transform(transform(Kind::trim), " a ") == "a");
  CHECK(engine::apply_transform(transform(Kind::lowercase), "AbC") == "abc");
  CHECK(engine::apply_transform(transform(Kind::uppercase), "AbC") == "ABC");
  CHECK(engine::apply_transform(transform(Kind::uppercase), nullptr).is_null());
  CHECK(engine::apply_transform(transform(Kind::default_value, "x"), nullptr) == "x");
  CHECK(engine::apply_transform(transform(Kind::default_value, "x"), "y") == "y");
  CHECK(engine::apply_transform(transform(Kind::constant, 5), "y") == 5);
}

TEST_CASE("match keys are normalized in the declared order", "[mapping]") {
  auto s = hubspot_mailchimp();
  RecordMapper mapper(s);
  CHECK(mapper.normalize_key("  Ann@X.io ") == "ann@x.io");
  CHECK(mapper.normalize_key(42) == "42");
  CHECK(mapper.normalize_key(true) == "true");
  CHECK(mapper.source_key({{"email", " Ann@X.IO"}}) == "ann@x.io");
  CHECK(mapper.destination_key({{"email_address", "ANN@x.io "}}) == "ann@x.io");

  s.match.normalize = {"uppercase"};
  CHECK(mapper.normalize_key(" a ") == " A ");  // the mapper reads the spec it was given
  s.match.normalize.clear();
  CHECK(mapper.normalize_key(" a ") == " a ");
}

TEST_CASE("match keys: random texts normalize as the steps' functions composed one by one", "[mapping]") {
  // The mapper trims in place and reads the field without copying it (it runs once per record
  // read); the result must be what util::trim, fold_case, unicode_upper and nfc give in turn.
  std::mt19937 rng(99);
  const std::vector<std::string> pieces = {" ", "\t", "\n", "\r", "\v", "a", "Z", "É", "e\xcc\x81", "ß", "İ",
                                           "@", ".", "0", "\xf0\x9f\x98\x80", "\xc2\xa0"};
  const std::vector<std::vector<std::string>> orders = {{"trim", "lowercase"}, {"lowercase", "trim"}, {"trim"},
                                                        {"nfc", "uppercase", "trim"}, {}};
  for (const auto& order : orders) {
    auto s = hubspot_mailchimp();
    s.match.normalize = order;
    RecordMapper mapper(s);
    for (int i = 0; i < 400; ++i) {
      std::string text;
      for (int n = static_cast<int>(rng() % 8); n > 0; --n) text += pieces[rng() % pieces.size()];
      std::string expected = text;
      for (const auto& step : order) {
        std::optional<std::string> next;
        if (step == "trim") next = util::trim(expected);
        if (step == "lowercase") next = util::fold_case(expected);
        if (step == "uppercase") next = util::unicode_upper(expected);
        if (step == "nfc") next = util::nfc(expected);
        if (next) expected = *next;
      }
      INFO(json(text).dump());
      CHECK(mapper.normalize_key(text) == expected);
      const bool blank = util::trim(expected).empty();
      CHECK(mapper.source_key({{"email", text}}) == (blank ? std::nullopt : std::optional<std::string>(expected)));
    }
  }
}

TEST_CASE("a missing, null or blank match key is no key", "[mapping]") {
  auto s = hubspot_mailchimp();
  RecordMapper mapper(s);
  CHECK_FALSE(mapper.source_key(json::object()));
  CHECK_FALSE(mapper.source_key({{"email", nullptr}}));
  CHECK_FALSE(mapper.source_key({{"email", ""}}));
  CHECK_FALSE(mapper.source_key({{"email", "   "}}));
  CHECK_FALSE(mapper.destination_key({{"email", "a@b.c"}}));
  CHECK(mapper.source_key({{"email", 0}}) == "0");
}

TEST_CASE("match keys may live at dotted paths", "[mapping]") {
  spec::SyncSpec s;
  s.match.source = "properties.email";
  s.match.destination = "Contact.Email";
  s.match.normalize = {"lowercase"};
  RecordMapper mapper(s);
  CHECK(mapper.source_key({{"properties", {{"email", "A@B.C"}}}}) == "a@b.c");
  CHECK(mapper.destination_key({{"Contact", {{"Email", "a@B.c"}}}}) == "a@b.c");
  CHECK_FALSE(mapper.destination_key({{"Contact", "a@b.c"}}));
}

TEST_CASE("project_destination keeps only mapped paths, in map() shape", "[mapping]") {
  auto s = hubspot_mailchimp();
  RecordMapper mapper(s);
  json dest = {{"id", "abc"},
               {"email_address", "ann@x.io"},
               {"status", "subscribed"},
               {"merge_fields", {{"FNAME", "Ann"}, {"LNAME", "Lee"}, {"BIRTHDAY", "01/02"}}}};
  json projected = mapper.project_destination(dest);
  CHECK(projected == json{{"email_address", "ann@x.io"},
                          {"merge_fields", {{"FNAME", "Ann"}, {"LNAME", "Lee"}, {"COMPANY", nullptr}}}});
  json mapped = mapper.map({{"email", "ann@x.io"}, {"firstname", "Ann"}, {"lastname", "Lee"}});
  CHECK(projected == mapped);
  CHECK(mapper.project_destination(json::object())["email_address"].is_null());
}

TEST_CASE("destination_paths lists mapped paths in field_map order", "[mapping]") {
  auto s = hubspot_mailchimp();
  RecordMapper mapper(s);
  CHECK(mapper.destination_paths() ==
        std::vector<std::string>{"email_address", "merge_fields.FNAME", "merge_fields.LNAME", "merge_fields.COMPANY"});
}

TEST_CASE("source_read_fields uses source.fields when given, adding the match field", "[mapping]") {
  auto s = hubspot_mailchimp();
  s.source.fields = {"firstname", "lastname"};
  RecordMapper mapper(s);
  CHECK(mapper.source_read_fields({"lifecyclestage"}) == std::vector<std::string>{"firstname", "lastname", "email"});
  s.source.fields = {"email", "firstname"};
  CHECK(mapper.source_read_fields({}) == std::vector<std::string>{"email", "firstname"});
}

TEST_CASE("source_read_fields otherwise collects top-level names from map, match and filter", "[mapping]") {
  spec::SyncSpec s;
  s.match.source = "props.email";
  s.field_map = {mapping("props.first", "a"), mapping("", "b", {transform(Kind::constant, 1)}),
                 mapping("company", "c"), mapping("props.last", "d")};
  RecordMapper mapper(s);
  CHECK(mapper.source_read_fields({"stage", "address.city", "company"}) ==
        std::vector<std::string>{"props", "company", "stage", "address"});
  spec::SyncSpec empty;
  CHECK(RecordMapper(empty).source_read_fields({}).empty());
}

// An incremental run reads a table's records as rows and builds their fields only when it finds
// them changed: the key, the digest (stored in the state by earlier versions, from fields) and
// the mapped values must come out the same either way, for every kind of cell.
TEST_CASE("a row gives the key, the source digest and the mapped values its fields give", "[mapping][row]") {
  std::mt19937 random(20261206);
  auto pick = [&](int n) { return static_cast<int>(random() % static_cast<unsigned>(n)); };
  const std::vector<std::string> pool = {"", "  Ann.Lee@Acme.COM ", "42", "0", "x", "ÅSA", "a.b", "{\"city\":\"Oslo\"}",
                                         std::string("nul\0byte", 8), "bad \xff utf8"};
  const std::vector<std::string> names_pool = {"age", "city", "company", "email", "first", "props", "z"};
  for (int round = 0; round < 400; ++round) {
    std::vector<std::string> names;
    for (const auto& name : names_pool)
      if (pick(3) != 0) names.push_back(name);
    auto shared = std::make_shared<const std::vector<std::string>>(names);
    connectors::Row row(shared);
    for (std::size_t i = 0; i < names.size(); ++i) {
      switch (pick(8)) {
        case 0: row.add_absent(); break;
        case 1: row.add_null(); break;
        case 2: row.add_boolean(pick(2) == 1); break;
        case 3: row.add_integer(pick(2) ? 42 : -7); break;
        case 4: row.add_real(pick(2) ? 0.1 : 42.0); break;
        case 5: row.add_json(pick(2) ? json{{"city", "Oslo"}} : json::array({1, "two"})); break;
        default: row.add_text(pool[static_cast<std::size_t>(pick(static_cast<int>(pool.size())))]); break;
      }
    }
    const json fields = row.to_json();
    INFO("fields " << fields.dump(-1, ' ', false, json::error_handler_t::replace));
    CHECK(row.present() == fields.size());
    CHECK(engine::source_digest(7, row) == engine::source_digest(7, fields));

    spec::SyncSpec s;
    s.match.source = names_pool[static_cast<std::size_t>(pick(static_cast<int>(names_pool.size())))];
    if (pick(4) == 0) s.match.source = "props.city";
    s.match.normalize = {"trim", "lowercase"};
    s.field_map = {mapping("email", "email_address", {transform(Kind::trim)}), mapping("first", "merge_fields.FNAME"),
                   mapping("age", "age", {transform(Kind::default_value, 18)}), mapping("missing", "m")};
    if (pick(3) == 0) s.field_map.push_back(mapping("props.city", "city"));
    RecordMapper mapper(s);
    std::string row_problem, fields_problem;
    CHECK(mapper.source_key(row, &row_problem) == mapper.source_key(fields, &fields_problem));
    CHECK(row_problem == fields_problem);
    CHECK(mapper.map(row) == mapper.map(fields));
  }
}
