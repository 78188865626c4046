// Push sources end to end: `synctool ingest` verifies and spools webhook deliveries, `synctool
// run` applies them to a SQLite table. Signatures (HMAC-SHA256 and HubSpot v3: good, bad,
// missing, expired, replayed), malformed payloads, the spec's limits, the CGI receiver script,
// and a soak of thousands of deliveries with SIGKILLs during ingests and runs while runs drain
// the spool.
#include "connectors/push/push_signature.hpp"
#include "e2e/harness.hpp"
#include "state/lmdb_store.hpp"
#include "util/clock.hpp"

#include <catch2/catch.hpp>

#include <signal.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <random>
#include <thread>

namespace synctool::e2e {

namespace {

constexpr const char* kSecret = "shh-push-secret-4f1c9a";
constexpr const char* kHubSpotSecret = "hubspot-app-secret-7d2e";
constexpr const char* kShopSync = "shop";
constexpr const char* kHooksSync = "hooks";

const Env kEnv = {{"SHOP_SECRET", kSecret}, {"HUBSPOT_APP_SECRET", kHubSpotSecret}};

// Two push connections (a shop signing bodies with HMAC-SHA256 and sending a delivery id header;
// HubSpot's webhooks with the v3 signature) into tables of warehouse.db.
void make_push_project(const Project& project) {
  project.write_config(R"(state_dir = ".synctool"

[connections.shop]
type = "push"
secret = "${SHOP_SECRET}"
signature = "hmac-sha256"
rows = "$.events[*]"
key = "id"
tombstone = "deleted"
delivery_id = "X-Delivery-Id"

[connections.hubspot_hooks]
type = "push"
secret = "${HUBSPOT_APP_SECRET}"
signature = "hubspot-v3"
rows = "$[*]"
key = "objectId"

[connections.warehouse]
type = "sqlite"
path = "warehouse.db"
)");
  project.write_sync(kShopSync, R"(direction = "one-way"
mode      = "mirror"

[source]
connection = "shop"
object     = "customers"

[destination]
connection = "warehouse"
object     = "customers"
key        = "id"

[match]
source      = "id"
destination = "id"

[field_map]
id    = "id"
email = "email"
name  = "name"

[deletes]
propagate = "delete"
max       = "100%"
)");
  project.write_sync(kHooksSync, R"(direction = "one-way"
mode      = "upsert"

[source]
connection = "hubspot_hooks"
object     = "contact_changes"

[destination]
connection = "warehouse"
object     = "changes"
key        = "object_id"

[match]
source      = "objectId"
destination = "object_id"

[field_map]
objectId      = "object_id"
propertyValue = "value"
)");
  Db db(project.path("warehouse.db"));
  db.exec("CREATE TABLE customers (id TEXT PRIMARY KEY, email TEXT, name TEXT)");
  db.exec("CREATE TABLE changes (object_id TEXT PRIMARY KEY, value TEXT)");
}

// The least a sync says: `from` (connection, object) to `to` (connection, object, key column),
// matched and mapped by `field`.
std::string minimal_sync(const std::string& direction, std::pair<std::string, std::string> from,
                         std::pair<std::string, std::string> to, const std::string& field) {
  return "direction = \"" + direction + "\"\n[source]\nconnection = \"" + from.first + "\"\nobject     = \"" +
         from.second + "\"\nkey        = \"" + field + "\"\n[destination]\nconnection = \"" + to.first +
         "\"\nobject     = \"" + to.second + "\"\nkey        = \"" + field + "\"\n[match]\nsource      = \"" +
         field + "\"\ndestination = \"" + field + "\"\n[field_map]\n" + field + " = \"" + field + "\"\n";
}

nlohmann::json event(const std::string& id, const std::string& email, const std::string& name) {
  return {{"id", id}, {"email", email}, {"name", name}};
}
nlohmann::json tombstone(const std::string& id) { return {{"id", id}, {"deleted", true}}; }
// The shop's body: {"events": [...]}, rows in order.
std::string shop_body(const std::vector<nlohmann::json>& events) {
  nlohmann::json body = {{"events", nlohmann::json::array()}};
  for (const auto& e : events) body["events"].push_back(e);
  return body.dump();
}

std::atomic<int> body_counter{0};

// `synctool ingest` of `body` with these headers (the body through a file).
Result ingest(const Project& project, const std::string& sync, const std::string& body,
              const std::vector<std::string>& headers, std::vector<std::string> extra = {}) {
  const auto file = "body-" + std::to_string(body_counter++) + ".json";
  project.write_file(file, body);
  std::vector<std::string> args = {"ingest", sync, "--body", file, "--json"};
  for (const auto& header : headers) {
    args.push_back("--header");
    args.push_back(header);
  }
  args.insert(args.end(), extra.begin(), extra.end());
  auto result = project.run(args, kEnv);
  fs::remove(project.path(file));
  return result;
}

// A shop delivery as the shop sends it: signed, with its delivery id.
Result ingest_shop(const Project& project, const std::string& body, const std::string& delivery_id) {
  return ingest(project, kShopSync, body,
                {"X-Signature-256: " + connectors::push::sign_hmac_sha256(kSecret, body),
                 "X-Delivery-Id: " + delivery_id});
}

std::size_t spooled(const Project& project, const std::string& sync) {
  auto store = state::open_lmdb_store(project.state_dir(sync), true);
  return store ? store->spooled_count() : 0;
}

std::map<std::string, Row> customers(const Project& project) {
  Db db(project.path("warehouse.db"));
  return index_by(db.query("SELECT id, email, name FROM customers"), "id");
}

Result run_sync(const Project& project, const std::string& sync) {
  return project.run({"run", sync, "--json"}, kEnv);
}

}  // namespace

TEST_CASE("push: a signed delivery is spooled durably, the next run applies it, and a repeated delivery id is a no-op",
          "[push]") {
  Project project;
  make_push_project(project);

  auto first = shop_body({event("c1", "ann@example.com", "Ann"), event("c2", "bob@example.com", "Bob"),
                          event("c3", "cy@example.com", "Cy")});
  auto r = ingest_shop(project, first, "d-1");
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  CHECK(r.json().at("delivery") == 1);
  CHECK(r.json().at("rows") == 3);
  CHECK(r.json().at("duplicate") == false);
  CHECK(spooled(project, kShopSync) == 1);

  // The sender retries (it did not hear the 200): nothing new is spooled.
  r = ingest_shop(project, first, "d-1");
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  CHECK(r.json().at("duplicate") == true);
  CHECK(r.json().at("delivery") == 1);
  CHECK(spooled(project, kShopSync) == 1);

  auto shown = project.run({"state", "show", kShopSync, "--json"}, kEnv);
  INFO(shown.describe());
  REQUIRE(shown.exit_code == 0);
  CHECK(shown.json().at("spool") == nlohmann::json({{"deliveries", 1}, {"waiting", 1}, {"pushed_records", 3}}));

  r = project.run({"run", kShopSync, "--json", "--metrics-file", "shop.prom"}, kEnv);
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  CHECK(project.read_file("shop.prom").find("synctool_sync_spool_waiting_deliveries{sync=\"shop\"} 0") !=
        std::string::npos);
  auto rows = customers(project);
  REQUIRE(rows.size() == 3);
  CHECK(rows.at("c2").at("email") == "bob@example.com");

  // An update, a delete and a new record in one delivery; then the run in between drains.
  r = ingest_shop(project,
                  shop_body({event("c1", "ann@example.org", "Ann B"), tombstone("c2"), event("c4", "di@example.com", "Di")}),
                  "d-2");
  REQUIRE(r.exit_code == 0);
  CHECK(r.json().at("delivery") == 2);
  r = run_sync(project, kShopSync);
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  rows = customers(project);
  CHECK(rows.size() == 3);
  CHECK(rows.at("c1").at("email") == "ann@example.org");
  CHECK(rows.at("c1").at("name") == "Ann B");
  CHECK_FALSE(rows.count("c2"));
  CHECK(rows.at("c4").at("name") == "Di");

  // Nothing new: the run writes nothing, and drains what the last one applied.
  r = run_sync(project, kShopSync);
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  CHECK(writes(r.json()) == 0);
  CHECK(spooled(project, kShopSync) == 0);

  // A replay of the old first delivery (its id is remembered) cannot undo the update.
  r = ingest_shop(project, first, "d-1");
  REQUIRE(r.exit_code == 0);
  CHECK(r.json().at("duplicate") == true);
  r = run_sync(project, kShopSync);
  REQUIRE(r.exit_code == 0);
  CHECK(customers(project).at("c1").at("email") == "ann@example.org");

  // A full run reads the latest row of every record: the destination's drift is repaired.
  Db(project.path("warehouse.db")).exec("UPDATE customers SET name = 'drifted' WHERE id = 'c4'");
  r = project.run({"run", kShopSync, "--full", "--json"}, kEnv);
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  rows = customers(project);
  CHECK(rows.size() == 3);
  CHECK(rows.at("c4").at("name") == "Di");
}

TEST_CASE("push: bad, missing and foreign signatures are refused with exit 2, nothing spooled and no secret shown",
          "[push]") {
  Project project;
  make_push_project(project);
  const auto body = shop_body({event("c1", "ann@example.com", "Ann")});
  const auto good = connectors::push::sign_hmac_sha256(kSecret, body);

  struct Refused {
    std::string what;
    std::vector<std::string> headers;
    std::string reason;
  };
  std::string flipped = good;
  flipped.back() = flipped.back() == '0' ? '1' : '0';
  const std::vector<Refused> cases = {
      {"no signature header", {"X-Delivery-Id: d-1"}, "X-Signature-256"},
      {"a signature one digit off", {"X-Signature-256: " + flipped}, "does not match"},
      {"a signature of another body",
       {"X-Signature-256: " + connectors::push::sign_hmac_sha256(kSecret, body + " ")}, "does not match"},
      {"a signature made with another secret",
       {"X-Signature-256: " + connectors::push::sign_hmac_sha256("not-the-secret", body)}, "does not match"},
      {"a signature that is not hex or base64", {"X-Signature-256: sha256=zz"}, "signature"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    auto r = ingest(project, kShopSync, body, c.headers);
    INFO(r.describe());
    CHECK(r.exit_code == 2);
    CHECK(r.err.find(c.reason) != std::string::npos);
    CHECK(r.err.find("nothing was spooled") != std::string::npos);
    CHECK(r.err.find(kSecret) == std::string::npos);
    CHECK(r.out.find(kSecret) == std::string::npos);
    CHECK(r.out.find(good.substr(7)) == std::string::npos);  // nor the signature it expected
    CHECK(r.err.find(good.substr(7)) == std::string::npos);
  }
  CHECK(spooled(project, kShopSync) == 0);

  // HubSpot v3: the method, URL, body and timestamp are signed; the timestamp must be recent.
  const std::string url = "https://hooks.example.com/hubspot?portal=62515";
  const std::string hooks_body =
      R"([{"eventId":1,"subscriptionType":"contact.propertyChange","objectId":123,"propertyName":"email","propertyValue":"x@example.com"}])";
  auto hubspot = [&](std::int64_t timestamp_ms, const std::string& sign_url, const std::string& sent_body) {
    const auto ts = std::to_string(timestamp_ms);
    return ingest(project, kHooksSync, sent_body,
                  {"X-HubSpot-Signature-v3: " +
                       connectors::push::sign_hubspot_v3(kHubSpotSecret, "POST", sign_url, hooks_body, ts),
                   "X-HubSpot-Request-Timestamp: " + ts},
                  {"--url", url});
  };
  const auto now = util::system_clock().now_ms();
  auto r = hubspot(now - 6 * 60 * 1000, url, hooks_body);
  INFO(r.describe());
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("old") != std::string::npos);
  r = hubspot(now, "https://hooks.example.com/other", hooks_body);
  CHECK(r.exit_code == 2);
  r = hubspot(now, url, hooks_body + " ");
  CHECK(r.exit_code == 2);
  // Without --url a v3 signature cannot be checked.
  r = ingest(project, kHooksSync, hooks_body, {"X-HubSpot-Signature-v3: x", "X-HubSpot-Request-Timestamp: 1"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("--url") != std::string::npos);
  CHECK(spooled(project, kHooksSync) == 0);

  // A good one is taken; the same request replayed (same timestamp, same signature) is a no-op.
  const auto ts = now - 1000;
  r = hubspot(ts, url, hooks_body);
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  CHECK(r.json().at("duplicate") == false);
  r = hubspot(ts, url, hooks_body);
  REQUIRE(r.exit_code == 0);
  CHECK(r.json().at("duplicate") == true);
  CHECK(spooled(project, kHooksSync) == 1);
  r = run_sync(project, kHooksSync);
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  Db db(project.path("warehouse.db"));
  CHECK(db.query("SELECT value FROM changes WHERE object_id = '123'").at(0).at("value") == "x@example.com");
}

TEST_CASE("push: malformed deliveries are refused whole with exit 2 and a message naming what is wrong", "[push]") {
  Project project;
  make_push_project(project);
  struct Malformed {
    std::string body;
    std::string message;
  };
  const std::vector<Malformed> cases = {
      {"{\"events\": [", "not JSON"},
      {"{\"customers\": []}", "events"},
      {shop_body({event("c1", "a@example.com", "A"), {{"email", "b@example.com"}, {"name", "B"}}}), "row 2"},
      {shop_body({{{"id", "c1"}, {"name", "No Email"}}}), "email"},
      {shop_body({{{"id", "c1"}, {"email", "a@example.com"}, {"name", "A"}, {"deleted", "yes"}}}), "deleted"},
      {shop_body({"just text"}), "row 1"},
      {"{\"events\": [{\"id\": \"c1\", \"email\": \"\xff\xfe\", \"name\": \"A\"}]}", "UTF-8"},
      {std::string(100000, '['), "deep"},
  };
  int n = 0;
  for (const auto& c : cases) {
    INFO(c.body.substr(0, 120));
    auto r = ingest_shop(project, c.body, "bad-" + std::to_string(++n));
    INFO(r.describe());
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("malformed") != std::string::npos);
    CHECK(r.err.find(c.message) != std::string::npos);
    CHECK(r.err.find("nothing was spooled") != std::string::npos);
  }
  CHECK(spooled(project, kShopSync) == 0);
  // A good delivery after them goes through, and the run applies only it.
  auto r = ingest_shop(project, shop_body({event("c9", "ok@example.com", "Ok")}), "good");
  REQUIRE(r.exit_code == 0);
  CHECK(r.json().at("delivery") == 1);
  r = run_sync(project, kShopSync);
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  CHECK(customers(project).size() == 1);
}

TEST_CASE("push: a push connection can only be the source of a one-way sync, and ingest needs one", "[push]") {
  Project project;
  make_push_project(project);
  project.write_sync("backwards", minimal_sync("one-way", {"warehouse", "customers"}, {"shop", "customers"}, "id"));
  auto r = project.run({"check", "backwards"}, kEnv);
  INFO(r.describe());
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("backwards.toml:7:") != std::string::npos);  // [destination] connection
  CHECK(r.err.find("cannot be a destination") != std::string::npos);

  project.write_sync("both", minimal_sync("bidirectional", {"shop", "customers"}, {"warehouse", "customers"}, "id"));
  r = project.run({"check", "both"}, kEnv);
  INFO(r.describe());
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("one-way") != std::string::npos);

  project.write_sync("plain", minimal_sync("one-way", {"warehouse", "customers"}, {"warehouse", "changes"}, "id"));
  r = ingest(project, "plain", "{}", {});
  INFO(r.describe());
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("type push") != std::string::npos);

  // init scaffolds a push source (check passes once its secret is set), never a push destination.
  Project fresh;
  r = fresh.run({"init", "push", "sqlite", "--json"});
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  CHECK(r.json().at("variables") == nlohmann::json::array({"PUSH_SECRET"}));
  r = fresh.run({"check"}, {{"PUSH_SECRET", "init-test-secret"}});
  INFO(r.describe());
  CHECK(r.exit_code == 0);
  r = fresh.run({"init", "sqlite", "push", "--dir", "other"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("can only be a source") != std::string::npos);
}

TEST_CASE("push: the CGI receiver answers 200 only once a delivery is spooled, 400 for a bad one", "[push]") {
  Project project;
  make_push_project(project);
  const auto script = fs::path(SYNCTOOL_SOURCE_DIR) / "scripts" / "push-receiver.cgi";
  REQUIRE(fs::exists(script));
  // The web server's side of CGI: the request's headers as HTTP_* variables, the body on stdin.
  auto post = [&](const std::string& body, const std::string& signature, const std::string& delivery_id) {
    project.write_file("request.json", body);
    Env env = kEnv;
    env["REQUEST_METHOD"] = "POST";
    env["CONTENT_LENGTH"] = std::to_string(body.size());
    env["CONTENT_TYPE"] = "application/json";
    env["HTTP_X_SIGNATURE_256"] = signature;
    env["HTTP_X_DELIVERY_ID"] = delivery_id;
    env["HTTP_HOST"] = "hooks.example.com";
    env["REQUEST_URI"] = "/push/shop";
    env["SYNCTOOL"] = SYNCTOOL_BINARY;
    env["SYNCTOOL_PROJECT"] = project.root().string();
    env["SYNCTOOL_SYNC"] = kShopSync;
    std::string command = "cd " + project.root().string() + " && ";
    for (const auto& [k, v] : env) command += k + "='" + v + "' ";
    command += script.string() + " < request.json > response.txt 2>&1";
    int status = std::system(command.c_str());
    REQUIRE(WIFEXITED(status));
    return project.read_file("response.txt");
  };
  const auto body = shop_body({event("c1", "ann@example.com", "Ann")});
  auto response = post(body, connectors::push::sign_hmac_sha256(kSecret, body), "cgi-1");
  INFO(response);
  CHECK(response.starts_with("Status: 200"));
  CHECK(spooled(project, kShopSync) == 1);
  response = post(body, "sha256=" + std::string(64, '0'), "cgi-2");
  INFO(response);
  CHECK(response.starts_with("Status: 400"));
  CHECK(response.find(kSecret) == std::string::npos);
  CHECK(spooled(project, kShopSync) == 1);
  auto r = run_sync(project, kShopSync);
  REQUIRE(r.exit_code == 0);
  CHECK(customers(project).at("c1").at("name") == "Ann");
}

// Senders deliver in order, each retrying a delivery until `ingest` exits 0 (as a webhook sender
// retries until it hears 2xx), while runs drain the spool; SIGKILL hits ingests and runs at random
// moments. At the end every record holds the row of the last delivery that touched it (deleted
// when that was a tombstone): nothing acknowledged is lost, nothing older is applied over newer.
TEST_CASE("push: thousands of deliveries with SIGKILLs during ingests and runs lose nothing and apply nothing twice",
          "[push][crash]") {
  Project project;
  make_push_project(project);
  const char* env_count = std::getenv("SYNCTOOL_PUSH_DELIVERIES");
  // 2,000 in CI (each synctool process of the sanitized build takes 65 ms to start: 10,000
  // deliveries take 7 minutes on two cores); SYNCTOOL_PUSH_DELIVERIES=10000 for the full soak.
  const int deliveries = env_count ? std::atoi(env_count) : 2000;
  constexpr int kSenders = 4;
  constexpr int kKeysPerSender = 40;

  struct Expected {
    bool deleted = false;
    std::string email, name;
  };
  std::mutex mutex;
  std::map<std::string, Expected> expected;  // what the last acknowledged delivery said of each key
  std::atomic<int> acknowledged{0}, killed_ingests{0}, duplicates{0}, failures{0};
  std::atomic<bool> sending{true};
  std::condition_variable progress;  // a delivery was acknowledged, or the senders are done
  std::string failure;

  auto sender = [&](int s) {
    std::mt19937 rng(1000 + s);
    const int mine = deliveries / kSenders + (s < deliveries % kSenders ? 1 : 0);
    for (int i = 0; i < mine && failures == 0; ++i) {
      // One to three rows, one in seven a tombstone.
      std::vector<nlohmann::json> events;
      std::map<std::string, Expected> effect;
      const int rows = 1 + static_cast<int>(rng() % 3);
      for (int k = 0; k < rows; ++k) {
        const std::string id = "s" + std::to_string(s) + "-k" + std::to_string(rng() % kKeysPerSender);
        if (rng() % 7 == 0) {
          events.push_back(tombstone(id));
          effect[id] = {true, "", ""};
        } else {
          const auto email = id + "-" + std::to_string(i) + "@example.com";
          const auto name = "N" + std::to_string(i) + "." + std::to_string(k);
          events.push_back(event(id, email, name));
          effect[id] = {false, email, name};
        }
      }
      const auto body = shop_body(events);
      const auto id = "s" + std::to_string(s) + "-" + std::to_string(i);
      const auto file = "soak-" + std::to_string(s) + ".json";
      project.write_file(file, body);
      const std::vector<std::string> args = {"ingest",   kShopSync, "--body", file,
                                             "--header", "X-Signature-256: " + connectors::push::sign_hmac_sha256(kSecret, body),
                                             "--header", "X-Delivery-Id: " + id,
                                             "--json"};
      for (int attempt = 0;; ++attempt) {
        Spawned process(project.root(), args, kEnv);
        if (rng() % 16 == 0) {
          // Anywhere from start-up to after the commit (a sanitized ingest takes about 80 ms).
          std::this_thread::sleep_for(std::chrono::microseconds(rng() % 100000));
          process.kill(SIGKILL);
        }
        auto r = process.wait();
        if (r.exit_code == -SIGKILL) {
          ++killed_ingests;
          continue;  // the sender heard nothing: it sends the same delivery again
        }
        if (r.exit_code != 0 || attempt > 50) {
          std::lock_guard lock(mutex);
          failure = r.describe();
          ++failures;
          return;
        }
        if (r.json().at("duplicate") == true) ++duplicates;
        break;
      }
      {
        std::lock_guard lock(mutex);
        for (auto& [key, value] : effect) expected[key] = value;
        ++acknowledged;
      }
      progress.notify_all();
    }
  };

  std::atomic<int> runs{0}, killed_runs{0};
  std::string run_failure;
  auto runner = [&] {
    std::mt19937 rng(7);
    int ran_at = 0;
    while (sending) {
      {
        // A run every 20 acknowledged deliveries (runs then overlap the ingests, and the
        // deliveries of a killed run are read again by the next).
        std::unique_lock lock(mutex);
        progress.wait(lock, [&] { return !sending || acknowledged >= ran_at + 20; });
        ran_at = acknowledged;
      }
      Spawned process(project.root(), {"run", kShopSync, "--json"}, kEnv);
      if (rng() % 2 == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 150));
        process.kill(SIGKILL);
      }
      auto r = process.wait();
      ++runs;
      if (r.exit_code == -SIGKILL) {
        ++killed_runs;
      } else if (r.exit_code != 0 && r.exit_code != 5) {
        std::lock_guard lock(mutex);
        run_failure = r.describe();
        return;
      }
    }
  };

  std::vector<std::thread> threads;
  for (int s = 0; s < kSenders; ++s) threads.emplace_back(sender, s);
  std::thread running(runner);
  for (auto& t : threads) t.join();
  {
    std::lock_guard lock(mutex);
    sending = false;
  }
  progress.notify_all();
  running.join();
  INFO(failure);
  REQUIRE(failures == 0);
  INFO(run_failure);
  REQUIRE(run_failure.empty());
  CHECK(acknowledged == deliveries);
  WARN("deliveries " << deliveries << ", ingests killed " << killed_ingests << ", retries found spooled "
                     << duplicates << ", runs " << runs << " (" << killed_runs << " killed)");

  auto r = run_sync(project, kShopSync);
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  auto rows = customers(project);
  std::size_t live = 0, wrong = 0;
  std::string differences;
  for (const auto& [key, want] : expected) {
    auto it = rows.find(key);
    if (want.deleted) {
      if (it != rows.end() && ++wrong <= 5) differences += key + " should be deleted\n";
      continue;
    }
    ++live;
    if (it == rows.end()) {
      if (++wrong <= 5) differences += key + " is missing\n";
    } else if (it->second.at("email") != want.email || it->second.at("name") != want.name) {
      if (++wrong <= 5)
        differences += key + " holds " + it->second.at("email") + " / " + it->second.at("name") + ", expected " +
                       want.email + " / " + want.name + "\n";
    }
  }
  INFO(differences);
  CHECK(wrong == 0);
  CHECK(rows.size() == live);
  // Everything is applied: one more run writes nothing and leaves the spool drained.
  r = run_sync(project, kShopSync);
  REQUIRE(r.exit_code == 0);
  CHECK(writes(r.json()) == 0);
  CHECK(spooled(project, kShopSync) == 0);
}

}  // namespace synctool::e2e
