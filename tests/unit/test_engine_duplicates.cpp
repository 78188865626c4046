#include "engine/duplicates.hpp"

#include <catch2/catch.hpp>

using namespace synctool;
using engine::DuplicateFinder;
using engine::Side;
using nlohmann::json;

TEST_CASE("possible duplicates: the same name and company, or a close name on one email domain", "[duplicates]") {
  DuplicateFinder finder({"email_address", "merge_fields.FNAME", "merge_fields.LNAME", "merge_fields.COMPANY"});
  REQUIRE(finder.enabled());
  auto person = [](const char* first, const char* last, const char* company) {
    return json{{"merge_fields", {{"FNAME", first}, {"LNAME", last}, {"COMPANY", company}}}};
  };
  finder.add(Side::source, "ann.lee@acme.com", person("Ann", "Lee", "Acme Inc."));
  finder.add(Side::destination, "a.lee@personal.net", person("  ANN ", "lee", "acme inc"));  // same name and company
  finder.add(Side::source, "jon.smith@initech.com", person("Jon", "Smith", ""));
  finder.add(Side::destination, "jsmith@initech.com", person("John", "Smith", ""));  // one edit, same domain
  finder.add(Side::source, "al.li@gmail.com", person("Al", "Li", ""));
  finder.add(Side::destination, "bo.li@gmail.com", person("Bo", "Li", ""));  // short names: two edits are too many
  finder.add(Side::source, "eve@x.io", person("Eve", "Adams", "X"));
  finder.add(Side::destination, "eve@y.io", person("Eve", "Adams", "Y"));  // other company, other domain

  auto found = finder.find();
  REQUIRE(found.size() == 2);
  CHECK(found[0].source_key == "ann.lee@acme.com");
  CHECK(found[0].destination_key == "a.lee@personal.net");
  CHECK(found[0].reason == "same name and company");
  CHECK(found[1].source_key == "jon.smith@initech.com");
  CHECK(found[1].destination_key == "jsmith@initech.com");
  CHECK(found[1].reason == "similar name on the same email domain");
}

TEST_CASE("possible duplicates: nothing to compare without a name field; each record in one pair at most",
          "[duplicates]") {
  CHECK_FALSE(DuplicateFinder({"email", "phone"}).enabled());
  DuplicateFinder finder({"email", "full_name", "company"});
  finder.add(Side::source, "a@x.io", json{{"full_name", "Ann Lee"}, {"company", "Acme"}});
  finder.add(Side::source, "b@x.io", json{{"full_name", "Ann Lee"}, {"company", "Acme"}});
  finder.add(Side::destination, "c@y.io", json{{"full_name", "ann lee"}, {"company", "ACME"}});
  auto found = finder.find();
  REQUIRE(found.size() == 1);
  CHECK(found[0].destination_key == "c@y.io");
}
