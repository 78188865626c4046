#include "conformance/conformance.hpp"
#include "support/temp_dir.hpp"
#include "util/fs.hpp"

#include <catch2/catch.hpp>

#include <fstream>

namespace synctool::testing {

namespace {

using connectors::ConnectionConfig;
using connectors::ConnectorError;
using connectors::ErrorKind;
using connectors::Json;
using connectors::ObjectRef;
using connectors::OpKind;
using connectors::Page;
using connectors::Record;
using connectors::WriteOp;

ConnectionConfig csv_config(const TempDir& dir, Json settings = {{"path", "data"}}) {
  ConnectionConfig config;
  config.name = "files";
  config.type = "csv";
  config.settings = std::move(settings);
  config.base_dir = dir.path().string();
  return config;
}

ObjectRef contacts(bool destination = true) {
  ObjectRef object;
  object.name = "contacts";
  object.key_field = "email";
  object.destination = destination;
  return object;
}

ConformanceFixture csv_fixture() {
  auto dir = std::make_shared<TempDir>();
  std::filesystem::create_directory(dir->path() / "data");
  ConformanceFixture fixture;
  fixture.config = csv_config(*dir);
  fixture.object = contacts();
  fixture.keep_alive = dir;
  return fixture;
}

// A folder `data` holding contacts.csv with `content`.
struct CsvFolder {
  explicit CsvFolder(const std::string& content) {
    std::filesystem::create_directory(dir.path() / "data");
    write(content);
  }
  void write(const std::string& content) const {
    std::ofstream(file(), std::ios::binary) << content;
  }
  std::filesystem::path file() const { return dir.path() / "data" / "contacts.csv"; }
  std::string content() const { return util::read_file(file()); }
  std::unique_ptr<connectors::Connector> connector(Json settings = {{"path", "data"}}) const {
    return connectors::make_connector(csv_config(dir, std::move(settings)));
  }
  TempDir dir;
};

}  // namespace

TEST_CASE("csv connector passes the conformance suite", "[conformance][csv]") {
  ConformanceOptions options;
  options.name = "csv";
  options.make_fixture = csv_fixture;
  options.bad_configs = [](const ConformanceFixture& fixture) {
    const auto& base = fixture.config.base_dir;
    std::ofstream(std::filesystem::path(base) / "plain-file") << "x";
    std::vector<ConnectionConfig> bad(4, fixture.config);
    bad[0].settings = {{"path", "no-such-folder"}};
    bad[1].settings = {{"path", "plain-file"}};
    bad[2].settings = Json::object();
    bad[3].settings = {{"path", "data"}, {"delimiter", ";;"}};
    return bad;
  };
  options.capabilities.incremental_read = false;
  options.capabilities.tombstones = false;
  options.capabilities.native_upsert = true;
  options.capabilities.hard_delete = true;
  options.capabilities.archive = false;
  options.capabilities.max_batch = 50000;
  options.capabilities.max_lookup = 50000;
  options.capabilities.unique_ids = false;
  options.json_text_fields = {"address", "tags"};
  run_conformance(options);
}

TEST_CASE("csv source: a missing file is a config error naming it", "[csv]") {
  CsvFolder folder("email\n");
  std::filesystem::remove(folder.file());
  auto connector = folder.connector();
  auto message = config_error([&] { read_all(*connector, contacts(false)); });
  CHECK_THAT(message, Catch::Contains("contacts.csv: no such file"));
  config_error([&] { connector->describe(contacts(false)); });
}

TEST_CASE("csv destination: a missing file is an empty object", "[csv]") {
  CsvFolder folder("");
  std::filesystem::remove(folder.file());
  auto connector = folder.connector();
  CHECK(read_all(*connector, contacts()).empty());
  CHECK(connector->lookup(contacts(), "email", {"a@x"}).empty());
  CHECK(connector->describe(contacts()).fields.empty());
}

TEST_CASE("csv: a ragged row is a config error naming file and line", "[csv]") {
  CsvFolder folder("email,first,last,age\na@x,A,B,1\nb@x,\"multi\nline\",C,2\nc@x,C,D,3,extra\n");
  auto connector = folder.connector();
  auto message = config_error([&] { read_all(*connector, contacts()); });
  CHECK_THAT(message, Catch::Contains("contacts.csv:5: 5 fields, header has 4"));
}

TEST_CASE("csv: a key column missing from the header is a config error", "[csv]") {
  CsvFolder folder("mail,name\na@x,A\n");
  auto connector = folder.connector();
  auto message = config_error([&] { read_all(*connector, contacts()); });
  CHECK_THAT(message, Catch::Contains("no column 'email'"));
  config_error([&] { connector->write(contacts(), {op(OpKind::create, "", {{"email", "b@x"}})}); });
}

TEST_CASE("csv: a requested field missing from the header", "[csv]") {
  CsvFolder folder("email,name\na@x,A\n");
  auto connector = folder.connector();
  connectors::ReadRequest request;
  request.fields = {"email", "phone"};
  SECTION("is a config error for a source") {
    auto message = config_error([&] { read_all(*connector, contacts(false), request); });
    CHECK_THAT(message, Catch::Contains("no column 'phone'"));
  }
  SECTION("is left out for a destination, which gains it on write") {
    auto records = read_all(*connector, contacts(), request);
    REQUIRE(records.size() == 1);
    CHECK(records[0].fields == Json{{"email", "a@x"}});
  }
}

TEST_CASE("csv: a row with an empty key is still read, with an empty id", "[csv]") {
  CsvFolder folder("email,name\n,Nobody\na@x,A\n");
  auto connector = folder.connector();
  auto records = read_all(*connector, contacts());
  REQUIRE(records.size() == 2);
  CHECK(records[0].id.empty());
  CHECK(records[0].fields["name"] == "Nobody");
  CHECK(records[1].id == "a@x");
}

TEST_CASE("csv: reads stream in pages of the requested size", "[csv]") {
  std::string content = "email\n";
  for (int i = 0; i < 12345; ++i) content += "p" + std::to_string(i) + "@x\n";
  CsvFolder folder(content);
  auto connector = folder.connector();
  std::vector<std::size_t> sizes;
  connectors::ReadRequest request;
  request.page_size = 5000;
  connector->read(contacts(), request, [&](Page&& page) {
    CHECK(page.cursor.empty());
    sizes.push_back(page.records.size());
  });
  CHECK(sizes == std::vector<std::size_t>{5000, 5000, 2345});
}

TEST_CASE("csv write: keeps other columns and rows, appends new rows, extends the header", "[csv]") {
  CsvFolder folder("email,name,notes\na@x,A,keep me\nb@x,B,\"multi\nline\"\nc@x,C,\n");
  auto connector = folder.connector();
  auto results = connector->write(contacts(), {
                                                  op(OpKind::update, "b@x", {{"name", "Bee"}, {"phone", "555"}}),
                                                  op(OpKind::remove, "c@x"),
                                                  op(OpKind::create, "", {{"email", "d@x"}, {"name", "D"}}),
                                                  op(OpKind::upsert, "", {{"email", "a@x"}, {"name", "Ay"}}),
                                              });
  for (const auto& result : results) CHECK(result.ok);
  CHECK(results[0].id == "b@x");
  CHECK(results[2].id == "d@x");
  CHECK(folder.content() ==
        "email,name,notes,phone\n"
        "a@x,Ay,keep me,\n"
        "b@x,Bee,\"multi\nline\",555\n"
        "d@x,D,,\n");
}

TEST_CASE("csv write: per-row errors, and a failing op adds no column", "[csv]") {
  CsvFolder folder("email,name\na@x,A\n");
  auto connector = folder.connector();
  auto results = connector->write(contacts(), {
                                                  op(OpKind::create, "", {{"email", "a@x"}, {"extra", "1"}}),
                                                  op(OpKind::update, "zz@x", {{"other", "2"}}),
                                                  op(OpKind::remove, "zz@x"),
                                                  op(OpKind::create, "", {{"name", "no key"}}),
                                                  op(OpKind::archive, "a@x"),
                                                  op(OpKind::create, "", {{"email", "b@x"}, {"name", "B"}}),
                                              });
  CHECK(results[0].error == "a row with key a@x already exists");
  CHECK(results[1].error == "no row with key zz@x");
  CHECK(results[2].ok);  // deleting what is already gone succeeds
  CHECK(results[3].error == "missing key field 'email'");
  CHECK_FALSE(results[4].ok);
  CHECK(results[5].ok);
  for (std::size_t i : {0, 1, 3, 4}) CHECK(results[i].error_kind == ErrorKind::record);
  CHECK(folder.content() == "email,name\na@x,A\nb@x,B\n");
}

TEST_CASE("csv write: ops on one key in one batch apply in order", "[csv]") {
  CsvFolder folder("email,name\na@x,A\n");
  auto connector = folder.connector();
  auto results = connector->write(contacts(), {
                                                  op(OpKind::remove, "a@x"),
                                                  op(OpKind::create, "", {{"email", "a@x"}, {"name", "New"}}),
                                                  op(OpKind::create, "", {{"email", "n@x"}}),
                                                  op(OpKind::update, "n@x", {{"name", "N"}}),
                                                  op(OpKind::create, "", {{"email", "n@x"}}),
                                              });
  CHECK(results[0].ok);
  CHECK(results[1].ok);
  CHECK(results[2].ok);
  CHECK(results[3].ok);
  CHECK_FALSE(results[4].ok);
  CHECK(folder.content() == "email,name\na@x,New\nn@x,N\n");
}

TEST_CASE("csv write: values are written as text, nested objects as JSON", "[csv]") {
  CsvFolder folder("");
  std::filesystem::remove(folder.file());
  auto connector = folder.connector();
  auto results = connector->write(contacts(), {op(OpKind::create, "",
                                                  {{"email", "a@x"},
                                                   {"age", 42},
                                                   {"score", 1.5},
                                                   {"vip", true},
                                                   {"note", nullptr},
                                                   {"address", {{"city", "Oslo"}}}})});
  REQUIRE(results[0].ok);
  // The header is the key, then the fields in first-seen order (JSON objects keep keys sorted).
  CHECK(folder.content() == "email,address,age,note,score,vip\na@x,\"{\"\"city\"\":\"\"Oslo\"\"}\",42,,1.5,true\n");
}

TEST_CASE("csv write: keeps a byte order mark, CRLF line ends and the delimiter", "[csv]") {
  CsvFolder folder("\xEF\xBB\xBF" "email;name\r\na@x;\"A;1\"\r\n");
  auto connector = folder.connector({{"path", "data"}, {"delimiter", ";"}});
  auto records = read_all(*connector, contacts());
  REQUIRE(records.size() == 1);
  CHECK(records[0].fields["email"] == "a@x");
  CHECK(records[0].fields["name"] == "A;1");
  auto results = connector->write(contacts(), {op(OpKind::create, "", {{"email", "b@x"}, {"name", "semi;colon"}})});
  REQUIRE(results[0].ok);
  CHECK(folder.content() == "\xEF\xBB\xBF" "email;name\r\na@x;\"A;1\"\r\nb@x;\"semi;colon\"\r\n");
}

TEST_CASE("csv: object names must stay inside the folder", "[csv]") {
  CsvFolder folder("email\n");
  auto connector = folder.connector();
  ObjectRef object = contacts();
  object.name = "../escape";
  config_error([&] { read_all(*connector, object); });
  object.name = "contacts.csv";  // the extension may be given
  CHECK(read_all(*connector, object).empty());
}

TEST_CASE("csv: two rows with one key are two records, each saying on which line it starts", "[csv]") {
  CsvFolder folder("email,name\na@x,First\nb@x,\"two\nlines\"\n\na@x,Second\n");
  auto connector = folder.connector();
  CHECK_FALSE(connector->capabilities(contacts(false)).unique_ids);
  auto records = read_all(*connector, contacts(false));
  REQUIRE(records.size() == 3);
  CHECK(records[0].id == "a@x");
  CHECK(records[0].origin == "line 2");
  CHECK(records[1].origin == "line 3");
  // Physical lines: the quoted field spans lines 3-4, line 5 is blank.
  CHECK(records[2].id == "a@x");
  CHECK(records[2].origin == "line 6");
  CHECK(records[2].fields["name"] == "Second");
  auto found = connector->lookup(contacts(false), "email", {"a@x"});
  REQUIRE(found.size() == 2);
  CHECK(found[0].origin == "line 2");
  CHECK(found[1].origin == "line 6");
}

TEST_CASE("csv: a row that is not valid UTF-8 is read with its problem, the others as they are", "[csv]") {
  CsvFolder folder("email,first_name,last_name\na@x,Ann\xff,Lee\nb@x,B\xc3\xa5rd,Bo\n\xe2\x28\xa1@x,C,D\n");
  auto connector = folder.connector();
  std::vector<Record> records;
  REQUIRE_NOTHROW(records = read_all(*connector, contacts(false)));
  REQUIRE(records.size() == 3);
  CHECK(records[0].problem == "line 2: column 'first_name' is not valid UTF-8 (byte 0xff at position 4)");
  CHECK(records[0].id == "a@x");
  // The fields that are valid UTF-8, so the record can be shown and stored as JSON.
  CHECK(records[0].fields == Json{{"email", "a@x"}, {"last_name", "Lee"}});
  CHECK(records[1].problem.empty());
  CHECK(records[1].fields["first_name"] == "B\xc3\xa5rd");
  CHECK(records[2].problem == "line 4: column 'email' is not valid UTF-8 (byte 0xe2 at position 1)");
  CHECK(records[2].id == "\xEF\xBF\xBD(\xEF\xBF\xBD@x");
  CHECK(records[2].fields == Json{{"first_name", "C"}, {"last_name", "D"}});
  for (const auto& record : records) CHECK_NOTHROW(Json{{"id", record.id}, {"fields", record.fields}}.dump());

  connectors::ReadRequest in_rows;  // as the engine reads: the bad cell is left out of the row too
  in_rows.rows = true;
  auto rows = read_all(*connector, contacts(false), in_rows);
  REQUIRE(rows.size() == 3);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    REQUIRE(rows[i].row);
    connectors::take_row_into_fields(rows[i]);
    CHECK(rows[i].fields == records[i].fields);
    CHECK(rows[i].problem == records[i].problem);
    CHECK(rows[i].id == records[i].id);
  }

  connectors::ReadRequest request;
  request.fields = {"email"};
  records = read_all(*connector, contacts(false), request);
  REQUIRE(records.size() == 3);
  CHECK_FALSE(records[0].problem.empty());  // a bad cell anywhere on the row rejects the row
  auto found = connector->lookup(contacts(false), "email", {"a@x"});
  REQUIRE(found.size() == 1);
  CHECK_FALSE(found[0].problem.empty());
}

TEST_CASE("csv: a column named twice in the header is an error naming it and both positions", "[csv]") {
  CsvFolder folder("id,email,name,phone,email\n1,a@x,A,5,b@x\n");
  auto connector = folder.connector();
  const std::string expected = "contacts.csv:1: column 'email' appears twice in the header (columns 2 and 5)";
  CHECK_THAT(config_error([&] { read_all(*connector, contacts(false)); }), Catch::Contains(expected));
  CHECK_THAT(config_error([&] { connector->lookup(contacts(false), "email", {"a@x"}); }), Catch::Contains(expected));
  CHECK_THAT(config_error([&] { connector->describe(contacts(false)); }), Catch::Contains(expected));
  CHECK_THAT(config_error([&] { connector->probe(contacts(false)); }), Catch::Contains(expected));
  CHECK_THAT(config_error([&] { connector->write(contacts(), {op(OpKind::upsert, "", {{"email", "c@x"}})}); }),
             Catch::Contains(expected));
  CHECK(folder.content() == "id,email,name,phone,email\n1,a@x,A,5,b@x\n");
}

TEST_CASE("csv: a header cell that is not valid UTF-8 is an error naming the column", "[csv]") {
  CsvFolder folder("email,n\xe4me\na@x,A\n");
  auto connector = folder.connector();
  CHECK_THAT(config_error([&] { read_all(*connector, contacts(false)); }),
             Catch::Contains("contacts.csv:1: column 2 of the header is not valid UTF-8 (byte 0xe4 at position 2)"));
  config_error([&] { connector->write(contacts(), {op(OpKind::upsert, "", {{"email", "c@x"}})}); });
}

TEST_CASE("csv describe: the header's columns, and a destination accepts new ones", "[csv]") {
  CsvFolder folder("email,name\na@x,A\n");
  auto connector = folder.connector();
  auto source = connector->describe(contacts(false));
  REQUIRE(source.fields.size() == 2);
  CHECK(source.fields[0].name == "email");
  CHECK(source.fields[0].unique);
  CHECK(source.fields[1].name == "name");
  CHECK_FALSE(source.accepts_new_fields);
  CHECK_FALSE(source.case_insensitive);
  CHECK(connector->describe(contacts()).accepts_new_fields);
  std::filesystem::remove(folder.file());
  auto missing = connector->describe(contacts());
  CHECK(missing.fields.empty());
  CHECK(missing.accepts_new_fields);
}

TEST_CASE("csv probe: reads the header of a source, needs the folder of a destination", "[csv]") {
  CsvFolder folder("email,name\na@x,A\n");
  auto connector = folder.connector();
  CHECK_NOTHROW(connector->probe(contacts(false)));
  CHECK_NOTHROW(connector->probe(contacts()));
  ObjectRef other = contacts(false);
  other.key_field = "mail";
  CHECK_THAT(config_error([&] { connector->probe(other); }), Catch::Contains("no column 'mail' (the key)"));

  std::filesystem::remove(folder.file());
  CHECK_THAT(config_error([&] { connector->probe(contacts(false)); }), Catch::Contains("contacts.csv: no such file"));
  CHECK_NOTHROW(connector->probe(contacts()));
  std::filesystem::remove(folder.dir.path() / "data");
  CHECK_THAT(config_error([&] { connector->probe(contacts()); }), Catch::Contains("no such folder"));
}

TEST_CASE("csv settings: a bad value is an error naming its key, found without touching the disk", "[csv]") {
  TempDir dir;  // no `data` folder: a connector is made without looking
  auto setting_of = [&](Json settings) {
    try {
      connectors::make_connector(csv_config(dir, std::move(settings)));
    } catch (const ConnectorError& e) {
      CHECK(e.kind() == ErrorKind::config);
      return e.setting() + ": " + e.what();
    }
    return std::string("no error");
  };
  CHECK(setting_of({{"path", "data"}, {"delimiter", ";;"}}) ==
        "delimiter: csv: connection 'files': `delimiter` must be a single character other than a quote or line break "
        "(got \";;\")");
  CHECK_THAT(setting_of({{"path", "data"}, {"delimiter", 9}}), Catch::StartsWith("delimiter: "));
  CHECK_THAT(setting_of({{"path", ""}}), Catch::StartsWith("path: "));
  CHECK_THAT(setting_of(Json::object()), Catch::StartsWith("path: "));
  CHECK(setting_of({{"path", "data"}, {"delimiter", "tab"}}) == "no error");
}

TEST_CASE("csv write: numbers are written as exact decimals, never in exponent form", "[csv]") {
  CsvFolder folder("email,n\n");
  auto connector = folder.connector();
  auto results = connector->write(contacts(), {op(OpKind::create, "", {{"email", "a@x"}, {"n", 1e16}}),
                                               op(OpKind::create, "", {{"email", "b@x"}, {"n", 0.1}}),
                                               op(OpKind::create, "", {{"email", "c@x"}, {"n", -2.5e-7}}),
                                               op(OpKind::create, "", {{"email", "d@x"}, {"n", 9007199254740993}}),
                                               op(OpKind::create, "", {{"email", "e@x"}, {"n", "12345678901234567.89"}}),
                                               op(OpKind::create, "", {{"email", "f@x"}, {"n", {1e21, 0.5}}}),
                                               op(OpKind::create, "", {{"email", 1e17}, {"n", 3.0}})});
  for (const auto& result : results) CHECK(result.ok);
  CHECK(results[6].id == "100000000000000000");
  CHECK(folder.content() ==
        "email,n\n"
        "a@x,10000000000000000\n"
        "b@x,0.1\n"
        "c@x,-0.00000025\n"
        "d@x,9007199254740993\n"
        "e@x,12345678901234567.89\n"
        "f@x,\"[1e+21,0.5]\"\n"
        "100000000000000000,3\n");
}

}  // namespace synctool::testing
