// synctool against a real PostgreSQL server end to end (tests/support/pg_test_server.hpp gives
// each test a schema of its own): a query model in PostgreSQL pushed to the HubSpot emulator
// (reverse ETL), 100,000 CSV rows mirrored into a table synctool creates, whose incremental
// reruns are watched by an audit trigger, and errors (rows PostgreSQL refuses, a server that
// cannot be reached) as the report and the exit code show them.
#include "e2e/hubspot_fixtures.hpp"
#include "support/pg_test_server.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace synctool::e2e {

namespace {

using nlohmann::json;
using testing::PgTestSchema;
using testing::pg_url_password;
using testing::pg_url_with_password;
using testing::pg_url_with_port;

// The [connections.NAME] table for the test schema; the URL (with its password) comes from
// the environment, as the README advises.
std::string postgres_connection_toml(const std::string& name, const PgTestSchema& pg,
                                     const std::string& url_variable = "PG_URL") {
  return "[connections." + name + "]\ntype = \"postgres\"\nurl = \"${" + url_variable + "}\"\nschema = \"" + pg.name() +
         "\"\napplication_name = \"synctool-e2e\"\n";
}

Env pg_env(const PgTestSchema& pg) { return {{"PG_URL", pg.url()}}; }

Env merged(Env a, const Env& b) {
  for (const auto& [name, value] : b) a[name] = value;
  return a;
}

// "host:port" of a URL postgresql://user:password@host:port/db.
std::string host_port_of(const std::string& url) {
  auto at = url.find('@');
  return url.substr(at + 1, url.find('/', at) - at - 1);
}

json state_of(const Project& project, const std::string& sync, const Env& env) {
  auto show = run_with(project, {"state", "show", sync, "--json"}, env);
  INFO(show.describe());
  REQUIRE(show.exit_code == 0);
  return show.json();
}

std::string source_cursor(const Project& project, const std::string& sync, const Env& env) {
  auto state = state_of(project, sync, env);
  if (!state.contains("meta") || !state.at("meta").is_object()) return "";
  return state.at("meta").value("cursor.source", "");
}

// Requests to the CRM API in the emulator's log (since its stats were last reset).
std::size_t crm_requests(const hs::HubspotEmulator& emu) {
  std::size_t n = 0;
  for (const auto& entry : emu.request_log())
    if (entry.value("path", "").starts_with("/crm/")) ++n;
  return n;
}

const char* const kBatchActions[] = {"/batch/create", "/batch/update", "/batch/upsert", "/batch/archive"};

std::size_t batch_writes(const json& log) {
  std::size_t n = 0;
  for (const auto* action : kBatchActions)
    n += logged(log, "POST", std::string("/crm/v3/objects/contacts") + action).size();
  return n;
}

// Records sent in the contacts batch writes of the log.
std::size_t written_inputs(const json& log) {
  std::size_t inputs = 0;
  for (const auto* action : kBatchActions)
    for (const auto& entry : logged(log, "POST", std::string("/crm/v3/objects/contacts") + action)) {
      auto body = json::parse(entry.value("body", ""), nullptr, false);
      INFO("logged request body: " << entry.value("body", ""));
      REQUIRE(body.is_object());  // small enough to be logged whole
      inputs += body.at("inputs").size();
    }
  return inputs;
}

// "" when every value of the PostgreSQL rows (columns email, first_name, last_name, company,
// age) equals `expected`, else the first differences.
std::string pg_differences(const PgTestSchema& pg, const std::string& table, const std::vector<Contact>& expected) {
  Rows rows;
  for (auto& row : pg.rows("SELECT email, first_name, last_name, company, age::text FROM " + table))
    rows.push_back({{"email", row[0]}, {"first_name", row[1]}, {"last_name", row[2]}, {"company", row[3]},
                    {"age", row[4]}});
  return rows_differences(rows, expected, "table " + table);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// ---------------------------------------------------------------------------------------------
// The reverse-ETL model: customers and their orders in PostgreSQL, one contact per customer in
// HubSpot with the customer's lifetime value.

constexpr const char* kCustomers = "customers_to_hubspot";

constexpr const char* kShopSql = R"(
CREATE TABLE customers (
  id         serial PRIMARY KEY,
  email      text NOT NULL UNIQUE,
  first_name text,
  last_name  text,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE orders (
  id          serial PRIMARY KEY,
  customer_id integer NOT NULL REFERENCES customers(id),
  amount      numeric(12, 2) NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
-- 300 customers last changed 2 minutes apart, the newest 14 hours ago.
INSERT INTO customers (email, first_name, last_name, updated_at)
SELECT 'Customer' || i || '@Example.com',
       (ARRAY['Anna', 'Ben', 'Chloë', 'David', 'Émile', 'Zoë'])[1 + i % 6],
       (ARRAY['Garcia', 'O''Brien', 'Müller, Jr.', 'Nguyen', 'Kowalski'])[1 + i % 5],
       now() - interval '1 day' + i * interval '2 minutes'
FROM generate_series(1, 300) AS i;
-- One to four orders each, placed before the customer's last change; every tenth customer has none.
INSERT INTO orders (customer_id, amount, created_at)
SELECT c.id, round((5 + (c.id * 37 + k * 11) % 400) + k * 0.25, 2), c.updated_at - k * interval '1 minute'
FROM customers AS c, generate_series(1, 1 + c.id % 4) AS k
WHERE c.id % 10 <> 0;
)";

// The model: one row per customer, changed when the customer or one of its orders is.
constexpr const char* kModelQuery = R"(
SELECT c.email,
       c.first_name,
       c.last_name,
       COALESCE(sum(o.amount), 0) AS lifetime_value,
       count(o.id) AS order_count,
       GREATEST(c.updated_at, max(o.created_at)) AS updated_at
FROM customers AS c
LEFT JOIN orders AS o ON o.customer_id = c.id
GROUP BY c.id
)";

std::string customers_to_hubspot_toml() {
  return std::string(R"(direction = "one-way"
mode      = "upsert"

[source]
connection    = "shop"
object        = "customer_360"
key           = "email"
cursor_column = "updated_at"
query         = """)") +
         kModelQuery + R"("""

[destination]
connection = "hubspot"
object     = "contacts"

[match]
source      = "email"
destination = "email"
normalize   = ["trim", "lowercase"]

[field_map]
email          = { to = "email", transform = ["trim", "lowercase"] }
first_name     = "firstname"
last_name      = "lastname"
lifetime_value = "lifetime_value"
)";
}

struct Customer {
  std::string first_name, last_name;
  double lifetime_value = 0;
};

// The model's rows as PostgreSQL computes them, by lower-cased email.
std::map<std::string, Customer> model_rows(const PgTestSchema& pg) {
  std::map<std::string, Customer> rows;
  for (const auto& row : pg.rows("SELECT lower(email), first_name, last_name, lifetime_value::text FROM (" +
                                 std::string(kModelQuery) + ") AS model"))
    rows[row[0]] = {row[1], row[2], std::stod(row[3])};
  return rows;
}

// "" when HubSpot holds exactly one contact per row of the model, with its values.
std::string hubspot_model_differences(const hs::HubspotEmulator& emu, const std::map<std::string, Customer>& model) {
  std::vector<std::string> problems;
  std::set<std::string> seen;
  for (const auto& record : emu.records("contacts")) {
    const auto& p = record.at("properties");
    auto text = [&](const char* name) {
      auto it = p.find(name);
      return it == p.end() || it->is_null() ? std::string() : it->is_string() ? it->get<std::string>() : it->dump();
    };
    const std::string email = text("email");
    if (!seen.insert(email).second) problems.push_back(email + " is in HubSpot twice");
    auto it = model.find(email);
    if (it == model.end()) {
      problems.push_back("unexpected contact " + email);
      continue;
    }
    const Customer& want = it->second;
    if (text("firstname") != want.first_name)
      problems.push_back(email + ": firstname '" + text("firstname") + "', expected '" + want.first_name + "'");
    if (text("lastname") != want.last_name)
      problems.push_back(email + ": lastname '" + text("lastname") + "', expected '" + want.last_name + "'");
    const std::string value = text("lifetime_value");
    char* end = nullptr;
    const double got = std::strtod(value.c_str(), &end);
    if (value.empty() || *end != '\0' || std::fabs(got - want.lifetime_value) > 0.001)
      problems.push_back(email + ": lifetime_value '" + value + "', expected " + std::to_string(want.lifetime_value));
  }
  for (const auto& [email, customer] : model)
    if (!seen.count(email)) problems.push_back(email + " is missing");
  std::string out;
  for (std::size_t i = 0; i < problems.size() && i < 10; ++i) out += problems[i] + "\n";
  if (problems.size() > 10) out += "... " + std::to_string(problems.size()) + " differences in all\n";
  return out;
}

// ---------------------------------------------------------------------------------------------
// CSV -> PostgreSQL

constexpr const char* kCsvToPg = "contacts_to_pg";

// syncs/contacts_to_pg.toml: the CSV contacts into the table contacts (fixtures.hpp's sync),
// with `destination_keys` in [destination] and `extra` after the mapping.
std::string csv_to_postgres_toml(const std::string& mode, const std::string& destination_keys,
                                 const std::string& extra = "") {
  return contacts_sync_toml(mode, R"(["trim", "lowercase"])", extra, destination_keys);
}

// synctool.toml with the CSV folder `exports` (connection crm) and the test schema (warehouse).
void write_csv_to_postgres_project(const Project& project, const PgTestSchema& pg) {
  project.write_config("state_dir = \".synctool\"\n\n[connections.crm]\ntype = \"csv\"\npath = \"exports\"\n\n" +
                       postgres_connection_toml("warehouse", pg));
}

// Contacts with some harder text in them: accents, CJK, apostrophes, quotes, commas.
std::vector<Contact> varied_contacts(std::size_t n, std::size_t first_id = 1) {
  auto contacts = make_contacts(n, first_id);
  for (auto& c : contacts) {
    const auto id = std::stoul(c.id);
    if (id % 97 == 0) {
      c.first_name = "Zoë";
      c.last_name = "O'Brien-Müller";
    }
    if (id % 101 == 0) c.company = "東京商事, \"Tokyo\" K.K.";
    if (id % 89 == 0) c.last_name = "Ångström \"Ace\", Jr.";
  }
  return contacts;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// 1. A query model in PostgreSQL -> HubSpot contacts

TEST_CASE("postgres query model to hubspot: the baseline creates one contact per customer with its lifetime value, "
          "an incremental run updates exactly the five changed customers in a few requests, and the lookback "
          "re-reads recent rows without writing them",
          "[e2e][postgres][hubspot]") {
  const auto started = std::chrono::steady_clock::now();
  PgTestSchema pg;
  pg.exec(kShopSql);
  REQUIRE(pg.query("SELECT count(*) FROM customers") == "300");

  hs::HubspotEmulator emu(generous_emulator_options());
  start_emulator(emu);
  emu.load_seed({{"properties",
                  {{"contacts", json::array({{{"name", "lifetime_value"},
                                              {"label", "Lifetime value"},
                                              {"type", "number"},
                                              {"fieldType", "number"},
                                              {"groupName", "contactinformation"}}})}}}});
  Project project;
  project.write_config("state_dir = \".synctool\"\n\n" + postgres_connection_toml("shop", pg) + "\n" +
                       hubspot_connection_toml(connection_to(emu)));
  project.write_sync(kCustomers, customers_to_hubspot_toml());
  const Env env = merged(hubspot_env(), pg_env(pg));

  // diff plans the baseline and writes nothing.
  auto diff = run_with(project, {"diff", kCustomers, "--json"}, env);
  INFO(diff.describe());
  REQUIRE(diff.exit_code == 0);
  auto predicted = diff.json().at("report");
  CHECK(predicted.at("kind") == "baseline");
  CHECK(count_of(predicted.at("destination"), "created") == 300);
  CHECK(emu.records("contacts").empty());

  emu.reset_stats();
  auto baseline = run_with(project, {"run", kCustomers, "--json"}, env);
  INFO(baseline.describe());
  REQUIRE(baseline.exit_code == 0);
  auto report = baseline.json();
  CHECK(report.at("kind") == "baseline");
  CHECK(count_of(report.at("source"), "read") == 300);
  CHECK(count_of(report.at("destination"), "created") == 300);
  CHECK(count_of(report.at("destination"), "failed") == 0);
  CHECK(count_of(report.at("destination"), "rejected") == 0);
  check_prediction(predicted, report);
  // 300 contacts, 100 per batch; besides, one properties read and one read of the empty
  // destination (5 requests in all when this was written).
  const std::size_t baseline_requests = crm_requests(emu);
  UNSCOPED_INFO("HubSpot requests of the baseline: " << baseline_requests);
  CHECK(batch_writes(emu.request_log()) == 3);
  CHECK(baseline_requests <= 6);

  auto model = model_rows(pg);
  REQUIRE(model.size() == 300);
  CHECK(model.at("customer10@example.com").lifetime_value == 0);  // no orders: 0, not missing
  CHECK(model.at("customer7@example.com").last_name == "Müller, Jr.");
  CHECK(emu.records("contacts").size() == 300);
  CHECK(hubspot_model_differences(emu, model) == "");
  const std::string baseline_cursor = source_cursor(project, kCustomers, env);
  CHECK_FALSE(baseline_cursor.empty());

  // Three customers are renamed 30 s ago, two others order something 5 s ago: five rows of the
  // model change (the cursor column of the two follows their new order).
  pg.exec("UPDATE customers SET last_name = 'Renamed ' || id, updated_at = now() - interval '30 seconds' "
          "WHERE id IN (17, 142, 256)");
  pg.exec("INSERT INTO orders (customer_id, amount, created_at) VALUES "
          "(33, 250.50, now() - interval '5 seconds'), (210, 99.99, now() - interval '5 seconds')");
  model = model_rows(pg);

  auto diff_changes = run_with(project, {"diff", kCustomers, "--json"}, env);
  INFO(diff_changes.describe());
  REQUIRE(diff_changes.exit_code == 0);
  auto predicted_changes = diff_changes.json().at("report");
  CHECK(predicted_changes.at("kind") == "incremental");
  CHECK(count_of(predicted_changes.at("destination"), "updated") == 5);

  emu.reset_stats();
  auto incremental = run_with(project, {"run", kCustomers, "--json"}, env);
  INFO(incremental.describe());
  REQUIRE(incremental.exit_code == 0);
  report = incremental.json();
  CHECK(report.at("kind") == "incremental");
  CHECK(count_of(report.at("destination"), "updated") == 5);
  CHECK(count_of(report.at("destination"), "created") == 0);
  CHECK(count_of(report.at("destination"), "deleted") == 0);
  // The five, and customer 300 whose time is the cursor: the one-minute lookback from the
  // cursor reaches no other customer (they are 2 minutes apart).
  CHECK(count_of(report.at("source"), "read") == 6);
  check_prediction(predicted_changes, report);
  const std::size_t incremental_requests = crm_requests(emu);
  UNSCOPED_INFO("HubSpot requests of the incremental run: " << incremental_requests);
  // One batch of five, and a properties read: 2 requests when this was written.
  CHECK(batch_writes(emu.request_log()) == 1);
  CHECK(written_inputs(emu.request_log()) == 5);
  CHECK(incremental_requests <= 3);
  CHECK(emu.records("contacts").size() == 300);
  CHECK(hubspot_model_differences(emu, model) == "");
  CHECK(model.at("customer17@example.com").last_name == "Renamed 17");
  const std::string incremental_cursor = source_cursor(project, kCustomers, env);
  CHECK(incremental_cursor > baseline_cursor);

  // Nothing changed. The default lookback ("1m" for a date/time cursor) reads again the rows
  // stamped up to one minute before the cursor: the cursor stands at the two orders' time and
  // the renames are 25 s older, so all five are read again. They equal what was synced, so
  // nothing is written, and the cursor does not move back.
  auto diff_idle = run_with(project, {"diff", kCustomers, "--json"}, env);
  INFO(diff_idle.describe());
  REQUIRE(diff_idle.exit_code == 0);
  emu.reset_stats();
  auto idle = run_with(project, {"run", kCustomers, "--json"}, env);
  INFO(idle.describe());
  REQUIRE(idle.exit_code == 0);
  report = idle.json();
  CHECK(count_of(report.at("source"), "read") == 5);
  CHECK(count_of(report.at("destination"), "updated") == 0);
  CHECK(writes(report) == 0);
  check_prediction(diff_idle.json().at("report"), report);
  const std::size_t idle_requests = crm_requests(emu);
  UNSCOPED_INFO("HubSpot requests of the idle run: " << idle_requests);
  CHECK(batch_writes(emu.request_log()) == 0);
  // Every run proves the destination first: one record read (the probe) and its property list
  // (the field check); nothing else.
  CHECK(idle_requests <= 2);
  CHECK(source_cursor(project, kCustomers, env) == incremental_cursor);
  CHECK(hubspot_model_differences(emu, model) == "");
  UNSCOPED_INFO("test duration " << seconds_since(started) << " s");
}

// ---------------------------------------------------------------------------------------------
// 2. 100,000 CSV rows -> PostgreSQL

// A 100,000-row baseline takes ~2 minutes under AddressSanitizer on a busy 2-core machine.
constexpr std::chrono::minutes kLongRun{10};

TEST_CASE("csv to postgres mirror: 100,000 rows land typed in a table synctool creates, and an incremental run "
          "writes exactly the 115 rows that changed, as an audit trigger proves",
          "[e2e][postgres][mirror][slow]") {
  // Each pass over 100,000 rows takes 6 to 8 s in a Release build and about 50 s in a Debug one
  // (the engine's staging, not PostgreSQL): hence [slow], and no more passes than needed.
  PgTestSchema pg;
  Project project;
  write_csv_to_postgres_project(project, pg);
  project.write_sync(kCsvToPg, csv_to_postgres_toml("mirror", "create_table = true", R"(
[schema]
email = { type = "email", required = true }
age   = { type = "number" }

[deletes]
propagate = "delete"
max       = 50
)"));
  const std::size_t kRows = 100'000;
  auto contacts = varied_contacts(kRows);
  project.write_contacts_csv(kSourceCsv, contacts);
  const Env env = pg_env(pg);

  // Baseline: the table does not exist yet; the first write creates it.
  REQUIRE(pg.query("SELECT to_regclass('contacts')") == "NULL");
  auto baseline = run_synctool(project.root(), {"run", kCsvToPg, "--json"}, env, kLongRun);
  INFO(baseline.describe());
  REQUIRE(baseline.exit_code == 0);
  auto report = baseline.json();
  CHECK(report.at("kind") == "baseline");
  CHECK(count_of(report.at("source"), "read") == static_cast<std::int64_t>(kRows));
  CHECK(count_of(report.at("destination"), "created") == static_cast<std::int64_t>(kRows));
  CHECK(count_of(report.at("destination"), "failed") == 0);
  CHECK(count_of(report.at("destination"), "rejected") == 0);
  UNSCOPED_INFO("baseline of 100,000 rows: " << report.at("duration_s") << " s");

  CHECK(pg.query("SELECT count(*) FROM contacts") == "100000");
  // Typed from the [schema]: age is numeric (sums, compares as a number), the key is the primary key.
  CHECK(pg.query("SELECT data_type FROM information_schema.columns WHERE table_schema = current_schema() "
                 "AND table_name = 'contacts' AND column_name = 'age'") == "numeric");
  CHECK(pg.query("SELECT data_type FROM information_schema.columns WHERE table_schema = current_schema() "
                 "AND table_name = 'contacts' AND column_name = 'first_name'") == "text");
  CHECK(pg.query("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'contacts'::regclass "
                 "AND contype = 'p'") == "PRIMARY KEY (email)");
  long long age_sum = 0;
  for (const auto& c : contacts) age_sum += std::stoll(c.age);
  CHECK(pg.query("SELECT sum(age) FROM contacts") == std::to_string(age_sum));
  CHECK(pg.query("SELECT age + 1 FROM contacts WHERE email = 'person1@example.com'") == "20");
  CHECK(pg.rows("SELECT first_name, last_name, company FROM contacts WHERE email = 'person9797@example.com'") ==
        std::vector<std::vector<std::string>>{{"Zoë", "O'Brien-Müller", "東京商事, \"Tokyo\" K.K."}});
  CHECK(pg.query("SELECT last_name FROM contacts WHERE email = 'person89@example.com'") == "Ångström \"Ace\", Jr.");
  CHECK(pg.query("SELECT company FROM contacts WHERE email = 'person2@example.com'") == "Umbrella, Inc.");
  CHECK(pg_differences(pg, "contacts", contacts) == "");

  // From now on every row PostgreSQL writes in the table is recorded.
  pg.exec("CREATE TABLE audit (n bigserial PRIMARY KEY, op text NOT NULL, email text NOT NULL);"
          "CREATE FUNCTION audit_contacts() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
          "  IF TG_OP = 'DELETE' THEN INSERT INTO " + pg.name() + ".audit (op, email) VALUES (TG_OP, OLD.email); "
          "  ELSE INSERT INTO " + pg.name() + ".audit (op, email) VALUES (TG_OP, NEW.email); END IF; "
          "  RETURN NULL; END $$;"
          "CREATE TRIGGER contacts_audit AFTER INSERT OR UPDATE OR DELETE ON contacts "
          "FOR EACH ROW EXECUTE FUNCTION audit_contacts();");

  // 100 rows change (names, companies, ages), 10 are added, 5 leave.
  std::set<std::pair<std::string, std::string>> expected_ops;
  std::set<std::size_t> changed;
  for (std::size_t i = 0; i < 100; ++i) {
    const std::size_t at = (i * 997 + 13) % kRows;
    REQUIRE(changed.insert(at).second);
    auto& c = contacts[at];
    if (i % 3 == 0) c.first_name = "Renamed Ådne " + std::to_string(i);
    else if (i % 3 == 1) c.company = "Moved, \"New\" Co " + std::to_string(i);
    else c.age = std::to_string(70 + i % 20);
    expected_ops.emplace("UPDATE", c.email);
  }
  std::set<std::string> removed_ids;
  for (std::size_t at : {5u, 50'001u, 77'777u, 99'990u, 42u}) {
    REQUIRE_FALSE(changed.count(at));
    removed_ids.insert(contacts[at].id);
    expected_ops.emplace("DELETE", contacts[at].email);
  }
  std::erase_if(contacts, [&](const Contact& c) { return removed_ids.count(c.id) > 0; });
  for (const auto& c : varied_contacts(10, kRows + 1)) {
    contacts.push_back(c);
    expected_ops.emplace("INSERT", c.email);
  }
  REQUIRE(expected_ops.size() == 115);
  REQUIRE(contacts.size() == kRows + 5);
  project.write_contacts_csv(kSourceCsv, contacts);

  auto incremental = run_synctool(project.root(), {"run", kCsvToPg, "--json"}, env, kLongRun);
  INFO(incremental.describe());
  REQUIRE(incremental.exit_code == 0);
  report = incremental.json();
  CHECK(report.at("kind") == "incremental");
  CHECK(count_of(report.at("source"), "read") == static_cast<std::int64_t>(kRows + 5));
  CHECK(count_of(report.at("destination"), "updated") == 100);
  CHECK(count_of(report.at("destination"), "created") == 10);
  CHECK(count_of(report.at("destination"), "deleted") == 5);
  // The 100,005 rows read less the 100 updated and the 10 created (the 5 deleted were not read).
  CHECK(count_of(report.at("destination"), "unchanged") == static_cast<std::int64_t>(kRows + 5 - 110));
  CHECK(count_of(report.at("destination"), "failed") == 0);
  UNSCOPED_INFO("incremental run over 100,005 rows: " << report.at("duration_s") << " s");

  // PostgreSQL touched exactly those 115 rows, each once.
  std::set<std::pair<std::string, std::string>> ops;
  const auto audit = pg.rows("SELECT op, email FROM audit ORDER BY n");
  for (const auto& row : audit) ops.emplace(row[0], row[1]);
  CHECK(audit.size() == 115);
  CHECK(ops == expected_ops);
  CHECK(pg.query("SELECT count(*) FROM contacts") == std::to_string(kRows + 5));
  CHECK(pg_differences(pg, "contacts", contacts) == "");

  // No change: nothing written, the audit table gains nothing.
  auto idle = run_synctool(project.root(), {"run", kCsvToPg, "--json"}, env, kLongRun);
  INFO(idle.describe());
  REQUIRE(idle.exit_code == 0);
  CHECK(writes(idle.json()) == 0);
  CHECK(count_of(idle.json().at("destination"), "unchanged") == static_cast<std::int64_t>(kRows + 5));
  CHECK(pg.query("SELECT count(*) FROM audit") == "115");

  // A full run compares the whole table with the source: equal, so nothing is written either.
  auto full = run_with(project, {"run", kCsvToPg, "--json", "--full"}, env);
  INFO(full.describe());
  REQUIRE(full.exit_code == 0);
  CHECK(full.json().at("kind") == "full");
  CHECK(writes(full.json()) == 0);
  CHECK(count_of(full.json().at("destination"), "read") == static_cast<std::int64_t>(kRows + 5));
  CHECK(pg.query("SELECT count(*) FROM audit") == "115");
}

TEST_CASE("csv to postgres: an empty cell of a field the [schema] types as a number lands as NULL in the numeric "
          "column, and later runs leave it alone",
          "[e2e][postgres]") {
  PgTestSchema pg;
  Project project;
  write_csv_to_postgres_project(project, pg);
  project.write_sync(kCsvToPg, csv_to_postgres_toml("upsert", "create_table = true", R"(
[schema]
age = { type = "number" }
)"));
  auto contacts = make_contacts(20);
  contacts[4].age = "";
  contacts[11].age = "";
  project.write_contacts_csv(kSourceCsv, contacts);
  const Env env = pg_env(pg);

  auto r = run_with(project, {"run", kCsvToPg, "--json"}, env);
  INFO(r.describe());
  CHECK(r.exit_code == 0);
  CHECK(count_of(r.json().at("destination"), "created") == 20);
  CHECK(count_of(r.json().at("destination"), "failed") == 0);
  CHECK(pg.query("SELECT count(*) FROM contacts WHERE age IS NULL") == "2");
  contacts[4].age = contacts[11].age = "NULL";  // as pg.rows() shows a NULL
  CHECK(pg_differences(pg, "contacts", contacts) == "");

  // An empty source value and a NULL column are the same: nothing to write, on a full run either.
  auto full = run_with(project, {"run", kCsvToPg, "--json", "--full"}, env);
  INFO(full.describe());
  CHECK(full.exit_code == 0);
  CHECK(writes(full.json()) == 0);
}

// ---------------------------------------------------------------------------------------------
// 3. Errors

TEST_CASE("rows postgres refuses are reported with their key and the server's message, the good rows are written, "
          "the run exits 1, and the failed rows go through once the source is fixed",
          "[e2e][postgres][errors]") {
  PgTestSchema pg;
  pg.exec("CREATE TABLE contacts (email text PRIMARY KEY, first_name text NOT NULL, last_name text, "
          "company varchar(40), age integer CONSTRAINT contacts_age_adult CHECK (age >= 18))");
  Project project;
  write_csv_to_postgres_project(project, pg);
  project.write_sync(kCsvToPg, csv_to_postgres_toml("upsert", ""));
  auto contacts = make_contacts(500);
  // Four minors break the CHECK constraint, two companies are longer than varchar(40).
  const std::set<std::string> minors = {"person3@example.com", "person150@example.com", "person151@example.com",
                                        "person499@example.com"};
  const std::set<std::string> long_company = {"person77@example.com", "person300@example.com"};
  auto source = contacts;
  for (auto& c : source) {
    if (minors.count(c.email)) c.age = "12";
    if (long_company.count(c.email)) c.company = "A Company Name Far Longer Than Forty Characters, Ltd.";
  }
  project.write_contacts_csv(kSourceCsv, source);
  const Env env = pg_env(pg);

  auto r = run_with(project, {"run", kCsvToPg, "--json"}, env);
  INFO(r.describe());
  REQUIRE(r.exit_code == 1);  // finished, some records failed
  auto report = r.json();
  CHECK(report.at("exit_code") == 1);
  CHECK(count_of(report.at("destination"), "created") == 494);
  CHECK(count_of(report.at("destination"), "failed") == 6);
  REQUIRE(report.at("failed").size() == 6);
  std::set<std::string> failed_keys;
  for (const auto& failure : report.at("failed")) {
    const std::string key = failure.at("key");
    const std::string reason = failure.at("reason");
    INFO(failure.dump());
    failed_keys.insert(key);
    if (minors.count(key)) {
      CHECK_THAT(reason, Catch::Contains("contacts_age_adult") && Catch::Contains("check constraint"));
    } else {
      CHECK(long_company.count(key) == 1);
      CHECK_THAT(reason, Catch::Contains("character varying(40)"));
    }
    // The source row's own id: person<N>@example.com is CSV row N.
    CHECK(failure.at("source_id") == key.substr(6, key.find('@') - 6));
  }
  std::set<std::string> expected_keys = minors;
  expected_keys.insert(long_company.begin(), long_company.end());
  CHECK(failed_keys == expected_keys);

  // Every good row is there, no bad one.
  CHECK(pg.query("SELECT count(*) FROM contacts") == "494");
  std::vector<Contact> good;
  for (const auto& c : contacts)
    if (!expected_keys.count(c.email)) good.push_back(c);
  CHECK(pg_differences(pg, "contacts", good) == "");

  // The state keeps the failed rows with their reasons.
  auto state = state_of(project, kCsvToPg, env);
  INFO(state.dump());
  CHECK_THAT(state.dump(), Catch::Contains("contacts_age_adult"));

  // The source is fixed: the failed rows are written, nothing else.
  project.write_contacts_csv(kSourceCsv, contacts);
  auto fixed = run_with(project, {"run", kCsvToPg, "--json"}, env);
  INFO(fixed.describe());
  REQUIRE(fixed.exit_code == 0);
  CHECK(count_of(fixed.json().at("destination"), "created") == 6);
  CHECK(count_of(fixed.json().at("destination"), "updated") == 0);
  CHECK(count_of(fixed.json().at("destination"), "failed") == 0);
  CHECK(fixed.json().at("failed").empty());
  CHECK(pg_differences(pg, "contacts", contacts) == "");
}

TEST_CASE("a postgres server that cannot be reached, or refuses the password, stops the run with exit 3 naming "
          "host:port and never showing the password",
          "[e2e][postgres][errors][connection]") {
  PgTestSchema pg;
  pg.exec("CREATE TABLE contacts (email text PRIMARY KEY, first_name text, last_name text, company text, age text)");
  Project project;
  write_csv_to_postgres_project(project, pg);
  project.write_sync(kCsvToPg, csv_to_postgres_toml("upsert", ""));
  auto contacts = make_contacts(50);
  project.write_contacts_csv(kSourceCsv, contacts);
  const std::string url = pg.url();
  const std::string password = pg_url_password(url);
  REQUIRE(password.size() >= 8);

  auto check_refused = [&](const Result& r, const std::string& names, const std::string& secret) {
    check_connection_error(r, names);
    CHECK(leaks(secret, r, project.root()) == "");
    CHECK(leaks(password, r, project.root()) == "");
  };

  SECTION("a port where nothing listens") {
    const std::string refused = pg_url_with_port(url, "1");
    auto r = run_with(project, {"run", kCsvToPg, "--json"}, {{"PG_URL", refused}});
    check_refused(r, "@127.0.0.1:1/", password);  // user@host:port/database
    CHECK_THAT(r.err, Catch::Contains("refused"));
    auto check = run_with(project, {"check", "--connect", "--json"}, {{"PG_URL", refused}});
    INFO(check.describe());
    CHECK(check.exit_code == 3);
    CHECK_THAT(check.out + check.err, Catch::Contains("@127.0.0.1:1/"));
    CHECK(leaks(password, check, project.root()) == "");
  }
  SECTION("a wrong password") {
    const std::string wrong = "Wr0ng-Secret-" + password;
    auto r = run_with(project, {"run", kCsvToPg, "--json"}, {{"PG_URL", pg_url_with_password(url, wrong)}});
    check_refused(r, "@" + host_port_of(url) + "/", wrong);
    CHECK_THAT(r.err, Catch::Contains("password authentication failed"));
  }
  SECTION("a database that does not exist") {
    const std::string missing = url.substr(0, url.rfind('/')) + "/no_such_database";
    auto r = run_with(project, {"run", kCsvToPg, "--json"}, {{"PG_URL", missing}});
    check_refused(r, "@" + host_port_of(url) + "/no_such_database", password);
  }
  CHECK(pg.query("SELECT count(*) FROM contacts") == "0");

  // With the right URL the same project syncs everything: the failures left nothing behind.
  auto fixed = run_with(project, {"run", kCsvToPg, "--json"}, pg_env(pg));
  INFO(fixed.describe());
  REQUIRE(fixed.exit_code == 0);
  CHECK(fixed.json().at("kind") == "baseline");
  CHECK(count_of(fixed.json().at("destination"), "created") == 50);
  CHECK(pg_differences(pg, "contacts", contacts) == "");
}

}  // namespace synctool::e2e
