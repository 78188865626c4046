// The per-sync lock: exclusive within a process (separate opens) and across processes.
#include "state/lock.hpp"
#include "support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using synctool::state::SyncLock;
using synctool::testing::TempDir;

}  // namespace

TEST_CASE("lock: a second acquire fails until the first is released", "[lock]") {
  TempDir dir;
  const auto folder = dir / "state" / "sync";
  auto first = SyncLock::try_acquire(folder);
  REQUIRE(first);
  struct stat st {};
  REQUIRE(::stat(folder.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  REQUIRE(::stat((folder / "lock").c_str(), &st) == 0);
  CHECK((st.st_mode & 0077) == 0);

  CHECK_FALSE(SyncLock::try_acquire(folder));
  first.reset();
  auto again = SyncLock::try_acquire(folder);
  CHECK(again);
}

TEST_CASE("lock: moving keeps the lock held", "[lock]") {
  TempDir dir;
  auto first = SyncLock::try_acquire(dir.path());
  REQUIRE(first);
  SyncLock moved = std::move(*first);
  first.reset();  // destroying the moved-from object must not unlock
  CHECK_FALSE(SyncLock::try_acquire(dir.path()));

  TempDir other_dir;
  auto other = SyncLock::try_acquire(other_dir.path());
  REQUIRE(other);
  moved = std::move(*other);  // releases the first lock, takes over the second
  CHECK(SyncLock::try_acquire(dir.path()));
  CHECK_FALSE(SyncLock::try_acquire(other_dir.path()));
}

TEST_CASE("lock: another process cannot acquire a held lock", "[lock]") {
  TempDir dir;
  auto held = SyncLock::try_acquire(dir.path());
  REQUIRE(held);

  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int code = 2;
    try {
      code = SyncLock::try_acquire(dir.path()) ? 1 : 0;
    } catch (...) {
    }
    ::_exit(code);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);  // the child got nullopt

  // The child's exit did not release the parent's lock.
  CHECK_FALSE(SyncLock::try_acquire(dir.path()));
}
