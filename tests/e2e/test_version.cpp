// `synctool --version`: the version, the commit the binary was built from and the build type;
// and the stamp that the build runs (src/cli/version_stamp.cmake) on a repository of its own:
// the commit, "-dirty", "unknown" without .git, and no rewrite while nothing changed.
#include "e2e/fixtures.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <thread>

namespace synctool::e2e {

namespace {

// Runs a shell command; its stdout, trailing newline removed. Throws when it fails.
std::string shell(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run: " + command);
  char buffer[4096];
  while (auto n = std::fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
  int status = ::pclose(pipe);
  if (status != 0) throw std::runtime_error("failed (" + std::to_string(status) + "): " + command + "\n" + out);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string quoted(const fs::path& path) { return "'" + path.string() + "'"; }

}  // namespace

TEST_CASE("--version prints the version, the commit built and the build type", "[e2e][version]") {
  Project project;
  auto r = project.run({"--version"});
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  auto lines = r.out;
  CHECK(lines.starts_with(std::string("synctool ") + SYNCTOOL_VERSION + "\ncommit: "));
  CHECK(lines.find("\nbuild: " SYNCTOOL_BUILD_TEXT "\n") != std::string::npos);

  // A commit of the source tree the binary was built from (not necessarily HEAD: a commit may
  // have come since the build), or "unknown" when the tree is no git checkout (a tarball).
  auto at = lines.find("\ncommit: ");
  REQUIRE(at != std::string::npos);
  auto commit = lines.substr(at + 9, lines.find('\n', at + 1) - at - 9);
  if (commit.ends_with("-dirty")) commit.resize(commit.size() - 6);
  bool checkout = false;
  try {
    auto top = shell("git -C " + quoted(SYNCTOOL_SOURCE_DIR) + " rev-parse --show-toplevel 2>/dev/null");
    checkout = fs::equivalent(top, SYNCTOOL_SOURCE_DIR);
  } catch (const std::exception&) {
  }
  if (!checkout) {
    CHECK(commit == "unknown");
  } else {
    CHECK(commit.size() == 12);
    CHECK_NOTHROW(shell("git -C " + quoted(SYNCTOOL_SOURCE_DIR) + " cat-file -e " + commit + "^{commit}"));
  }
}

TEST_CASE("the version stamp: the commit, -dirty, unknown without .git, and no rewrite when nothing changed",
          "[e2e][version]") {
  Project project;
  const fs::path repo = project.path("tree");
  fs::create_directories(repo / "src/cli");
  fs::copy_file(fs::path(SYNCTOOL_SOURCE_DIR) / "src/cli/version.cpp.in", repo / "src/cli/version.cpp.in");
  const fs::path out = project.path("version.cpp");
  const std::string git = "git -C " + quoted(repo) + " -c user.name=test -c user.email=test@example.org ";
  auto stamp = [&] {
    shell(std::string(SYNCTOOL_CMAKE_COMMAND) + " -DSOURCE_DIR=" + quoted(repo) + " -DOUTPUT=" + quoted(out) +
          " -DVERSION=9.8.7 '-DBUILD=Test, sanitized' -P " +
          quoted(fs::path(SYNCTOOL_SOURCE_DIR) / "src/cli/version_stamp.cmake"));
    return project.read_file("version.cpp");
  };

  shell(git + "init -q && " + git + "add . && " + git + "commit -q -m one");
  auto first = shell(git + "rev-parse --short=12 HEAD");
  auto text = stamp();
  CHECK(text.find(R"("synctool 9.8.7\ncommit: )" + first + R"(\nbuild: Test, sanitized")") != std::string::npos);

  // Nothing changed: the file is left alone, so nothing recompiles.
  auto written = fs::last_write_time(out);
  // (A rewrite within the same clock tick would keep the time: give it a later one.)
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(stamp() == text);
  CHECK(fs::last_write_time(out) == written);

  // A tracked file differs from the commit.
  project.write_file("tree/src/cli/version.cpp.in", project.read_file("tree/src/cli/version.cpp.in") + "// edit\n");
  CHECK(stamp().find("commit: " + first + "-dirty") != std::string::npos);

  // A new commit: the new hash.
  shell(git + "commit -q -a -m two");
  auto second = shell(git + "rev-parse --short=12 HEAD");
  REQUIRE(second != first);
  auto after = stamp();
  CHECK(after.find("commit: " + second + R"(\n)") != std::string::npos);
  CHECK(fs::last_write_time(out) != written);

  // A source tarball: no .git.
  fs::remove_all(repo / ".git");
  CHECK(stamp().find(R"(commit: unknown\n)") != std::string::npos);

  // A tarball unpacked inside another checkout is not that checkout's commit.
  shell("git -C " + quoted(project.root()) + " init -q");
  CHECK(stamp().find(R"(commit: unknown\n)") != std::string::npos);
}

}  // namespace synctool::e2e
