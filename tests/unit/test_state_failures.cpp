// The state when the machine misbehaves under it: truncated, damaged or foreign files, a full
// disk, a read-only file system, a missing permission. Every one is a StateError naming the
// folder or file (a local failure, exit 7), or, for damage LMDB follows without noticing, the
// fault guard's exit 7 with a message; never a signal. What may crash runs in a child process,
// so that a crash fails the test instead of ending the test run.
#include "state/fault_guard.hpp"
#include "state/lmdb_store.hpp"
#include "state/lmdb_support.hpp"
#include "state/local_errors.hpp"
#include "state/lock.hpp"
#include "state/staging.hpp"
#include "support/private_tmpfs.hpp"
#include "support/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <fcntl.h>
#include <grp.h>
#include <lmdb.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using namespace synctool::state;
using nlohmann::json;
using synctool::testing::TempDir;

// Exit statuses of the children below.
constexpr int kOk = 0;
constexpr int kStateErrorExit = 7;  // a StateError, or the fault guard
constexpr int kOtherException = 9;
constexpr int kCannotIsolate = 77;  // no private mount namespace here: the test is skipped

struct ChildResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  std::string output;  // the child's stderr

  bool exited(int code) const { return signal == 0 && exit_code == code; }
  std::string describe() const {
    std::ostringstream s;
    if (signal)
      s << "killed by signal " << signal << " (" << ::strsignal(signal) << ")";
    else
      s << "exit " << exit_code;
    s << "; stderr:\n" << output;
    return s.str();
  }
};

// Runs `body` in a child process with stderr captured. The child exits with body's return
// value, 7 after a StateError (its message on stderr), 9 after any other exception.
ChildResult in_child(const std::function<int()>& body) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    ::dup2(fds[1], STDERR_FILENO);
    // The test framework's handlers would report a crash here as a failure of the parent's
    // test; a crash of the child is the parent's to judge.
    for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL}) ::signal(sig, SIG_DFL);
    int code = kOk;
    std::string message;
    try {
      code = body();
    } catch (const StateError& e) {
      message = std::string("StateError: ") + e.what() + "\n";
      code = kStateErrorExit;
    } catch (const std::exception& e) {
      message = std::string("other exception: ") + e.what() + "\n";
      code = kOtherException;
    }
    if (!message.empty()) (void)!::write(STDERR_FILENO, message.data(), message.size());
    ::_exit(code);
  }
  ::close(fds[1]);
  ChildResult result;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    result.output.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  } else {
    result.exit_code = WEXITSTATUS(status);
  }
  return result;
}

// Fails the child (exit 10) with `what` on stderr when `ok` is false.
void expect(bool ok, const std::string& what) {
  if (ok) return;
  const std::string line = "expectation failed: " + what + "\n";
  (void)!::write(STDERR_FILENO, line.data(), line.size());
  ::_exit(10);
}

// Calls `fn` expecting a StateError of `problem` whose message holds every one of `parts`;
// in a child, fails it otherwise.
void expect_state_error(const std::function<void()>& fn, StateProblem problem, const std::vector<std::string>& parts) {
  try {
    fn();
  } catch (const StateError& e) {
    const std::string what = e.what();
    expect(e.problem() == problem, "problem kind " + std::to_string(static_cast<int>(e.problem())) + " of: " + what);
    for (const auto& part : parts) expect(what.find(part) != std::string::npos, "'" + part + "' in: " + what);
    return;
  } catch (const std::exception& e) {
    expect(false, std::string("a StateError, not: ") + e.what());
  }
  expect(false, "a StateError, but nothing was thrown");
}

using synctool::testing::read_bytes;
using synctool::testing::write_bytes;

std::string key_of(int i) { return "person" + std::to_string(i) + "@example.org"; }

// A state with some of everything, over several commits with deletes (so LMDB's free page
// list is not empty) and a few long (hashed) keys.
void fill_state(const fs::path& folder, int records) {
  auto store = open_lmdb_store(folder, false);
  for (int batch = 0; batch < records; batch += 100) {
    auto txn = store->begin();
    for (int i = batch; i < std::min(records, batch + 100); ++i) {
      const std::string key = i % 50 == 7 ? std::string(450, 'k') + key_of(i) : key_of(i);
      txn->put_link(key, {"s" + std::to_string(i), "d" + std::to_string(i)});
      txn->put_base(key, BaseValue{{{"email", key}, {"n", i}, {"note", std::string(40, 'x')}}, "h", "", ""});
      if (i % 10 == 3) txn->put_failed(key, FailedRow{"s" + std::to_string(i), "rejected", "reject", 1, 1, 2, ""});
      if (i % 25 == 4) txn->put_pending(key, PendingIntent{"destination", {{"email", key}}, 5});
    }
    txn->put_failed(unkeyed_failure_key("s-unkeyed-" + std::to_string(batch)),
                    FailedRow{"s-unkeyed", "no key", "reject", 1, 1, 1, ""});
    txn->put_conflict(key_of(batch), Conflict{{{"a", 1}}, {{"a", 2}}, 3, {}, {}});
    txn->set_meta(meta::source_cursor, "cursor-" + std::to_string(batch));
    txn->put_run(1000 + batch, {{"sync", "x"}, {"batch", batch}, {"started_at", "2026-01-01T00:00:00Z"}});
    txn->commit();
    if (batch >= 200) {
      auto erase = store->begin();
      for (int i = batch - 200; i < batch - 150; ++i) erase->erase_link(key_of(i));
      erase->commit();
    }
  }
}

// Everything the commands read from a state.
void read_everything(const StateStore& store) {
  (void)store.runs(0);
  for (const char* name :
       {meta::format_version, meta::source_cursor, meta::identity_hash, meta::last_run, meta::run_sequence})
    (void)store.get_meta(name);
  (void)store.link_count();
  (void)store.failed_count();
  (void)store.pending_count();
  store.for_each_link([](const std::string&, const Link&) { return true; });
  store.for_each_failed([](const std::string&, const FailedRow&) { return true; });
  store.for_each_pending([](const std::string&, const PendingIntent&) { return true; });
  store.for_each_conflict([](const std::string&, const Conflict&) { return true; });
  for (int i = 0; i < 400; i += 13) {
    (void)store.get_link(key_of(i));
    (void)store.get_base(key_of(i));
    (void)store.key_for_source_id("s" + std::to_string(i));
    (void)store.key_for_destination_id("d" + std::to_string(i));
  }
}

// What a run does to a state: reads, then a batch and the run record, then a reset.
void write_something(StateStore& store) {
  {
    auto txn = store.begin();
    for (int i = 0; i < 30; ++i) txn->put_link(key_of(i * 7), {"s-new" + std::to_string(i), "d-new"});
    txn->erase_link(key_of(11));
    txn->put_run(5, {{"sync", "x"}});
    txn->commit();
  }
  auto txn = store.begin();
  txn->clear_sync_state();
  txn->commit();
}

fs::path data_file(const fs::path& folder) { return folder / "data.mdb"; }

// Runs `body` in a child with a private tmpfs on `mount_point`. Returns false (and says why)
// when this machine cannot give the child one; fails the test if the child does.
bool on_private_tmpfs(const fs::path& mount_point, const std::string& options, const std::function<int()>& body) {
  auto result = in_child([&] {
    const std::string why_not = synctool::testing::mount_private_tmpfs(mount_point, options);
    if (!why_not.empty()) {
      (void)!::write(STDERR_FILENO, why_not.data(), why_not.size());
      return kCannotIsolate;
    }
    return body();
  });
  if (result.exited(kCannotIsolate)) {
    WARN("skipped: no private tmpfs for a real full disk on this machine: " << result.output);
    return false;
  }
  INFO(result.describe());
  CHECK(result.exited(kOk));
  return true;
}

// Fills the file system holding `folder` with `filler` until the kernel says ENOSPC.
void fill_disk(const fs::path& filler) {
  int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  expect(fd >= 0, "open the filler: " + std::string(std::strerror(errno)));
  std::string chunk(4096, 'f');
  for (;;) {
    ssize_t n = ::write(fd, chunk.data(), chunk.size());
    if (n < 0) {
      expect(errno == ENOSPC, std::string("filling ends with ENOSPC, not: ") + std::strerror(errno));
      break;
    }
  }
  ::close(fd);
}

void write_file_of(const fs::path& file, std::size_t bytes) {
  std::ofstream out(file, std::ios::binary);
  std::string data(bytes, 's');
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  out.flush();
  expect(out.good(), "write " + file.string());
}

}  // namespace

// --- truncated, foreign and damaged files ------------------------------------------------

TEST_CASE("state failures: a truncated data file is a StateError naming it, never SIGBUS", "[state][state-failures]") {
  TempDir dir;
  const auto folder = dir / "contacts";
  fill_state(folder, 600);
  const auto size = fs::file_size(data_file(folder));
  REQUIRE(size > 65536);
  fs::resize_file(data_file(folder), 16384);

  for (bool read_only : {true, false}) {
    auto result = in_child([&] {
      expect_state_error([&] { open_lmdb_store(folder, read_only); }, StateProblem::damaged,
                         {"state " + folder.string(), data_file(folder).string() + " is truncated: 16384 bytes",
                          "but its last page ends at", "synctool state reset contacts"});
      return kOk;
    });
    INFO(result.describe());
    CHECK(result.exited(kOk));
  }

  SECTION("an empty data file") {
    fs::resize_file(data_file(folder), 0);
    CHECK_THROWS_WITH(open_lmdb_store(folder, false), Catch::Contains("is truncated: 0 bytes"));
  }
  SECTION("a data file shorter than its meta pages") {
    fs::resize_file(data_file(folder), 100);
    CHECK_THROWS_WITH(open_lmdb_store(folder, true), Catch::Contains("is truncated: 100 bytes"));
  }
}

TEST_CASE("state failures: a file that is not LMDB's, or a damaged meta page", "[state][state-failures]") {
  TempDir dir;
  const auto folder = dir / "contacts";
  fill_state(folder, 100);
  const std::string pristine = read_bytes(data_file(folder));

  SECTION("text") {
    write_bytes(data_file(folder), std::string(20000, 'a'));
    CHECK_THROWS_WITH(open_lmdb_store(folder, true), Catch::Contains("is not an LMDB data file"));
  }
  SECTION("a page size of 0 in the meta page (LMDB would divide by it)") {
    std::string bytes = pristine;
    for (std::size_t at : {std::size_t{40}, std::size_t{4096 + 40}}) std::memset(bytes.data() + at, 0, 4);
    write_bytes(data_file(folder), bytes);
    auto result = in_child([&] {
      expect_state_error([&] { open_lmdb_store(folder, false); }, StateProblem::damaged,
                         {"gives a page size of 0", "synctool state reset contacts"});
      return kOk;
    });
    INFO(result.describe());
    CHECK(result.exited(kOk));
  }
  SECTION("a last page far past the end of the file") {
    std::string bytes = pristine;
    for (std::size_t at : {std::size_t{136}, std::size_t{4096 + 136}}) std::memset(bytes.data() + at, 0x7f, 8);
    write_bytes(data_file(folder), bytes);
    CHECK_THROWS_WITH(open_lmdb_store(folder, true), Catch::Contains("is truncated"));
  }
  SECTION("another LMDB data version") {
    std::string bytes = pristine;
    for (std::size_t at : {std::size_t{20}, std::size_t{4096 + 20}}) bytes[at] = 9;
    write_bytes(data_file(folder), bytes);
    CHECK_THROWS_WITH(open_lmdb_store(folder, true), Catch::Contains("has LMDB data version 9"));
  }
  SECTION("the header check reads the meta LMDB uses") {
    // The layout the check relies on agrees with what LMDB itself reports.
    MDB_env* env = nullptr;
    REQUIRE(mdb_env_create(&env) == MDB_SUCCESS);
    REQUIRE(mdb_env_set_maxdbs(env, 16) == MDB_SUCCESS);
    REQUIRE(mdb_env_open(env, folder.c_str(), MDB_RDONLY, 0600) == MDB_SUCCESS);
    MDB_envinfo info;
    MDB_stat st;
    REQUIRE(mdb_env_info(env, &info) == MDB_SUCCESS);
    REQUIRE(mdb_env_stat(env, &st) == MDB_SUCCESS);
    mdb_env_close(env);
    auto header = detail::check_data_file({"state " + folder.string(), folder, ""});
    CHECK(header.last_page == info.me_last_pgno);
    CHECK(header.page_size == st.ms_psize);
    CHECK(header.txn_id == info.me_last_txnid);
  }
}

TEST_CASE("state failures: a corrupt stored value is a StateError naming the table", "[state][state-failures]") {
  TempDir dir;
  const auto folder = dir / "contacts";
  fill_state(folder, 20);
  {
    // Not CBOR: written behind the store's back, as damage inside a page would read.
    MDB_env* env = nullptr;
    REQUIRE(mdb_env_create(&env) == MDB_SUCCESS);
    REQUIRE(mdb_env_set_maxdbs(env, 16) == MDB_SUCCESS);
    REQUIRE(mdb_env_open(env, folder.c_str(), 0, 0600) == MDB_SUCCESS);
    MDB_txn* txn = nullptr;
    REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == MDB_SUCCESS);
    MDB_dbi records, runs;
    REQUIRE(mdb_dbi_open(txn, "records", 0, &records) == MDB_SUCCESS);
    REQUIRE(mdb_dbi_open(txn, "runs", 0, &runs) == MDB_SUCCESS);
    std::string key = key_of(3), junk = "\xff\xfe not a record";
    MDB_val k{key.size(), key.data()}, v{junk.size(), junk.data()};
    REQUIRE(mdb_put(txn, records, &k, &v, 0) == MDB_SUCCESS);
    std::string run_key(8, '\x7f');
    MDB_val rk{run_key.size(), run_key.data()};
    REQUIRE(mdb_put(txn, runs, &rk, &v, 0) == MDB_SUCCESS);
    REQUIRE(mdb_txn_commit(txn) == MDB_SUCCESS);
    mdb_env_close(env);
  }
  auto store = open_lmdb_store(folder, true);
  try {
    (void)store->get_link(key_of(3));
    FAIL("no error");
  } catch (const StateError& e) {
    CHECK(e.problem() == StateProblem::damaged);
    CHECK_THAT(e.what(), Catch::Contains("holds a corrupt value in records") &&
                             Catch::Contains(data_file(folder).string()) &&
                             Catch::Contains("synctool state reset contacts"));
  }
  CHECK_THROWS_AS(store->for_each_link([](const std::string&, const Link&) { return true; }), StateError);
  // The digest alone is read without decoding the values, but damage is still found.
  CHECK_THROWS_WITH(store->get_base_hash(key_of(3)), Catch::Contains("holds a corrupt value in records"));
  CHECK(store->get_base_hash(key_of(4)) == "h");
  CHECK_THROWS_WITH(store->runs(1), Catch::Contains("holds a corrupt run record"));
  store.reset();
  CHECK_THROWS_AS(verify_lmdb_store(folder), StateError);
  auto check = check_lmdb_store(folder);
  CHECK_FALSE(check.healthy);
  CHECK(check.problem == StateProblem::damaged);
  CHECK_THAT(check.message, Catch::Contains("holds a corrupt"));
}

TEST_CASE("state failures: a fault inside an LMDB map exits 7 with a message; any other fault still crashes",
          "[state][state-failures]") {
  TempDir dir;
  const auto folder = dir / "contacts";
  fill_state(folder, 600);

  // The file shrinks under an open store (another program truncating it): the pages LMDB
  // then reads are past its end. Nothing but the guard can stand between that and SIGBUS.
  auto truncated = in_child([&] {
    auto store = open_lmdb_store(folder, true);
    ::truncate(data_file(folder).c_str(), 8192);
    read_everything(*store);
    return kOk;
  });
  INFO(truncated.describe());
  CHECK(truncated.exited(kStateErrorExit));
  CHECK_THAT(truncated.output, Catch::StartsWith("synctool: error: state " + folder.string() + ": " +
                                                 data_file(folder).string() + " is truncated: it has 8192 bytes") &&
                                   Catch::Contains("synctool state reset contacts"));

  fill_state(dir / "other", 10);
  auto unrelated = in_child([&] {
    auto store = open_lmdb_store(dir / "other", true);
    (void)store->link_count();
    volatile int* nowhere = reinterpret_cast<int*>(16);
    return *nowhere;
  });
  INFO(unrelated.describe());
  CHECK_FALSE(unrelated.exited(kStateErrorExit));
  CHECK_FALSE(unrelated.exited(kOk));
  CHECK_THAT(unrelated.output, !Catch::Contains("data.mdb"));
}

TEST_CASE("state failures: random damage to a state file is a StateError or exit 7, never a signal (property)",
          "[state][state-failures]") {
  TempDir dir;
  const auto pristine_folder = dir / "pristine";
  fill_state(pristine_folder, 400);
  const std::string pristine = read_bytes(data_file(pristine_folder));
  const std::size_t page = 4096;
  REQUIRE(pristine.size() % page == 0);
  const std::size_t pages = pristine.size() / page;

  // SYNCTOOL_STATE_DAMAGE_SEEDS=N runs more (a seed replays exactly: it is printed on failure).
  const char* more = std::getenv("SYNCTOOL_STATE_DAMAGE_SEEDS");
  const int seeds = more ? std::max(1, std::atoi(more)) : 120;
  std::map<std::string, int> outcomes;
  for (int seed = 1; seed <= seeds; ++seed) {
    std::mt19937_64 random(static_cast<std::uint64_t>(seed));
    auto below = [&](std::size_t n) { return static_cast<std::size_t>(random() % n); };
    std::string bytes = pristine;
    std::string damage;
    switch (seed % 4) {
      case 0:
        bytes.resize(below(bytes.size()));
        damage = "truncated to " + std::to_string(bytes.size());
        break;
      case 1:
        for (int n = 1 + static_cast<int>(below(4)); n > 0; --n) {
          const std::size_t at = below(bytes.size() - 16);
          for (std::size_t i = 0, len = 1 + below(16); i < len; ++i) bytes[at + i] = static_cast<char>(random());
          damage += "bytes at " + std::to_string(at) + "; ";
        }
        break;
      case 2: {
        const std::size_t which = below(pages);
        std::memset(bytes.data() + which * page, 0, page);
        damage = "page " + std::to_string(which) + " zeroed";
        break;
      }
      case 3: {
        const std::size_t which = 2 + below(pages - 2);
        for (std::size_t i = 0; i < page; ++i) bytes[which * page + i] = static_cast<char>(random());
        damage = "page " + std::to_string(which) + " random";
        break;
      }
    }
    const auto folder = dir / ("seed" + std::to_string(seed)) / "contacts";
    fs::create_directories(folder);
    write_bytes(data_file(folder), bytes);

    // What `status`, `runs` and `state show` do; then what `run` does, and a full check.
    const std::vector<std::pair<const char*, std::function<int()>>> uses = {
        {"read",
         [&] {
           if (auto ro = open_lmdb_store(folder, true)) read_everything(*ro);
           return kOk;
         }},
        {"written", [&] {
           {
             auto rw = open_lmdb_store(folder, false);
             read_everything(*rw);
             write_something(*rw);
           }
           verify_lmdb_store(folder);
           return kOk;
         }}};
    for (const auto& [use, body] : uses) {
      auto result = in_child(body);
      INFO("seed " << seed << ": " << damage << "; " << use << ": " << result.describe());
      REQUIRE((result.exited(kOk) || result.exited(kStateErrorExit)));
      // Every message names the state folder.
      if (result.exited(kStateErrorExit)) CHECK_THAT(result.output, Catch::Contains("state " + folder.string()));
      ++outcomes[std::string(use) + (result.exited(kOk) ? ": fine" : ": exit 7")];
    }

    // Whatever the damage, `state reset` can tell healthy from damaged without crashing, and
    // the state files of a damaged state can be removed for a fresh start.
    auto check = check_lmdb_store(folder);
    if (!check.healthy) {
      CHECK(check.problem == StateProblem::damaged);
      remove_lmdb_store(folder);
      auto fresh = open_lmdb_store(folder, false);
      CHECK(fresh->link_count() == 0);
      CHECK(fresh->runs(0).empty());
    }
    fs::remove_all(folder.parent_path());
  }
  std::ostringstream summary;
  for (const auto& [outcome, n] : outcomes) summary << outcome << ": " << n << "; ";
  WARN("state damage property, " << seeds << " seeds: " << summary.str());
}

// --- a full disk, a read-only file system, a missing permission ---------------------------

TEST_CASE("state failures: errno reasons name the folder", "[state][state-failures]") {
  const fs::path dir = "/srv/.synctool/contacts";
  CHECK(detail::errno_reason(ENOSPC, dir) ==
        "the disk holding /srv/.synctool/contacts is full (No space left on device)");
  CHECK_THAT(detail::errno_reason(EDQUOT, dir),
             Catch::StartsWith("the disk quota for /srv/.synctool/contacts is used up"));
  CHECK_THAT(detail::errno_reason(EROFS, dir),
             Catch::StartsWith("/srv/.synctool/contacts is on a read-only file system"));
  CHECK_THAT(detail::errno_reason(EACCES, dir),
             Catch::StartsWith("this user may not write or read /srv/.synctool/contacts"));
  CHECK_THAT(detail::errno_reason(EIO, dir), Catch::Contains("reported an I/O error"));
  CHECK(detail::errno_problem(ENOSPC) == StateProblem::no_space);
  CHECK(detail::errno_problem(EDQUOT) == StateProblem::no_space);
  CHECK(detail::errno_problem(EROFS) == StateProblem::read_only);
  CHECK(detail::errno_problem(EACCES) == StateProblem::permission);
  CHECK(detail::errno_problem(EIO) == StateProblem::io);
  CHECK(detail::is_damage(MDB_CORRUPTED));
  CHECK(detail::is_damage(MDB_PAGE_NOTFOUND));
  CHECK(detail::is_damage(MDB_INVALID));
  CHECK_FALSE(detail::is_damage(ENOSPC));
  try {
    detail::fail({"state " + dir.string(), dir, detail::reset_advice(dir)}, MDB_CORRUPTED, "read links");
  } catch (const StateError& e) {
    CHECK(e.problem() == StateProblem::damaged);
    CHECK_THAT(e.what(), Catch::StartsWith("state /srv/.synctool/contacts: cannot read links: "
                                           "/srv/.synctool/contacts/data.mdb is damaged (MDB_CORRUPTED") &&
                             Catch::EndsWith("(the run history is lost with it; the next run is a baseline)"));
  }
  try {
    detail::fail({"state " + dir.string(), dir, detail::reset_advice(dir)}, EIO, "commit");
  } catch (const StateError& e) {
    CHECK(e.problem() == StateProblem::io);
    CHECK_THAT(e.what(), !Catch::Contains("state reset"));
  }
}

TEST_CASE("state failures: a full disk at commit keeps what was committed before (real ENOSPC)",
          "[state][state-failures][disk-full]") {
  TempDir dir;
  const auto mount = dir / "disk";
  const auto folder = mount / "contacts";
  on_private_tmpfs(mount, "size=512k", [&] {
    auto store = open_lmdb_store(folder, false);
    {
      auto txn = store->begin();
      for (int i = 0; i < 100; ++i) txn->put_link(key_of(i), {"s" + std::to_string(i), "d" + std::to_string(i)});
      txn->put_run(1, {{"run", 1}});
      txn->commit();
    }
    fill_disk(mount / "filler");
    {
      auto txn = store->begin();
      for (int i = 100; i < 2000; ++i) {
        txn->put_link(key_of(i), {"s" + std::to_string(i), ""});
        txn->put_base(key_of(i), BaseValue{{{"note", std::string(500, 'n')}}, "h", "", ""});
      }
      txn->put_run(2, {{"run", 2}});
      expect_state_error(
          [&] { txn->commit(); }, StateProblem::no_space,
          {"state " + folder.string() + ": cannot commit: the disk holding " + folder.string() + " is full",
           "nothing of this transaction was kept: the state is as the last commit left it"});
    }
    // All of the first batch, none of the second, in this process and in a new open.
    expect(store->link_count() == 100, "100 links after the failed commit");
    expect(!store->get_link(key_of(150)), "no link of the failed batch");
    expect(store->runs(0).size() == 1, "one run");
    store.reset();
    fs::remove(mount / "filler");
    store = open_lmdb_store(folder, false);
    expect(store->link_count() == 100 && store->get_link(key_of(99)).has_value(), "the first batch after reopening");
    expect(!store->get_link(key_of(150)) && store->runs(0).size() == 1, "nothing of the second batch after reopening");
    store.reset();  // one environment per folder and process
    verify_lmdb_store(folder);
    store = open_lmdb_store(folder, false);
    // With room again the same batch commits.
    auto txn = store->begin();
    for (int i = 100; i < 200; ++i) txn->put_link(key_of(i), {"s" + std::to_string(i), ""});
    txn->commit();
    expect(store->link_count() == 200, "200 links once there is room");
    return kOk;
  });
}

TEST_CASE("state failures: a commit the disk cuts short is a full disk too (real ENOSPC)",
          "[state][state-failures][disk-full]") {
  TempDir dir;
  const auto mount = dir / "disk";
  const auto folder = mount / "contacts";
  on_private_tmpfs(mount, "size=2m", [&] {
    auto store = open_lmdb_store(folder, false);
    write_file_of(mount / "spare", 64 * 1024);
    fill_disk(mount / "filler");
    fs::remove(mount / "spare");
    // Room for some pages of the batch, not all: LMDB's write comes back short, which LMDB
    // reports as EIO.
    auto txn = store->begin();
    for (int i = 0; i < 2000; ++i) txn->put_base(key_of(i), BaseValue{{{"note", std::string(500, 'n')}}, "h", "", ""});
    expect_state_error([&] { txn->commit(); }, StateProblem::no_space,
                       {"cannot commit: the disk holding " + folder.string() + " is full"});
    expect(!store->get_base(key_of(0)), "nothing of the batch");
    return kOk;
  });
}

TEST_CASE("state failures: a full disk when the state is created or opened (real ENOSPC)",
          "[state][state-failures][disk-full]") {
  TempDir dir;
  const auto mount = dir / "disk";
  on_private_tmpfs(mount, "size=256k", [&] {
    const auto existing = mount / "existing";
    open_lmdb_store(existing, false).reset();
    fs::remove(existing / "lock.mdb");  // the next open creates it again
    write_file_of(mount / "spare", 8192);
    fill_disk(mount / "filler");

    // No room for LMDB's lock file: without the reservation LMDB writes its sparse map and
    // dies of SIGBUS.
    expect_state_error(
        [&] { open_lmdb_store(existing, true); }, StateProblem::no_space,
        {"state " + existing.string(), "lock.mdb", "the disk holding " + existing.string() + " is full"});
    const auto fresh = mount / "fresh";
    expect_state_error([&] { open_lmdb_store(fresh, false); }, StateProblem::no_space,
                       {"state " + fresh.string(), "is full"});
    // Room for the lock file only: the data file's first pages do not fit.
    fs::remove(mount / "spare");
    expect_state_error([&] { open_lmdb_store(fresh, false); }, StateProblem::no_space,
                       {"state " + fresh.string(), "is full"});
    // A failed creation leaves no data file behind, so the next open is not mistaken for
    // damage.
    expect(!fs::exists(fresh / "data.mdb"), "no data.mdb after a failed creation");
    fs::remove(mount / "filler");
    auto store = open_lmdb_store(fresh, false);
    expect(store->runs(0).empty(), "a fresh state once there is room");
    for (const auto& entry : fs::directory_iterator(fresh))
      expect(!entry.path().filename().string().starts_with("creating-"), "no creation folder left behind");
    return kOk;
  });
}

TEST_CASE("state failures: no inode left for the folder or the lock file (real ENOSPC)",
          "[state][state-failures][disk-full]") {
  TempDir dir;
  const auto mount = dir / "disk";
  on_private_tmpfs(mount, "size=1m,nr_inodes=16", [&] {
    fs::create_directories(mount / "contacts");
    for (int i = 0;; ++i) {
      int fd = ::open((mount / ("f" + std::to_string(i))).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
      if (fd < 0) {
        expect(errno == ENOSPC, std::string("inodes run out with ENOSPC, not: ") + std::strerror(errno));
        break;
      }
      ::close(fd);
    }
    expect_state_error([&] { open_lmdb_store(mount / "new-sync", false); }, StateProblem::no_space,
                       {"cannot create the folder " + (mount / "new-sync").string(), "is full"});
    expect_state_error([&] { SyncLock::try_acquire(mount / "contacts"); }, StateProblem::no_space,
                       {"cannot create the lock file " + (mount / "contacts" / "lock").string(), "is full"});
    expect_state_error([&] { make_disk_staging(mount / "contacts" / "staging"); }, StateProblem::no_space,
                       {"staging", "is full"});
    return kOk;
  });
}

TEST_CASE("state failures: the staging table on a full disk exits 7 with a message, never SIGBUS",
          "[state][state-failures][disk-full]") {
  TempDir dir;
  const auto mount = dir / "disk";
  on_private_tmpfs(mount, "size=512k", [&] {
    write_file_of(mount / "spare", 96 * 1024);
    fill_disk(mount / "filler");
    fs::remove(mount / "spare");
    // Room to open the table; its sparse map then runs out of blocks as records go in.
    auto result = in_child([&] {
      auto staging = make_disk_staging(mount / "contacts" / "staging");
      for (int i = 0; i < 100000; ++i) staging->put(key_of(i), std::string(200, 'n'));
      staging->seal();
      return kOk;
    });
    expect(result.exited(kStateErrorExit), "exit 7, got " + result.describe());
    expect(result.output.find("synctool: error: staging " + (mount / "contacts" / "staging").string()) !=
                   std::string::npos &&
               result.output.find("the disk holding it is full") != std::string::npos &&
               result.output.find("the state is as its last commit left it") != std::string::npos,
           "the message, got: " + result.output);
    return kOk;
  });
}

TEST_CASE("state failures: a read-only file system", "[state][state-failures][disk-full]") {
  TempDir dir;
  const auto mount = dir / "disk";
  on_private_tmpfs(mount, "size=1m", [&] {
    const auto folder = mount / "contacts";
    fill_state(folder, 20);
    expect(::mount("none", mount.c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr) == 0,
           std::string("remount read-only: ") + std::strerror(errno));
    expect_state_error([&] { open_lmdb_store(folder, false); }, StateProblem::read_only,
                       {"state " + folder.string(), "is on a read-only file system"});
    expect_state_error([&] { SyncLock::try_acquire(folder); }, StateProblem::read_only, {"read-only file system"});
    // Reading needs no write: `state show`, `status` and `runs` still work.
    auto store = open_lmdb_store(folder, true);
    expect(store && store->link_count() == 20, "a read-only open reads the state");
    return kOk;
  });
}

TEST_CASE("state failures: a folder this user may not write", "[state][state-failures]") {
  TempDir dir;
  const auto locked = dir / "locked";
  fs::create_directories(locked);
  fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec);
  auto result = in_child([&] {
    if (::geteuid() == 0) {
      // Root may write anywhere: become nobody, for whom the test folder is not writable.
      expect(::setgroups(0, nullptr) == 0 && ::setresgid(65534, 65534, 65534) == 0 &&
                 ::setresuid(65534, 65534, 65534) == 0,
             std::string("drop root: ") + std::strerror(errno));
    }
    expect_state_error([&] { open_lmdb_store(locked / "contacts", false); }, StateProblem::permission,
                       {"this user may not write or read"});
    expect_state_error([&] { SyncLock::try_acquire(locked / "contacts"); }, StateProblem::permission,
                       {"this user may not write or read"});
    return kOk;
  });
  fs::permissions(locked, fs::perms::owner_all);
  INFO(result.describe());
  CHECK(result.exited(kOk));
}
