// The main job end to end: syncs/synctool.toml and syncs/hubspot-mailchimp.toml as shipped,
// run by the real binary against the HubSpot and Mailchimp emulators in this process, seeded
// with the sample contacts the demo uses (mixed-case duplicates of audience members, missing
// names and companies, addresses Mailchimp refuses, contacts without an address).
#include "e2e/mailchimp_job.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace synctool::e2e {

namespace {

using nlohmann::json;

// The project as shipped (syncs/synctool.toml with the two connections taking their addresses
// and credentials from the environment), with `mailchimp_extra` lines added to the Mailchimp
// connection, and both emulators running in this process.
struct ShippedJob {
  em::SampleData data;
  hs::HubspotEmulator hubspot;
  em::MailchimpEmulator mailchimp;
  em::MailchimpEmulatorOptions mailchimp_options;
  Project project;
  std::string list_id;
  Env env;

  ShippedJob(const em::SampleContactsOptions& sample, const hs::HubspotEmulatorOptions& hubspot_options,
          const em::MailchimpEmulatorOptions& mc_options, const std::string& mailchimp_extra = "")
      : data(em::make_sample_contacts(sample)), hubspot(hubspot_options), mailchimp(mc_options), mailchimp_options(mc_options) {
    hubspot.start();
    hubspot.load_seed(data.hubspot_seed);
    mailchimp.load_seed(data.mailchimp_seed);
    mailchimp.start();
    list_id = mailchimp.list_id(kAudienceName);
    std::string config = read_source_file("syncs/synctool.toml");
    const std::string table = "[connections.mailchimp]\n";
    auto at = config.find(table);
    REQUIRE(at != std::string::npos);
    config.insert(at + table.size(), mailchimp_extra);
    project.write_config(config);
    project.write_file(std::string(kMainJob) + ".toml", read_source_file("syncs/hubspot-mailchimp.toml"));
    env = {{"HUBSPOT_TOKEN", kEmulatorToken},
           {"HUBSPOT_BASE_URL", hubspot.base_url()},
           {"MAILCHIMP_API_KEY", mc_options.api_key},
           {"MAILCHIMP_BASE_URL", mailchimp.base_url()}};
  }

  Result run(std::vector<std::string> args) { return run_with(project, std::move(args), env); }
  Audience expected() const { return expected_audience(data.mailchimp_seed, data.contacts); }
  std::string differences() const { return audience_differences(mailchimp, list_id, expected()); }

  em::SampleContact& contact(std::size_t i) { return data.contacts.at(i); }
  // Changes a HubSpot contact through the API (its modification time becomes now).
  void edit_contact(std::size_t i, const json& properties) {
    json body = {{"properties", properties}};
    auto answer = emulator_call(hubspot, "PATCH", "/crm/v3/objects/contacts/" + contact(i).id, &body);
    INFO(answer.body);
    REQUIRE(answer.status == 200);
  }
  // Changes a member's merge fields behind the sync's back.
  void drift_member(const std::string& email, const json& merge_fields) {
    std::string id;
    for (const auto& m : mailchimp.members(list_id))
      if (lower_text(m.at("email_address")) == lower_text(email)) id = m.at("id");
    REQUIRE_FALSE(id.empty());
    json body = {{"merge_fields", merge_fields}};
    auto answer = http_call(mailchimp.base_url() + "/lists/" + list_id + "/members/" + id, "PATCH", &body,
                            mailchimp_options.api_key);
    INFO(answer.body);
    REQUIRE(answer.status == 200);
  }
};

std::size_t count_flaw(const em::SampleData& data, em::ContactFlaw flaw) {
  return static_cast<std::size_t>(std::count_if(data.contacts.begin(), data.contacts.end(),
                                                [&](const em::SampleContact& c) { return c.flaw == flaw; }));
}

// Batch calls and members written at the emulator since its stats were reset.
std::int64_t stat(const em::MailchimpEmulator& mc, const char* name) { return mc.stats().at(name).get<std::int64_t>(); }

// The index of the first contact satisfying `predicate` at or after `from`.
template <typename Predicate>
std::size_t find_contact(const em::SampleData& data, Predicate predicate, std::size_t from = 0) {
  for (std::size_t i = from; i < data.contacts.size(); ++i)
    if (predicate(data.contacts[i])) return i;
  FAIL("no sample contact fits");
  return 0;
}

}  // namespace

TEST_CASE("hubspot-mailchimp: the baseline matches mixed-case members instead of duplicating them, reports the rows "
          "Mailchimp cannot take with their reasons, and incremental and full runs move exactly what diff predicted",
          "[e2e][mailchimp]") {
  em::SampleContactsOptions sample;
  sample.count = 2000;
  ShippedJob job(sample, generous_emulator_options(), {});
  const auto& data = job.data;
  const std::size_t invalid = count_flaw(data, em::ContactFlaw::invalid_email);
  const std::size_t no_email = count_flaw(data, em::ContactFlaw::no_email);
  const std::size_t no_company = count_flaw(data, em::ContactFlaw::missing_company);
  std::size_t to_create = 0, to_update = 0, linked = 0;
  for (const auto& c : data.contacts) {
    if (!deliverable(c)) continue;
    if (!c.in_mailchimp) ++to_create;
    else if (c.mailchimp_stale) ++to_update;
    else ++linked;
  }
  REQUIRE(invalid > 0);
  REQUIRE(no_email > 0);
  REQUIRE(no_company > 0);

  // diff plans the baseline and writes nothing.
  // diff exits as the run would: 1, since some rows will be refused.
  auto diff = job.run({"diff", kMainJob, "--json"});
  INFO(diff.describe());
  REQUIRE(diff.exit_code == 1);
  auto predicted = diff.json().at("report");
  CHECK(predicted.at("kind") == "baseline");
  CHECK(job.mailchimp.stats().at("batch_calls") == 0);

  job.mailchimp.reset_stats();
  auto baseline = job.run({"run", kMainJob, "--json"});
  INFO(baseline.describe());
  REQUIRE(baseline.exit_code == 1);  // some rows cannot be written
  auto report = baseline.json();
  CHECK(report.at("kind") == "baseline");
  CHECK(count_of(report.at("source"), "read") == static_cast<std::int64_t>(data.contacts.size()));
  CHECK(count_of(report.at("destination"), "created") == static_cast<std::int64_t>(to_create));
  CHECK(count_of(report.at("destination"), "updated") == static_cast<std::int64_t>(to_update));
  CHECK(count_of(report.at("destination"), "unchanged") == static_cast<std::int64_t>(linked));
  CHECK(count_of(report.at("destination"), "rejected") == static_cast<std::int64_t>(no_email + invalid + no_company));
  CHECK(count_of(report.at("destination"), "failed") == 0);
  check_prediction(predicted, report);
  CHECK(job.differences() == "");

  // Every refused row is listed with its reason: no address, an address Mailchimp never takes,
  // or the audience's required COMPANY without a value.
  std::map<std::string, int> reasons;
  for (const auto& problem : report.at("rejected")) {
    std::string reason = problem.at("reason");
    INFO(problem.dump());
    if (reason.find("no value in the match field 'email'") != std::string::npos) ++reasons["no address"];
    else if (reason.find("is not an address Mailchimp takes") != std::string::npos) ++reasons["bad address"];
    else if (reason.find("required merge field COMPANY (Company) has no value") != std::string::npos) ++reasons["no company"];
    else FAIL("unexpected reason: " << reason);
  }
  CHECK(reasons.size() == 3);

  // Batches of 500: only the rows Mailchimp can take are sent, in the fewest calls.
  CHECK(stat(job.mailchimp, "members_written") == static_cast<std::int64_t>(to_create + to_update));
  CHECK(stat(job.mailchimp, "batch_calls") == static_cast<std::int64_t>((to_create + to_update + 499) / 500));

  // Nothing changed: the refused rows are looked at again, nothing is written, and as they
  // are the same rows as last time nothing alerts (exit 0, no new problem).
  auto idle_diff = job.run({"diff", kMainJob, "--json"});
  REQUIRE(idle_diff.exit_code == 0);
  job.mailchimp.reset_stats();
  auto idle = job.run({"run", kMainJob, "--json"});
  INFO(idle.describe());
  REQUIRE(idle.exit_code == 0);
  CHECK(idle.json().at("new_problems") == 0);
  CHECK(idle.json().at("kind") == "incremental");
  CHECK(writes(idle.json()) == 0);
  check_prediction(idle_diff.json().at("report"), idle.json());
  CHECK(stat(job.mailchimp, "batch_calls") == 0);
  // The run costs what changed: the audience and its merge fields are read, the refused rows
  // are not looked up one by one.
  CHECK(stat(job.mailchimp, "requests") <= 3);

  // Three contacts change, one gets the company it lacked, one is new.
  std::vector<std::size_t> edited;
  for (std::size_t i = 0; edited.size() < 3; ++i) {
    i = find_contact(data, [](const em::SampleContact& c) { return deliverable(c); }, i);
    edited.push_back(i);
  }
  for (auto i : edited) {
    job.edit_contact(i, {{"firstname", "Renamed"}});
    job.contact(i).firstname = "Renamed";
  }
  auto fixed = find_contact(data, [](const em::SampleContact& c) { return c.flaw == em::ContactFlaw::missing_company; });
  job.edit_contact(fixed, {{"company", "Found Ltd"}});
  job.contact(fixed).company = "Found Ltd";
  json created_body = {{"properties", {{"email", "New.Person@Northwind.io"}, {"firstname", "New"}, {"lastname", "Person"},
                                       {"company", "Fresh Co"}}}};
  auto created = emulator_call(job.hubspot, "POST", "/crm/v3/objects/contacts", &created_body);
  REQUIRE(created.status == 201);
  em::SampleContact newcomer;
  newcomer.id = created.json().at("id");
  newcomer.email = "New.Person@Northwind.io";
  newcomer.firstname = "New";
  newcomer.lastname = "Person";
  newcomer.company = "Fresh Co";
  job.data.contacts.push_back(newcomer);

  // The refused rows are the ones of the last run (one fewer: the contact that got its
  // company): no new problem, exit 0.
  auto changes_diff = job.run({"diff", kMainJob, "--json"});
  INFO(changes_diff.describe());
  REQUIRE(changes_diff.exit_code == 0);
  job.mailchimp.reset_stats();
  auto incremental = job.run({"run", kMainJob, "--json"});
  INFO(incremental.describe());
  REQUIRE(incremental.exit_code == 0);
  CHECK(incremental.json().at("new_problems") == 0);
  report = incremental.json();
  CHECK(report.at("kind") == "incremental");
  const std::int64_t fixed_is_new = job.contact(fixed).in_mailchimp ? 0 : 1;
  CHECK(count_of(report.at("destination"), "created") == 1 + fixed_is_new);
  CHECK(count_of(report.at("destination"), "updated") == 3 + (1 - fixed_is_new));
  // Rows refused before are looked at again, those without an address too (by their HubSpot id).
  CHECK(count_of(report.at("destination"), "rejected") ==
        static_cast<std::int64_t>(no_email + invalid + no_company - 1));
  CHECK(count_of(report.at("destination"), "failed") == 0);
  check_prediction(changes_diff.json().at("report"), report);
  CHECK(stat(job.mailchimp, "members_written") == 5);
  CHECK(stat(job.mailchimp, "batch_calls") == 1);
  CHECK(job.differences() == "");

  // Someone edits a member in Mailchimp: incremental runs cannot see it, a full run repairs it.
  auto drifted = find_contact(data, [](const em::SampleContact& c) { return deliverable(c) && !c.firstname.empty(); });
  job.drift_member(job.contact(drifted).email, {{"FNAME", "Drifted"}});
  auto full_diff = job.run({"diff", kMainJob, "--full", "--json"});
  INFO(full_diff.describe());
  REQUIRE(full_diff.exit_code == 0);  // the refused rows are all known by now
  auto full = job.run({"run", kMainJob, "--full", "--json"});
  INFO(full.describe());
  REQUIRE(full.exit_code == 0);
  CHECK(full.json().at("kind") == "full");
  CHECK(count_of(full.json().at("destination"), "updated") == 1);
  CHECK(count_of(full.json().at("destination"), "created") == 0);
  check_prediction(full_diff.json().at("report"), full.json());
  CHECK(job.differences() == "");

  auto status = job.run({"status"});
  INFO(status.describe());
  CHECK(status.exit_code == 0);
  CHECK(status.out.find(kMainJob) != std::string::npos);
  auto runs = job.run({"runs", kMainJob, "--json"});
  INFO(runs.describe());
  REQUIRE(runs.exit_code == 0);
  CHECK(runs.out.find("\"full\"") != std::string::npos);
}

// API-FACTS: `status` overwrites an existing member's status, `status_if_new` only applies to
// new addresses. The shipped job sets status_if_new = "subscribed": a member who has not
// confirmed yet (pending) stays pending, one who unsubscribed stays unsubscribed, while their
// merge fields are brought up to date.
TEST_CASE("hubspot-mailchimp keeps the status of members that exist: pending stays pending, unsubscribed stays "
          "unsubscribed",
          "[e2e][mailchimp]") {
  em::SampleContactsOptions sample;
  sample.count = 120;
  ShippedJob job(sample, generous_emulator_options(), {});
  // Two stale members of deliverable contacts: one pending (double opt-in under way), one
  // unsubscribed.
  auto first = find_contact(job.data, [](const em::SampleContact& c) {
    return deliverable(c) && c.in_mailchimp && c.mailchimp_stale && c.mailchimp_status == "subscribed";
  });
  auto second = find_contact(job.data, [](const em::SampleContact& c) {
    return deliverable(c) && c.in_mailchimp && c.mailchimp_stale && c.mailchimp_status == "subscribed";
  }, first + 1);
  auto set_status = [&](std::size_t i, const char* status) {
    json body = {{"status", status}};
    auto answer = http_call(job.mailchimp.base_url() + "/lists/" + job.list_id + "/members/" +
                                lower_text(job.contact(i).mailchimp_email),
                            "PATCH", &body, job.mailchimp_options.api_key);
    INFO(answer.body);
    REQUIRE(answer.status == 200);
  };
  set_status(first, "pending");
  set_status(second, "unsubscribed");
  auto run = job.run({"run", kMainJob, "--json"});
  INFO(run.describe());
  REQUIRE((run.exit_code == 0 || run.exit_code == 1));
  CHECK(count_of(run.json().at("destination"), "failed") == 0);
  std::map<std::string, json> members;
  for (const auto& m : job.mailchimp.members(job.list_id)) members[lower_text(m.at("email_address"))] = m;
  const auto& pending = members.at(lower_text(job.contact(first).mailchimp_email));
  CHECK(pending.at("status") == "pending");
  CHECK(pending.at("merge_fields").at("FNAME") == trim_text(job.contact(first).firstname));  // updated all the same
  const auto& unsubscribed = members.at(lower_text(job.contact(second).mailchimp_email));
  CHECK(unsubscribed.at("status") == "unsubscribed");
  CHECK(unsubscribed.at("merge_fields").at("FNAME") == trim_text(job.contact(second).firstname));
  // No batch entry carried `status`: only status_if_new.
  for (const auto& entry : job.mailchimp.request_log()) {
    if (entry.value("method", "") != "POST" || entry.value("path", "") != "/3.0/lists/" + job.list_id) continue;
    auto body = json::parse(entry.value("body", ""), nullptr, false);
    if (!body.is_object()) continue;  // longer than the log keeps
    for (const auto& member : body.at("members")) {
      CHECK_FALSE(member.contains("status"));
      CHECK(member.value("status_if_new", "") == "subscribed");
    }
  }
}

TEST_CASE("hubspot-mailchimp through faults on both sides (429s, 5xx, timeouts, dropped connections, lost responses, "
          "malformed bodies): baseline, incremental and full runs end with exactly the expected audience",
          "[e2e][mailchimp][faults]") {
  em::SampleContactsOptions sample;
  sample.count = 1000;
  sample.seed = 11;
  auto hubspot_options = generous_emulator_options();
  hubspot_options.window_ms = 1000;  // an honoured 429 waits one window: keep it short
  hubspot_options.faults.rate_429 = 0.06;
  hubspot_options.faults.rate_500 = 0.06;
  hubspot_options.faults.rate_timeout = 0.04;
  hubspot_options.faults.timeout_ms = 1500;
  hubspot_options.faults.rate_drop = 0.05;
  hubspot_options.faults.rate_malformed = 0.04;
  hubspot_options.faults.seed = 4;
  em::MailchimpEmulatorOptions mailchimp_options;
  mailchimp_options.faults.rate_429 = 0.08;
  mailchimp_options.faults.rate_500 = 0.08;
  mailchimp_options.faults.rate_timeout = 0.05;
  mailchimp_options.faults.timeout_ms = 1500;
  mailchimp_options.faults.rate_drop = 0.06;
  mailchimp_options.faults.rate_lost_response = 0.08;
  mailchimp_options.faults.rate_malformed = 0.05;
  mailchimp_options.faults.seed = 5;
  // Short timeouts and retry budgets keep a run under a minute whatever the dice say.
  ShippedJob job(sample, hubspot_options, mailchimp_options, "timeout = \"5s\"\nretry_for = \"60s\"\n");
  // Refused rows: all of them on every run (a row without an address is remembered by its
  // HubSpot id and looked at again like the others).
  const std::size_t no_address = count_flaw(job.data, em::ContactFlaw::no_email);
  const std::size_t refused = no_address + count_flaw(job.data, em::ContactFlaw::invalid_email) +
                              count_flaw(job.data, em::ContactFlaw::missing_company);

  // Runs until the audience is right, nothing failed and only the rows Mailchimp can never
  // take are rejected.
  auto settle = [&](const std::vector<std::string>& args, const char* phase, std::size_t rejected) {
    for (int attempt = 1; attempt <= 8; ++attempt) {
      auto r = job.run(args);
      INFO(phase << " run " << attempt << ": " << r.describe());
      // 0 or 1 (the refused rows are known or new), 3 when a fault stopped the run.
      REQUIRE((r.exit_code == 0 || r.exit_code == 1 || r.exit_code == 3));
      if (r.exit_code != 3) {
        CHECK(accounting_problem(r.json()) == "");
        if (count_of(r.json().at("destination"), "failed") == 0 &&
            count_of(r.json().at("destination"), "rejected") == static_cast<std::int64_t>(rejected) &&
            job.differences() == "")
          return attempt;
      }
    }
    FAIL(phase << ": the audience did not settle in 8 runs:\n" << job.differences());
    return 0;
  };
  settle({"run", kMainJob, "--json"}, "baseline", refused);
  CHECK(job.differences() == "");

  // The test's own edits go in while the faults are paused.
  for (std::size_t i = 0, edited = 0; edited < 20; ++i) {
    i = find_contact(job.data, [](const em::SampleContact& c) { return deliverable(c); }, i);
    job.hubspot.set_faults({});
    job.edit_contact(i, {{"lastname", "Changed" + std::to_string(edited)}});
    job.hubspot.set_faults(hubspot_options.faults);
    job.contact(i).lastname = "Changed" + std::to_string(edited++);
  }
  settle({"run", kMainJob, "--json"}, "incremental", refused);

  auto drifted = find_contact(job.data, [](const em::SampleContact& c) { return deliverable(c); }, 100);
  job.mailchimp.set_faults({});
  job.drift_member(job.contact(drifted).email, {{"COMPANY", "Drifted Inc"}});
  job.mailchimp.set_faults(mailchimp_options.faults);
  settle({"run", kMainJob, "--full", "--json"}, "full", refused);

  std::map<std::string, int> kinds;
  for (const auto* log : {"hubspot", "mailchimp"})
    for (const auto& entry : std::string(log) == "hubspot" ? job.hubspot.request_log() : job.mailchimp.request_log())
      if (entry.at("fault").is_string()) ++kinds[std::string(log) + ":" + entry.at("fault").get<std::string>()];
  INFO("faults by kind: " << json(kinds).dump());
  CHECK(kinds.size() >= 8);

  // Faults off: nothing is left to write.
  job.hubspot.set_faults({});
  job.mailchimp.set_faults({});
  auto settled = job.run({"run", kMainJob, "--json"});
  INFO(settled.describe());
  REQUIRE(settled.exit_code == 0);
  CHECK(writes(settled.json()) == 0);
  CHECK(job.differences() == "");
}

TEST_CASE("hubspot-mailchimp stays within mailchimp's connection limit: at most max_in_flight requests at once, "
          "429s from other apps' connections are retried, and more than 10 is refused",
          "[e2e][mailchimp]") {
  em::SampleContactsOptions sample;
  sample.count = 3000;
  sample.dirty = false;
  sample.in_mailchimp = 0;
  em::MailchimpEmulatorOptions mailchimp_options;
  mailchimp_options.faults.slow_ms = 150;  // requests overlap
  // One baseline with `max_in_flight` at synctool and `max_connections` left at the account;
  // the emulator's stats.
  auto baseline = [&](int max_in_flight, int max_connections) {
    mailchimp_options.max_connections = max_connections;
    ShippedJob job(sample, generous_emulator_options(), mailchimp_options,
                "max_in_flight = " + std::to_string(max_in_flight) + "\n");
    auto r = job.run({"run", kMainJob, "--json"});
    INFO(r.describe());
    REQUIRE(r.exit_code == 0);
    CHECK(job.differences() == "");
    return job.mailchimp.stats();
  };
  auto alone = baseline(6, 10);
  INFO(alone.dump());
  CHECK(alone.at("max_concurrent").get<int>() <= 6);
  CHECK(alone.at("max_concurrent").get<int>() >= 2);
  CHECK(alone.at("throttled_connections").get<int>() == 0);
  // Other apps hold 8 of the account's 10 connections: the emulator takes only 2 more.
  auto crowded = baseline(6, 2);
  INFO(crowded.dump());
  CHECK(crowded.at("throttled_connections").get<int>() > 0);
  {
    ShippedJob job(sample, generous_emulator_options(), mailchimp_options, "max_in_flight = 11\n");
    auto r = job.run({"run", kMainJob});
    INFO(r.describe());
    CHECK(r.exit_code == 2);  // a connection key the connector cannot take is a spec error
    CHECK(r.err.find("'max_in_flight' must be between 1 and 10") != std::string::npos);
    CHECK(job.mailchimp.stats().at("requests") == 0);
  }
}

}  // namespace synctool::e2e
