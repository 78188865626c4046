#include "net/redact.hpp"

#include <catch2/catch.hpp>

using synctool::net::Redactor;

TEST_CASE("known secrets are masked wherever they appear, the longest first") {
  Redactor r({"pat-na1-1234", "pat-na1-1234-extra"});
  CHECK(r.apply("token pat-na1-1234-extra and pat-na1-1234.") == "token [REDACTED] and [REDACTED].");
}

TEST_CASE("short values are not treated as secrets") {
  Redactor r({"abc"});
  CHECK(r.apply("abc") == "abc");
}

TEST_CASE("credential-looking parameters and headers are masked even when not declared") {
  Redactor r;
  CHECK(r.apply("GET /x?access_token=sekrit&limit=10") == "GET /x?access_token=[REDACTED]&limit=10");
  CHECK(r.apply(R"({"refresh_token": "r-123", "n": 1})") == R"({"refresh_token": "[REDACTED]", "n": 1})");
  CHECK(r.apply("Authorization: Bearer abc.def\r\nHost: x") == "Authorization: [REDACTED]\r\nHost: x");
  CHECK(r.apply("password=hunter2 done") == "password=[REDACTED] done");
  CHECK(r.apply("no secrets here: count = 5") == "no secrets here: count = 5");
}

TEST_CASE("passwords inside URLs are masked") {
  Redactor r;
  CHECK(r.apply("connect postgres://app:s3cret@127.0.0.1:5432/db failed") ==
        "connect postgres://app:[REDACTED]@127.0.0.1:5432/db failed");
  CHECK(r.apply("see https://example.com/a:b@c") == "see https://example.com/a:b@c");
}
