// Staging table behaviour on disk (LMDB) and in memory.
#include "state/staging.hpp"
#include "support/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include <set>
#include <string>
#include <vector>

namespace {

using namespace synctool::state;
using nlohmann::json;
using synctool::testing::TempDir;

// Values are bytes; the tests store JSON text to read them back easily.
std::string text(const json& value) { return value.dump(); }
json parsed(const std::optional<std::string>& bytes) { return json::parse(bytes.value()); }

struct DiskFixture {
  TempDir dir;
  std::unique_ptr<Staging> staging = make_disk_staging(dir / "staging-parent");
};

struct MemoryFixture {
  std::unique_ptr<Staging> staging = make_memory_staging();
};

std::vector<std::string> keys_of(const Staging& staging) {
  std::vector<std::string> keys;
  staging.for_each([&](const std::string& key, std::string_view) {
    keys.push_back(key);
    return true;
  });
  return keys;
}

std::vector<std::filesystem::path> children(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) out.push_back(entry.path());
  return out;
}

}  // namespace

TEMPLATE_TEST_CASE("staging: duplicate put returns the previous value", "[staging]", DiskFixture, MemoryFixture) {
  TestType f;
  Staging& s = *f.staging;
  CHECK_FALSE(s.put("a@example.com", text({{"id", "1"}})));
  CHECK_FALSE(s.put("b@example.com", text({{"id", "2"}})));
  auto previous = s.put("a@example.com", text({{"id", "3"}}));
  REQUIRE(previous);
  CHECK(parsed(previous)["id"] == "1");
  CHECK(s.size() == 2);
  CHECK(s.get("a@example.com") == text({{"id", "3"}}));
  CHECK(s.contains("b@example.com"));
  CHECK_FALSE(s.contains("c@example.com"));
  CHECK_FALSE(s.get("c@example.com"));
}

TEMPLATE_TEST_CASE("staging: for_each is sorted and can stop", "[staging]", DiskFixture, MemoryFixture) {
  TestType f;
  Staging& s = *f.staging;
  for (const char* key : {"pear", "apple", "zebra", "mango", "banana"}) s.put(key, text({{"name", key}}));
  CHECK(keys_of(s) == std::vector<std::string>{"apple", "banana", "mango", "pear", "zebra"});
  s.seal();
  CHECK(keys_of(s) == std::vector<std::string>{"apple", "banana", "mango", "pear", "zebra"});
  std::vector<std::string> firsts;
  s.for_each([&](const std::string& key, std::string_view value) {
    CHECK(json::parse(value)["name"] == key);
    firsts.push_back(key);
    return firsts.size() < 2;
  });
  CHECK(firsts == std::vector<std::string>{"apple", "banana"});
}

TEMPLATE_TEST_CASE("staging: reads before and after seal", "[staging]", DiskFixture, MemoryFixture) {
  TestType f;
  Staging& s = *f.staging;
  s.put("k1", text({{"v", 1}}));
  CHECK(s.get("k1") == text({{"v", 1}}));
  CHECK(keys_of(s) == std::vector<std::string>{"k1"});
  s.put("k2", text({{"v", 2}}));  // a put after reading still works
  CHECK(s.contains("k2"));
  CHECK(s.size() == 2);
  s.seal();
  CHECK(s.get("k2") == text({{"v", 2}}));
  CHECK(s.size() == 2);
  CHECK_THROWS_AS(s.put("k3", ""), std::logic_error);
  CHECK_FALSE(s.contains("k3"));
}

TEMPLATE_TEST_CASE("staging: long keys", "[staging]", DiskFixture, MemoryFixture) {
  TestType f;
  Staging& s = *f.staging;
  const std::string prefix(1000, 'p');
  const std::string long_a = prefix + std::string(1000, 'a');
  const std::string long_b = prefix + std::string(1000, 'b');
  s.put(long_a, text({{"v", "a"}}));
  s.put(long_b, text({{"v", "b"}}));
  s.put("short", text({{"v", "s"}}));
  auto previous = s.put(long_a, text({{"v", "a2"}}));
  REQUIRE(previous);
  CHECK(parsed(previous)["v"] == "a");
  CHECK(s.size() == 3);
  CHECK(s.get(long_b) == text({{"v", "b"}}));
  CHECK_FALSE(s.contains(prefix));
  s.seal();
  auto keys = keys_of(s);
  REQUIRE(keys.size() == 3);
  CHECK(std::set<std::string>{keys[0], keys[1]} == std::set<std::string>{long_a, long_b});
  CHECK(keys[2] == "short");
  CHECK(s.get(long_a) == text({{"v", "a2"}}));
}

TEST_CASE("staging: many records on disk, folder removed afterwards", "[staging]") {
  TempDir dir;
  const auto parent = dir / "parent";
  const int n = 200'000;
  {
    auto s = make_disk_staging(parent);
    auto folders = children(parent);
    REQUIRE(folders.size() == 1);
    CHECK(folders[0].filename().string().starts_with("staging-"));
    struct stat st {};
    REQUIRE(::stat(folders[0].c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);

    int duplicates = 0;
    for (int i = 0; i < n; ++i) {
      // Scattered insertion order, so the table really sorts.
      const int id = static_cast<int>((static_cast<long long>(i) * 7919) % n);
      if (s->put("key" + std::to_string(id), text({{"id", id}})))
        ++duplicates;
    }
    CHECK(duplicates == 0);
    CHECK(s->size() == static_cast<std::size_t>(n));
    CHECK(parsed(s->put("key123", text({{"id", -1}})))["id"] == 123);
    s->seal();
    CHECK(s->size() == static_cast<std::size_t>(n));
    CHECK(parsed(s->get("key4242"))["id"] == 4242);

    std::size_t count = 0;
    std::string previous;
    bool sorted = true;
    s->for_each([&](const std::string& key, std::string_view) {
      if (count > 0 && !(previous < key)) sorted = false;
      previous = key;
      ++count;
      return true;
    });
    CHECK(count == static_cast<std::size_t>(n));
    CHECK(sorted);

    // A second table under the same parent gets its own folder.
    auto other = make_disk_staging(parent);
    CHECK(children(parent).size() == 2);
  }
  CHECK(children(parent).empty());
}
