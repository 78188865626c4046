// Shared helpers of the HTTP connectors (connectors/http_api): reading a count out of a vendor's
// answer without trusting its type.
#include "connectors/http_api.hpp"

#include <catch2/catch.hpp>

using namespace synctool::connectors;

TEST_CASE("count_field reads non-negative integers and treats absence as zero", "[http_api]") {
  CHECK(count_field(Json::parse(R"({"total_items": 1234})"), "total_items", "reading") == 1234);
  CHECK(count_field(Json::parse(R"({"total_items": 0})"), "total_items", "reading") == 0);
  CHECK(count_field(Json::parse(R"({})"), "total_items", "reading") == 0);
  CHECK(count_field(Json::parse(R"({"total_items": null})"), "total_items", "reading") == 0);
}

TEST_CASE("count_field refuses floats, negatives and strings with a transient error naming the call",
          "[http_api]") {
  for (const char* body : {R"({"total_items": 1e300})", R"({"total_items": 12.5})", R"({"total_items": -3})",
                           R"({"total_items": "12"})", R"({"total_items": [1]})"}) {
    INFO(body);
    try {
      count_field(Json::parse(body), "total_items", "mailchimp: reading members");
      FAIL("no error");
    } catch (const ConnectorError& error) {
      CHECK(error.kind() == ErrorKind::transient);
      CHECK_THAT(error.what(), Catch::Contains("mailchimp: reading members") && Catch::Contains("total_items"));
    }
  }
}
