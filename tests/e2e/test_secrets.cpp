// No secret ever leaves synctool: every command, in verbose and JSON form, through the happy
// path and every error path we can provoke (refused credentials, unreachable and failing
// servers, a server that echoes the credentials it received back in its error bodies, spec
// errors on lines that hold a secret), with recognisable fake secrets for HubSpot (private app
// token and OAuth), Mailchimp and PostgreSQL. A secret must not appear in stdout, stderr, any
// file of the project (state, run history, CSV output) — and the state folders are 0700.
#include "e2e/mailchimp_job.hpp"
#include "support/pg_test_server.hpp"
#include "util/strings.hpp"

#include <catch2/catch.hpp>
#include <httplib.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <thread>

namespace synctool::e2e {

namespace {

using nlohmann::json;

// Recognisable fake secrets: "5ec2e7" marks each of them.
const std::string kHubspotToken = "pat-na1-5ec2e7-hubspot-token-31337";
const std::string kClientSecret = "oauth-client-5ec2e7-secret-31337";
const std::string kRefreshToken = "oauth-refresh-5ec2e7-token-31337";
const std::string kMailchimpKeyPart = "feedface5ec2e7beeffeedface5ec2e7";
const std::string kMailchimpKey = kMailchimpKeyPart + "-us6";
const std::string kInlineToken = "pat-na1-inline-5ec2e7-written-in-the-spec";

std::string base64(const std::string& text) { return util::base64_encode(text.data(), text.size()); }

// A server that answers every request with `status` and a body quoting what it received: the
// Authorization header, the URL with its query and the start of the body. Careless error
// handling would print that body, credentials and all.
class EchoServer {
 public:
  EchoServer() {
    auto handler = [this](const httplib::Request& req, httplib::Response& res) {
      std::string auth = req.get_header_value("Authorization");
      {
        std::lock_guard lock(mutex_);
        if (!auth.empty()) received_.insert(auth);
      }
      std::string url = req.path;
      if (!req.params.empty()) {
        url += "?";
        for (const auto& [k, v] : req.params) url += k + "=" + v + "&";
      }
      std::string echoed = "you sent Authorization: " + auth + " for " + req.method + " " + url +
                           " with body " + req.body.substr(0, 200);
      json body = {{"status", "error"},         {"message", echoed},         {"category", "INVALID_AUTHENTICATION"},
                   {"title", "Echo"},           {"detail", echoed},          {"type", "https://example.com/echo"},
                   {"error", "invalid_grant"}, {"error_description", echoed}};
      res.status = status_.load();
      res.set_content(body.dump(), "application/json");
    };
    server_.Get(".*", handler);
    server_.Post(".*", handler);
    server_.Put(".*", handler);
    server_.Patch(".*", handler);
    server_.Delete(".*", handler);
    port_ = server_.bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    // The socket listens from bind_to_any_port on: connections made before the thread runs wait.
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~EchoServer() {
    server_.stop();
    thread_.join();
  }
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void answer(int status) { status_ = status; }
  // The Authorization values requests carried (bearer tokens, Basic credentials).
  std::set<std::string> received() const {
    std::lock_guard lock(mutex_);
    return received_;
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<int> status_{401};
  mutable std::mutex mutex_;
  std::set<std::string> received_;
};

// The project: HubSpot (private app token and OAuth), Mailchimp and PostgreSQL connections
// taking every credential from the environment, a CSV folder, and three syncs: the main job
// hubspot-mailchimp as shipped, HubSpot (OAuth) contacts -> CSV, and CSV -> PostgreSQL with
// managed columns.
struct SecretsWorld {
  em::SampleData data;
  hs::HubspotEmulator hubspot;
  em::MailchimpEmulator mailchimp;
  testing::PgTestSchema pg;
  Project project;
  Env env;
  std::vector<std::string> secrets;

  static hs::HubspotEmulatorOptions hubspot_options() {
    auto options = generous_emulator_options();
    options.private_app_token = kHubspotToken;
    options.client_secret = kClientSecret;
    options.refresh_token = kRefreshToken;
    return options;
  }
  static em::MailchimpEmulatorOptions mailchimp_options() {
    em::MailchimpEmulatorOptions options;
    options.api_key = kMailchimpKey;
    return options;
  }
  static em::SampleContactsOptions sample_options() {
    em::SampleContactsOptions options;
    options.count = 60;
    options.mailchimp_only = 5;
    return options;
  }

  SecretsWorld()
      : data(em::make_sample_contacts(sample_options())), hubspot(hubspot_options()), mailchimp(mailchimp_options()) {
    start_emulator(hubspot);
    hubspot.load_seed(data.hubspot_seed);
    mailchimp.load_seed(data.mailchimp_seed);
    mailchimp.start();

    project.write_config(R"(state_dir = ".synctool"

[connections.hubspot]
type = "hubspot"
token = "${HUBSPOT_TOKEN}"
base_url = "${HUBSPOT_BASE_URL}"
max_retries = 1

[connections.hubspot_oauth]
type = "hubspot"
client_id = "${HUBSPOT_CLIENT_ID}"
client_secret = "${HUBSPOT_CLIENT_SECRET}"
refresh_token = "${HUBSPOT_REFRESH_TOKEN}"
base_url = "${HUBSPOT_OAUTH_BASE_URL}"
max_retries = 1

[connections.mailchimp]
type = "mailchimp"
api_key = "${MAILCHIMP_API_KEY}"
base_url = "${MAILCHIMP_BASE_URL}"
max_retries = 1

[connections.pg]
type = "postgres"
url = "${PG_URL}"
schema = ")" + pg.name() + R"("
connect_timeout = "5s"

[connections.files]
type = "csv"
path = "files"
)");
    project.write_sync("hubspot-mailchimp", read_source_file("syncs/hubspot-mailchimp.toml"));
    project.write_sync("oauth-contacts", R"(mode = "upsert"
[source]
connection = "hubspot_oauth"
object = "contacts"
fields = ["email", "firstname", "lastname"]
[destination]
connection = "files"
object = "oauth_contacts"
[match]
source = "email"
destination = "email"
normalize = ["trim", "lowercase"]
[field_map]
email = "email"
firstname = "first_name"
lastname = "last_name"
)");
    project.write_sync("csv-to-pg", R"(mode = "mirror"
manage_schema = "columns"
[source]
connection = "files"
object = "contacts"
key = "id"
[destination]
connection = "pg"
object = "contacts"
create_table = true
[match]
source = "email"
destination = "email"
normalize = ["trim", "lowercase"]
[field_map]
email = "email"
first_name = "first_name"
company = "company"
age = "age"
[schema]
email = { type = "email", required = true }
first_name = { type = "string" }
company = { type = "string" }
age = { type = "number" }
)");
    project.write_contacts_csv("files/contacts.csv", make_contacts(40));

    const std::string& pg_url = pg.url();
    env = {{"HUBSPOT_TOKEN", kHubspotToken},
           {"HUBSPOT_BASE_URL", hubspot.base_url()},
           {"HUBSPOT_CLIENT_ID", hubspot_options().client_id},
           {"HUBSPOT_CLIENT_SECRET", kClientSecret},
           {"HUBSPOT_REFRESH_TOKEN", kRefreshToken},
           {"HUBSPOT_OAUTH_BASE_URL", hubspot.base_url()},
           {"MAILCHIMP_API_KEY", kMailchimpKey},
           {"MAILCHIMP_BASE_URL", mailchimp.base_url()},
           {"PG_URL", pg_url}};
    const std::string pg_password = testing::pg_url_password(pg_url);
    REQUIRE(pg_password.size() >= 8);
    secrets = {kHubspotToken, "hubspot-token-31337", kClientSecret, kRefreshToken, kMailchimpKeyPart, pg_password,
               // The encodings a careless program would print: Mailchimp's Basic credentials.
               base64("anystring:" + kMailchimpKey), base64("synctool:" + kMailchimpKey),
               "5ec2e7"};
  }

  Result run(std::vector<std::string> args, const Env& overrides = {}) {
    Env e = env;
    for (const auto& [k, v] : overrides) e[k] = v;
    return run_with(project, std::move(args), e);
  }

  // Catch2 checks: no secret (nor anything `extra` names) in the output of `r` or in any file
  // of the project other than its spec files; every state folder is 0700.
  void check_no_secret(const Result& r, const std::set<std::string>& extra = {}) const {
    INFO(r.describe());
    std::vector<std::string> needles = secrets;
    needles.insert(needles.end(), extra.begin(), extra.end());
    for (const auto& needle : needles) {
      INFO("secret " << needle);
      CHECK(leaks(needle, r, project.path(".synctool")) == "");
      CHECK(leaks(needle, Result{}, project.path("files")) == "");
    }
    const fs::path state = project.path(".synctool");
    if (!fs::exists(state)) return;
    CHECK(mode_of(state) == 0700);
    for (const auto& entry : fs::directory_iterator(state))
      if (entry.is_directory()) {
        INFO(entry.path());
        CHECK(mode_of(entry.path()) == 0700);
      }
  }

  static unsigned mode_of(const fs::path& path) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return st.st_mode & 0777;
  }
};

// Every command of the CLI with `-v`, as text and as JSON.
std::vector<std::vector<std::string>> every_command() {
  std::vector<std::vector<std::string>> commands = {
      {"check"},
      {"check", "--connect"},
      {"diff", "hubspot-mailchimp"},
      {"diff", "csv-to-pg"},
      {"schema", "csv-to-pg"},
      {"schema", "csv-to-pg", "--apply"},
      {"run", "hubspot-mailchimp"},
      {"run", "--all"},
      {"run", "hubspot-mailchimp", "--full"},
      {"diff", "oauth-contacts", "--full"},
      {"status"},
      {"runs"},
      {"runs", "csv-to-pg", "-n", "5"},
      {"state", "show", "hubspot-mailchimp"},
      {"state", "show", "oauth-contacts"},
      {"state", "show", "csv-to-pg"},
      {"state", "reset", "oauth-contacts"},
      {"run", "oauth-contacts"},
  };
  std::vector<std::vector<std::string>> out;
  for (const auto& c : commands) {
    auto verbose = c;
    verbose.push_back("-v");
    out.push_back(verbose);
    verbose.push_back("--json");
    out.push_back(verbose);
  }
  return out;
}

// The commands that touch the systems, for the error paths.
std::vector<std::vector<std::string>> connecting_commands(const std::string& sync) {
  return {{"check", "--connect", "-v"},        {"check", "--connect", "-v", "--json"}, {"diff", sync, "-v"},
          {"diff", sync, "-v", "--json"},      {"run", sync, "-v"},                   {"run", sync, "-v", "--json"},
          {"run", sync, "--full", "-v", "--json"}, {"runs", sync, "-v", "--json"},      {"state", "show", sync, "-v"}};
}

}  // namespace

TEST_CASE("secrets: every command in verbose and JSON form shows no credential, and the state folders are 0700",
          "[e2e][secrets]") {
  SecretsWorld world;
  for (const auto& args : every_command()) {
    auto r = world.run(args);
    INFO(r.describe());
    CHECK((r.exit_code == 0 || r.exit_code == 1));  // 1: the sample data holds addresses Mailchimp refuses
    world.check_no_secret(r);
  }
  // The runs did happen (the check above is not vacuous): records in Mailchimp, PostgreSQL and
  // the CSV file, run history in the state.
  CHECK(world.mailchimp.members(world.mailchimp.list_id("main-audience")).size() > 10);
  CHECK(world.pg.query("SELECT count(*) FROM contacts") == "40");
  CHECK(fs::exists(world.project.path("files/oauth_contacts.csv")));
  auto runs = world.run({"runs", "--json"});
  REQUIRE(runs.exit_code == 0);
  CHECK(runs.json().at("runs").size() >= 5);
}

TEST_CASE("secrets: refused credentials, unreachable servers and failing servers show no credential",
          "[e2e][secrets]") {
  SecretsWorld world;
  auto baseline = world.run({"run", "--all", "--json"});
  INFO(baseline.describe());
  REQUIRE((baseline.exit_code == 0 || baseline.exit_code == 1));
  // A changed row, so that runs of csv-to-pg need PostgreSQL (an incremental run with nothing
  // to write never connects to the destination).
  world.project.write_contacts_csv("files/contacts.csv", make_contacts(41));

  // The wrong secrets are recognisable too.
  const std::string wrong_token = "pat-na1-wrong-5ec2e7-token-424242";
  const std::string wrong_key = "0badc0de5ec2e70badc0de5ec2e70bad-us6";
  const std::string wrong_refresh = "oauth-refresh-wrong-5ec2e7-424242";
  const std::string wrong_pg = testing::pg_url_with_password(world.pg.url(), "wrong-pg-5ec2e7-password");
  const std::string refused_port = "http://127.0.0.1:9";  // discard port: nothing listens there

  struct Case {
    std::string name, sync;
    Env env;
    std::set<std::string> extra;
  };
  const std::vector<Case> cases = {
      {"wrong HubSpot token (401)", "hubspot-mailchimp", {{"HUBSPOT_TOKEN", wrong_token}}, {wrong_token}},
      {"wrong Mailchimp key (401)", "hubspot-mailchimp", {{"MAILCHIMP_API_KEY", wrong_key}}, {"0badc0de5ec2e70badc0de"}},
      {"refused OAuth refresh token", "oauth-contacts", {{"HUBSPOT_REFRESH_TOKEN", wrong_refresh}}, {wrong_refresh}},
      {"wrong PostgreSQL password", "csv-to-pg", {{"PG_URL", wrong_pg}}, {"wrong-pg-5ec2e7-password"}},
      {"PostgreSQL not listening", "csv-to-pg", {{"PG_URL", testing::pg_url_with_port(world.pg.url(), "9")}}, {}},
      {"HubSpot not listening", "hubspot-mailchimp", {{"HUBSPOT_BASE_URL", refused_port}}, {}},
      {"Mailchimp not listening", "hubspot-mailchimp", {{"MAILCHIMP_BASE_URL", refused_port + "/3.0"}}, {}},
  };
  for (const auto& c : cases) {
    for (const auto& args : connecting_commands(c.sync)) {
      INFO(c.name);
      auto r = world.run(args, c.env);
      INFO(r.describe());
      if (args[0] != "runs" && args[0] != "state") CHECK(r.exit_code == 3);
      world.check_no_secret(r, c.extra);
    }
  }

  // Servers that fail every call: 5xx and 429 storms until the retries give up, malformed
  // answers, timeouts.
  hs::HubspotFaults storm;
  storm.rate_500 = 1;
  world.hubspot.set_faults(storm);
  em::MailchimpFaults malformed;
  malformed.rate_malformed = 1;
  world.mailchimp.set_faults(malformed);
  for (const auto& args : connecting_commands("hubspot-mailchimp")) {
    auto r = world.run(args);
    world.check_no_secret(r);
  }
  // A 429 storm (each answer makes synctool wait out HubSpot's 10-second window): one run.
  hs::HubspotFaults throttled;
  throttled.rate_429 = 1;
  world.hubspot.set_faults(throttled);
  auto run_throttled = world.run({"run", "hubspot-mailchimp", "-v", "--json"});
  CHECK(run_throttled.exit_code == 3);
  world.check_no_secret(run_throttled);
  world.hubspot.set_faults({});
  em::MailchimpFaults slow;
  slow.rate_timeout = 1;
  slow.timeout_ms = 3000;
  world.mailchimp.set_faults(slow);
  auto timed_out = world.run({"run", "hubspot-mailchimp", "--full", "-v", "--json"});
  world.check_no_secret(timed_out);
}

TEST_CASE("secrets: a server that echoes the credentials it received in its error bodies does not make synctool "
          "show them",
          "[e2e][secrets]") {
  SecretsWorld world;
  EchoServer echo;
  const Env to_echo = {{"HUBSPOT_BASE_URL", echo.url()},
                       {"HUBSPOT_OAUTH_BASE_URL", echo.url()},
                       {"MAILCHIMP_BASE_URL", echo.url() + "/3.0"}};
  for (int status : {401, 403, 400, 500, 200}) {
    INFO("the server answers " << status);
    echo.answer(status);
    for (const char* sync : {"hubspot-mailchimp", "oauth-contacts"})
      for (const auto& args : connecting_commands(sync)) {
        auto r = world.run(args, to_echo);
        if (args[0] == "run") CHECK(r.exit_code != 0);
        world.check_no_secret(r, echo.received());
      }
  }
  // The server did receive the credentials (so the checks above compared real values).
  auto received = echo.received();
  REQUIRE(!received.empty());
  bool bearer = false, basic = false;
  for (const auto& value : received) {
    bearer = bearer || value.find(kHubspotToken) != std::string::npos;
    basic = basic || value.starts_with("Basic ");
  }
  CHECK(bearer);
  CHECK(basic);
}

TEST_CASE("secrets: spec errors on lines holding a secret, and a secret written into the spec itself, are never "
          "shown",
          "[e2e][secrets]") {
  SecretsWorld world;
  // The main job only, on a synctool.toml whose last table is the HubSpot connection under test.
  fs::remove_all(world.project.path("syncs"));
  world.project.write_sync("hubspot-mailchimp", read_source_file("syncs/hubspot-mailchimp.toml"));
  const std::string config = R"(state_dir = ".synctool"

[connections.mailchimp]
type = "mailchimp"
api_key = "${MAILCHIMP_API_KEY}"
base_url = "${MAILCHIMP_BASE_URL}"

[connections.hubspot]
type = "hubspot"
base_url = "${HUBSPOT_BASE_URL}"
)";
  const fs::path state = world.project.path(".synctool");

  auto check_spec_error = [&](const std::string& text, const std::string& expect) {
    world.project.write_config(text);
    for (const auto& args : std::vector<std::vector<std::string>>{{"check", "-v"},
                                                                  {"check", "-v", "--json"},
                                                                  {"check", "--connect", "-v"},
                                                                  {"diff", "hubspot-mailchimp", "-v"},
                                                                  {"run", "--all", "-v", "--json"}}) {
      auto r = world.run(args);
      INFO(r.describe());
      CHECK(r.exit_code == 2);
      CHECK_THAT(r.out + r.err, Catch::Contains(expect));
      CHECK(leaks(kInlineToken, r, state) == "");
      CHECK(leaks("inline-5ec2e7", r, state) == "");
      world.check_no_secret(r);
    }
  };
  // A syntax error on the very line of an inline token.
  check_spec_error(config + "token = \"" + kInlineToken + "\" trailing garbage\n", "synctool.toml:11");
  // An unterminated string that runs into the secret.
  check_spec_error(config + "token = \"" + kInlineToken + "\nbase_url = \"x\"\n", "synctool.toml:11");
  // The wrong type for a secret key, and an unknown key holding a secret.
  check_spec_error(config + "token = [\"" + kInlineToken + "\"]\n", "synctool.toml:11:9: [connections.hubspot] token must be a text");
  check_spec_error(config + "token = \"${HUBSPOT_TOKEN}\"\ntokn = \"" + kInlineToken + "\"\n", "tokn");
  // A secret from an undefined variable inside a text that holds one.
  check_spec_error(config + "token = \"" + kInlineToken + "${NOT_DEFINED_5EC2E7}\"\n", "NOT_DEFINED_5EC2E7");

  // A valid spec with the token written inline (not from the environment): refused by the
  // server, yet never shown, nor stored.
  EchoServer echo;
  world.project.write_config(R"(state_dir = ".synctool"

[connections.mailchimp]
type = "mailchimp"
api_key = ")" + kMailchimpKey + R"("
base_url = ")" + echo.url() + R"(/3.0"

[connections.hubspot]
type = "hubspot"
token = ")" + kInlineToken + R"("
base_url = ")" + echo.url() + R"("
max_retries = 1
)");
  for (const auto& args : connecting_commands("hubspot-mailchimp")) {
    auto r = world.run(args);
    INFO(r.describe());
    CHECK(leaks(kInlineToken, r, state) == "");
    world.check_no_secret(r, echo.received());
  }
  REQUIRE(!echo.received().empty());
}

}  // namespace synctool::e2e
