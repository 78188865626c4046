// Operations hooks of `synctool run`: the Prometheus textfile each run writes (checked by the
// real promtool from Debian's prometheus package) and the [notify] webhook, posted to a local
// server on a change of a sync's health only.
#include "e2e/hubspot_fixtures.hpp"
#include "util/clock.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <httplib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>

namespace synctool::e2e {

namespace {

// `promtool check metrics < file`: its exit code and what it said.
std::pair<int, std::string> promtool_check(const fs::path& file) {
  std::string command = "promtool check metrics < '" + file.string() + "' 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string said;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe)) said += buffer;
  int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, said};
}

bool promtool_installed() { return std::system("command -v promtool > /dev/null 2>&1") == 0; }

// The value of the sample `name{labels}` in a textfile; nullopt when absent.
std::optional<std::string> sample(const std::string& text, const std::string& name_and_labels) {
  auto at = text.find("\n" + name_and_labels + " ");
  if (at == std::string::npos) return std::nullopt;
  auto start = at + 1 + name_and_labels.size() + 1;
  return text.substr(start, text.find('\n', start) - start);
}

std::string seconds_of(const std::string& iso) {
  auto ms = util::parse_iso8601(iso);
  REQUIRE(ms.has_value());
  return std::to_string(*ms / 1000) + "." + fmt::format("{:03}", *ms % 1000);
}

std::vector<std::string> files_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

ino_t inode_of(const fs::path& file) {
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  return st.st_ino;
}

// A webhook receiver on 127.0.0.1: keeps every POST body, answers with a chosen status.
class Webhook {
 public:
  Webhook() {
    server_.Post(".*", [this](const httplib::Request& req, httplib::Response& res) {
      {
        std::lock_guard lock(mutex_);
        bodies_.push_back(req.body);
        paths_.push_back(req.path);
        content_types_.push_back(req.get_header_value("Content-Type"));
      }
      res.status = status_.load();
      res.set_content("ok", "text/plain");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~Webhook() { stop(); }
  Webhook(const Webhook&) = delete;
  Webhook& operator=(const Webhook&) = delete;

  void stop() {
    if (!thread_.joinable()) return;
    server_.stop();
    thread_.join();
  }
  // The path plays a Slack webhook's secret part.
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/services/T01/B02/" + kSecret; }
  void answer(int status) { status_ = status; }
  std::vector<std::string> take() {
    std::lock_guard lock(mutex_);
    return std::exchange(bodies_, {});
  }
  std::string last_content_type() {
    std::lock_guard lock(mutex_);
    return content_types_.empty() ? "" : content_types_.back();
  }

  static constexpr const char* kSecret = "Xq9secretWebhookPath";

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<int> status_{200};
  std::mutex mutex_;
  std::vector<std::string> bodies_, paths_, content_types_;
};

}  // namespace

TEST_CASE("metrics: every run replaces its sync's textfile atomically, promtool accepts it, and it says what the "
          "--json report says, failed runs included",
          "[e2e][metrics]") {
  REQUIRE(promtool_installed());  // Debian package prometheus (scripts/setup installs it)
  Project project;
  auto contacts = make_contacts(50);
  make_csv_to_sqlite(project, contacts, "mirror");
  project.write_config(std::string("metrics_dir = \"metrics\"\n") + kProjectToml);
  const auto file = project.path("metrics/synctool_contacts.prom");

  auto first = run_sync(project);
  INFO(first.describe());
  REQUIRE(first.exit_code == 0);
  REQUIRE(fs::exists(file));
  auto [rc, said] = promtool_check(file);
  INFO(said);
  CHECK(rc == 0);
  auto text = "\n" + project.read_file("metrics/synctool_contacts.prom");
  auto report = first.json();
  CHECK(sample(text, R"(synctool_sync_last_run_exit_code{sync="contacts"})") == "0");
  CHECK(sample(text, R"(synctool_sync_last_run_timestamp_seconds{sync="contacts"})") ==
        seconds_of(report.at("started_at")));
  CHECK(sample(text, R"(synctool_sync_last_success_timestamp_seconds{sync="contacts"})") ==
        seconds_of(report.at("started_at")));
  CHECK(sample(text, R"(synctool_sync_last_run_duration_seconds{sync="contacts"})") ==
        fmt::format("{:.3f}", report.at("duration_s").get<double>()));
  CHECK(sample(text, R"(synctool_sync_last_run_records{sync="contacts",side="destination",outcome="created"})") ==
        "50");
  CHECK(sample(text, R"(synctool_sync_last_run_read_records{sync="contacts",side="source"})") ==
        std::to_string(report.at("source").at("read").get<int>()));
  CHECK(sample(text, R"(synctool_sync_failed_rows{sync="contacts"})") == "0");
  CHECK(sample(text, R"(synctool_sync_open_conflicts{sync="contacts"})") == "0");
  CHECK(sample(text, R"(synctool_sync_paused{sync="contacts"})") == "0");
  CHECK(report.at("requests") == nlohmann::json::object());  // files and SQLite: no HTTP
  CHECK(text.find("synctool_sync_last_run_http_requests") == std::string::npos);
  CHECK(files_in(project.path("metrics")) == std::vector<std::string>{"synctool_contacts.prom"});

  // The next run renames a new file over the old one: another inode, one copy of each family,
  // no temporary file left beside it.
  const auto before = inode_of(file);
  contacts[3].company = "Changed";
  project.write_contacts_csv(kSourceCsv, contacts);
  auto second = run_sync(project);
  INFO(second.describe());
  REQUIRE(second.exit_code == 0);
  CHECK(inode_of(file) != before);
  text = "\n" + project.read_file("metrics/synctool_contacts.prom");
  CHECK(sample(text, R"(synctool_sync_last_run_records{sync="contacts",side="destination",outcome="updated"})") ==
        "1");
  CHECK(sample(text, R"(synctool_sync_last_run_records{sync="contacts",side="destination",outcome="created"})") ==
        "0");
  std::size_t types = 0;
  for (auto at = text.find("# TYPE synctool_sync_last_run_exit_code"); at != std::string::npos;
       at = text.find("# TYPE synctool_sync_last_run_exit_code", at + 1))
    ++types;
  CHECK(types == 1);
  CHECK(files_in(project.path("metrics")) == std::vector<std::string>{"synctool_contacts.prom"});
  const auto last_success = seconds_of(second.json().at("started_at"));

  // A run that fails (exit 3) writes its file too; the last success stays the one before.
  fs::rename(project.path("exports"), project.path("exports-away"));
  auto failed = run_sync(project);
  INFO(failed.describe());
  REQUIRE(failed.exit_code == 3);
  text = "\n" + project.read_file("metrics/synctool_contacts.prom");
  CHECK(sample(text, R"(synctool_sync_last_run_exit_code{sync="contacts"})") == "3");
  CHECK(sample(text, R"(synctool_sync_last_run_timestamp_seconds{sync="contacts"})") ==
        seconds_of(failed.json().at("started_at")));
  CHECK(sample(text, R"(synctool_sync_last_success_timestamp_seconds{sync="contacts"})") == last_success);
  std::tie(rc, said) = promtool_check(file);
  CHECK(rc == 0);

  // A safeguard (exit 4) likewise.
  fs::rename(project.path("exports-away"), project.path("exports"));
  project.write_contacts_csv(kSourceCsv, {});
  auto guarded = run_sync(project);
  INFO(guarded.describe());
  REQUIRE(guarded.exit_code == 4);
  text = "\n" + project.read_file("metrics/synctool_contacts.prom");
  CHECK(sample(text, R"(synctool_sync_last_run_exit_code{sync="contacts"})") == "4");
}

TEST_CASE("metrics: --metrics-file takes one sync, run --all writes each sync's own file, and a metrics file that "
          "cannot be written is a warning that leaves the exit code alone",
          "[e2e][metrics]") {
  Project project;
  make_csv_to_sqlite(project, make_contacts(10));
  project.write_sync("copy", contacts_sync_toml());  // a second sync, same systems
  project.write_config(std::string("metrics_dir = \"metrics\"\n") + kProjectToml);

  auto one = project.run({"run", kSync, "--metrics-file", "out/one.prom"});
  INFO(one.describe());
  REQUIRE(one.exit_code == 0);
  CHECK(fs::exists(project.path("out/one.prom")));
  CHECK(project.read_file("out/one.prom") == project.read_file("metrics/synctool_contacts.prom"));

  auto several = project.run({"run", "--all", "--metrics-file", "out/all.prom"});
  INFO(several.describe());
  CHECK(several.exit_code == 2);
  CHECK_THAT(several.err, Catch::Contains("--metrics-file takes the metrics of one sync"));
  CHECK_FALSE(fs::exists(project.path("out/all.prom")));

  auto all = project.run({"run", "--all"});
  INFO(all.describe());
  REQUIRE(all.exit_code == 0);
  CHECK(files_in(project.path("metrics")) ==
        std::vector<std::string>{"synctool_contacts.prom", "synctool_copy.prom"});
  CHECK_THAT(project.read_file("metrics/synctool_copy.prom"), Catch::Contains(R"({sync="copy"})"));

  // pause and resume say so in the sync's file at once: a paused sync runs no more, and an
  // alert on its ageing last success must be able to leave it out.
  CHECK_THAT(project.read_file("metrics/synctool_copy.prom"), Catch::Contains("synctool_sync_paused{sync=\"copy\"} 0\n"));
  REQUIRE(project.run({"pause", "copy", "--reason", "maintenance"}).exit_code == 0);
  CHECK_THAT(project.read_file("metrics/synctool_copy.prom"), Catch::Contains("synctool_sync_paused{sync=\"copy\"} 1\n"));
  CHECK_THAT(project.read_file("metrics/synctool_contacts.prom"), Catch::Contains("synctool_sync_paused{sync=\"contacts\"} 0\n"));
  REQUIRE(project.run({"resume", "copy"}).exit_code == 0);
  CHECK_THAT(project.read_file("metrics/synctool_copy.prom"), Catch::Contains("synctool_sync_paused{sync=\"copy\"} 0\n"));

  // metrics_dir is a file: no folder can be made there. The run itself is fine.
  project.write_file("blocked", "a file, not a folder\n");
  project.write_config(std::string("metrics_dir = \"blocked\"\n") + kProjectToml);
  auto warned = project.run({"run", kSync});
  INFO(warned.describe());
  CHECK(warned.exit_code == 0);
  CHECK_THAT(warned.err, Catch::Contains("synctool: warning: cannot write the metrics file") &&
                             Catch::Contains("synctool_contacts.prom"));
}

TEST_CASE("metrics: requests and 429s per HTTP connection, in the --json report and the textfile alike",
          "[e2e][metrics][hubspot]") {
  REQUIRE(promtool_installed());
  auto options = generous_emulator_options();
  options.window_ms = 1000;  // an honoured 429 waits one window: keep it short
  hs::HubspotEmulator emu(options);
  start_emulator(emu);
  Project project;
  write_hubspot_project(project, connection_to(emu, [](HubspotConnection& c) { c.rate_limit = "1000/1s"; }));
  project.write_config("metrics_dir = \"metrics\"\n" + project.read_file("synctool.toml"));
  project.write_sync(kToHubspot, people_to_hubspot_toml());
  write_people(project, make_contacts(30));
  hs::HubspotFaults faults;
  faults.rate_429 = 1;
  faults.max_faults = 2;
  emu.set_faults(faults);
  emu.reset_stats();

  auto r = project.run({"run", kToHubspot, "--json"}, hubspot_env());
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  auto requests = r.json().at("requests");
  REQUIRE(requests.contains("hubspot"));
  CHECK(requests.size() == 1);  // the SQLite side sends none
  const auto stats = emu.stats();
  INFO("emulator: " << stats.dump());
  CHECK(requests.at("hubspot").at("throttled") == 2);
  CHECK(requests.at("hubspot").at("requests") == stats.at("requests"));
  CHECK(requests.at("hubspot").at("retries").get<int>() >= 2);

  const auto file = project.path("metrics/synctool_" + std::string(kToHubspot) + ".prom");
  auto text = "\n" + project.read_file("metrics/synctool_" + std::string(kToHubspot) + ".prom");
  CHECK(sample(text, R"(synctool_sync_last_run_http_requests{sync="to_hubspot",connection="hubspot"})") ==
        std::to_string(requests.at("hubspot").at("requests").get<int>()));
  CHECK(sample(text, R"(synctool_sync_last_run_http_throttled_responses{sync="to_hubspot",connection="hubspot"})") ==
        "2");
  auto [rc, said] = promtool_check(file);
  INFO(said);
  CHECK(rc == 0);
  CHECK(text.find(kEmulatorToken) == std::string::npos);
}

TEST_CASE("notify: posts once when a sync starts failing, not again while it fails, once when it recovers, once "
          "when a safeguard trips; a webhook that fails never changes the exit code; the url never shows",
          "[e2e][notify]") {
  Webhook hook;
  Project project;
  auto contacts = make_contacts(40);
  make_csv_to_sqlite(project, contacts, "mirror");
  project.write_config(std::string(kProjectToml) + "\n[notify]\nurl = \"${SYNC_WEBHOOK}\"\n");
  const Env env{{"SYNC_WEBHOOK", hook.url()}};
  auto run = [&](std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"run", kSync, "--json", "-v"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = project.run(args, env);
    CHECK(r.out.find(Webhook::kSecret) == std::string::npos);
    CHECK(r.err.find(Webhook::kSecret) == std::string::npos);
    return r;
  };

  auto ok = run();
  INFO(ok.describe());
  REQUIRE(ok.exit_code == 0);
  CHECK(hook.take().empty());  // a first run that is fine: nothing to say

  fs::rename(project.path("exports"), project.path("exports-away"));
  auto failing = run();
  INFO(failing.describe());
  REQUIRE(failing.exit_code == 3);
  auto posts = hook.take();
  REQUIRE(posts.size() == 1);
  CHECK(hook.last_content_type() == "application/json");
  auto message = nlohmann::json::parse(posts[0]);
  CHECK_THAT(message.at("text").get<std::string>(),
             Catch::StartsWith("synctool: sync 'contacts' is failing (was ok), exit 3: ") &&
                 Catch::Contains("exports"));
  CHECK(message.at("synctool").at("event") == "failing");
  CHECK(message.at("synctool").at("exit_code") == 3);
  CHECK(message.at("synctool").at("error") == failing.json().at("error"));

  auto still = run();
  REQUIRE(still.exit_code == 3);
  CHECK(hook.take().empty());  // still failing: no news

  fs::rename(project.path("exports-away"), project.path("exports"));
  auto recovered = run();
  REQUIRE(recovered.exit_code == 0);
  posts = hook.take();
  REQUIRE(posts.size() == 1);
  message = nlohmann::json::parse(posts[0]);
  CHECK(message.at("synctool").at("event") == "recovered");
  CHECK_THAT(message.at("text").get<std::string>(), Catch::Contains("is ok (was failing), exit 0"));

  project.write_contacts_csv(kSourceCsv, {});  // the source comes back empty: safeguard
  auto guarded = run();
  REQUIRE(guarded.exit_code == 4);
  posts = hook.take();
  REQUIRE(posts.size() == 1);
  CHECK(nlohmann::json::parse(posts[0]).at("synctool").at("event") == "safeguard");
  REQUIRE(run().exit_code == 4);
  CHECK(hook.take().empty());

  // The webhook answers 500: one retry, a warning, and the run's own exit code.
  hook.answer(500);
  project.write_contacts_csv(kSourceCsv, contacts);
  auto unheard = run();
  INFO(unheard.describe());
  CHECK(unheard.exit_code == 0);
  CHECK(hook.take().size() == 2);  // the first attempt and one retry
  CHECK_THAT(unheard.err, Catch::Contains("synctool: warning: [notify] webhook for sync 'contacts'"));
  CHECK(unheard.err.find(hook.url()) == std::string::npos);

  // The webhook is down: same.
  hook.stop();
  fs::rename(project.path("exports"), project.path("exports-away"));
  auto down = run();
  INFO(down.describe());
  CHECK(down.exit_code == 3);
  CHECK_THAT(down.err, Catch::Contains("synctool: warning: [notify] webhook for sync 'contacts' failed"));
}

}  // namespace synctool::e2e
