// The project's operations keys: metrics_dir and the [notify] webhook (url a secret, events).
#include "spec/loader.hpp"
#include "spec/spec.hpp"
#include "support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>

namespace fs = std::filesystem;
using namespace synctool::spec;
using synctool::testing::TempDir;

namespace {

const ConnectorKeys* no_types(const std::string&) { return nullptr; }

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

const std::string kHook = "https://hooks.example.com/services/T000/B000/secretpart";

struct Project {
  TempDir dir;
  fs::path file = dir / "synctool.toml";
  explicit Project(const std::string& toml) { synctool::testing::write_bytes(file, toml); }
  ProjectSpec load(const EnvLookup& env) const { return load_project(file, no_types, env); }
  std::vector<std::string> problems(const EnvLookup& env) const {
    try {
      load(env);
    } catch (const SpecError& e) {
      std::vector<std::string> lines;
      for (const auto& p : e.problems()) lines.push_back(p.to_string());
      return lines;
    }
    FAIL("expected a SpecError");
    return {};
  }
};

}  // namespace

TEST_CASE("metrics_dir resolves against the project folder; none by default", "[spec][notify]") {
  Project none("");
  CHECK(none.load(env_of({})).metrics_dir.empty());
  Project p("metrics_dir = \"metrics\"\n");
  CHECK(p.load(env_of({})).metrics_dir == (p.dir.path() / "metrics").lexically_normal());
  Project empty("metrics_dir = \"\"\n");
  auto problems = empty.problems(env_of({}));
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].find("synctool.toml:1:15: metrics_dir: expected a folder path") != std::string::npos);
}

TEST_CASE("[notify] url from the environment is a secret; on defaults to the changes that matter",
          "[spec][notify]") {
  Project p("[notify]\nurl = \"${WEBHOOK}\"\n");
  auto spec = p.load(env_of({{"WEBHOOK", kHook}}));
  CHECK(spec.notify.url == kHook);
  CHECK(spec.notify.on == std::vector<std::string>{"failing", "recovered", "safeguard"});
  CHECK(std::find(spec.secrets.begin(), spec.secrets.end(), kHook) != spec.secrets.end());

  // Written into the file: still a secret.
  Project inline_url("[notify]\nurl = \"" + kHook + "\"\non = [\"failing\", \"degraded\"]\n");
  auto inline_spec = inline_url.load(env_of({}));
  CHECK(std::find(inline_spec.secrets.begin(), inline_spec.secrets.end(), kHook) != inline_spec.secrets.end());
  CHECK(inline_spec.notify.on == std::vector<std::string>{"failing", "degraded"});

  // ${WEBHOOK:-} unset: no notifications, no error.
  Project optional("[notify]\nurl = \"${WEBHOOK:-}\"\n");
  CHECK(optional.load(env_of({})).notify.url.empty());
}

TEST_CASE("[notify] problems name the line and never quote the url", "[spec][notify]") {
  Project missing("[notify]\non = [\"failing\"]\n");
  auto problems = missing.problems(env_of({}));
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].find("[notify] is missing required key 'url'") != std::string::npos);

  Project unset("[notify]\nurl = \"${WEBHOOK}\"\n");
  problems = unset.problems(env_of({}));
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].find("synctool.toml:2:") != std::string::npos);
  CHECK(problems[0].find("WEBHOOK") != std::string::npos);

  Project scheme("[notify]\nurl = \"${WEBHOOK}\"\n");
  problems = scheme.problems(env_of({{"WEBHOOK", "ftp://secret.example/x"}}));
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].find("expected an http:// or https:// URL") != std::string::npos);
  CHECK(problems[0].find("secret.example") == std::string::npos);

  Project events("[notify]\nurl = \"${WEBHOOK}\"\non = [\"failng\"]\nuri = 1\n");
  problems = events.problems(env_of({{"WEBHOOK", kHook}}));
  REQUIRE(problems.size() == 2);
  CHECK(problems[0].find("unknown event 'failng' (did you mean 'failing'?)") != std::string::npos);
  CHECK(problems[1].find("uri") != std::string::npos);
}
