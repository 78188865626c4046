// [notify]: health from exit codes, which changes are worth a message, and the message.
#include "report/notify.hpp"

#include <catch2/catch.hpp>

using namespace synctool;
using report::Health;

TEST_CASE("notify: each exit code has a health, or none when it tells nothing", "[report][notify]") {
  CHECK(report::health_of(0) == Health::ok);
  CHECK(report::health_of(1) == Health::degraded);
  for (int code : {2, 3, 6, 7}) CHECK(report::health_of(code) == Health::failing);
  CHECK(report::health_of(4) == Health::safeguard);
  // Locked, interrupted, and codes that say nothing was tried (a paused sync's).
  for (int code : {5, 130, 143, 8, 42}) CHECK_FALSE(report::health_of(code).has_value());
}

TEST_CASE("notify: a message for a change of health, never for the same health again", "[report][notify]") {
  using report::health_event;
  std::optional<Health> none;
  CHECK(health_event(none, Health::ok) == "");
  CHECK(health_event(none, Health::failing) == "failing");  // a first run that fails
  CHECK(health_event(Health::ok, Health::failing) == "failing");
  CHECK(health_event(Health::degraded, Health::failing) == "failing");
  CHECK(health_event(Health::safeguard, Health::failing) == "failing");
  CHECK(health_event(Health::failing, Health::failing) == "");
  CHECK(health_event(Health::ok, Health::safeguard) == "safeguard");
  CHECK(health_event(Health::failing, Health::safeguard) == "safeguard");
  CHECK(health_event(Health::safeguard, Health::safeguard) == "");
  CHECK(health_event(Health::failing, Health::ok) == "recovered");
  CHECK(health_event(Health::safeguard, Health::ok) == "recovered");
  CHECK(health_event(Health::failing, Health::degraded) == "recovered");
  CHECK(health_event(Health::ok, Health::ok) == "");
  CHECK(health_event(Health::ok, Health::degraded) == "degraded");
  CHECK(health_event(none, Health::degraded) == "degraded");
  CHECK(health_event(Health::degraded, Health::degraded) == "");
  CHECK(health_event(Health::degraded, Health::ok) == "");  // the same rows may still fail: not news
}

TEST_CASE("notify: the message says sync, old and new health, exit code, error line and counts",
          "[report][notify]") {
  engine::RunReport run;
  run.sync = "hubspot-mailchimp";
  run.exit_code = 3;
  run.started_at = "2026-12-07T01:00:00.000Z";
  run.error = "mailchimp: POST /lists/x/members -> 503 Service Unavailable\nsecond line";
  run.destination.created = 4;
  run.destination.failed = 1;
  auto m = report::notify_message(run, Health::ok, Health::failing, "failing");
  REQUIRE(m["text"].is_string());
  CHECK(m["text"] ==
        "synctool: sync 'hubspot-mailchimp' is failing (was ok), exit 3: mailchimp: POST /lists/x/members -> 503 "
        "Service Unavailable. Created 4, updated 0, deleted 0, rejected 0, failed 1.");
  CHECK(m["synctool"]["event"] == "failing");
  CHECK(m["synctool"]["previous_state"] == "ok");
  CHECK(m["synctool"]["state"] == "failing");
  CHECK(m["synctool"]["exit_code"] == 3);
  CHECK(m["synctool"]["created"] == 4);
  CHECK(m["synctool"]["error"] == "mailchimp: POST /lists/x/members -> 503 Service Unavailable");

  run.error = std::string(400, 'x');
  auto first = report::notify_message(run, std::nullopt, Health::failing, "failing");
  CHECK(first["synctool"]["previous_state"].is_null());
  CHECK(first["text"].get<std::string>().find("(was unknown)") != std::string::npos);
  CHECK(first["synctool"]["error"].get<std::string>().size() == 303);  // cut at 300 bytes + "..."
}
