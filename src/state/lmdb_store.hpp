// StateStore on LMDB: one environment per sync in <state_dir>/<sync>/ (mode 0700).
#pragma once

#include "state/store.hpp"

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

namespace synctool::state {

// Opens (creating when `read_only` is false) the environment in `dir`. A read-only open of a
// folder with no state yet returns nullptr.
//
// Every failure is a StateError naming the folder or file: a folder or file that cannot be
// created or read (a full disk, a read-only file system, a missing permission, an I/O error),
// a data file that is not LMDB's, truncated (shorter than its last page) or damaged, a
// format version this synctool does not read. A new environment is created whole (in a
// folder of its own, then linked into place), so a data.mdb that is empty or short was
// damaged later, never half-created. A writable open first checks the structure of every
// page (check_pages in lmdb_support.hpp), since LMDB's writes trust them; it upgrades format
// version 1 (runs keyed by start time) to 2 (runs keyed by run sequence) in place; a
// read-only open reads either.
//
// The maps of the environment are watched by a fault guard (fault_guard.hpp) for as long as
// the store lives: damage that LMDB follows without noticing ends the process with exit 7
// and a message, never a crash.
//
// Every commit is synced to disk, so a crash or SIGKILL leaves the last committed state, and
// a commit that fails (ENOSPC) leaves it too. Reads see the latest committed state;
// for_each_* iterate a snapshot taken when called (a callback may commit). One WriteTxn at a
// time per store (begin() throws std::logic_error while one is open; across processes LMDB
// serializes writers, and SyncLock keeps a second run out). A WriteTxn must not outlive its
// store. Single-threaded, and like any LMDB environment a folder must not be opened twice at
// once by the same process. Keys must not be empty (writes throw std::invalid_argument); keys
// over 400 bytes are stored hashed (see lmdb_support.hpp), which only affects the iteration
// order among long keys sharing their first 400 bytes.
std::unique_ptr<StateStore> open_lmdb_store(const std::filesystem::path& dir, bool read_only);

// Opens the state in `dir` read-only and reads all of it: every entry of every database
// decoded, and LMDB's list of free pages. Throws StateError at the first problem. A fault in
// the map ends the process (see above): check_lmdb_store() runs this where it cannot.
void verify_lmdb_store(const std::filesystem::path& dir);

struct StateCheck {
  bool healthy = true;
  StateProblem problem = StateProblem::other;  // when not healthy
  std::string message;                         // when not healthy: what was wrong (without the advice to reset)
};
// verify_lmdb_store() in a child process, so that nothing it meets can end the caller. A
// state that does not exist is healthy. Throws StateError only if the check cannot start.
StateCheck check_lmdb_store(const std::filesystem::path& dir);
// Runs `body` (which opens the state of `dir` itself) in a child process, reported like
// check_lmdb_store(): an LMDB assertion on damage it meets, which ends the process, ends only the
// child. For a write to a state that reads as healthy: damage to LMDB's list of free pages shows
// only when a write commits.
StateCheck run_on_lmdb_store_in_child(const std::filesystem::path& dir, const std::function<void()>& body);

// Removes the state files (data.mdb, lock.mdb) of `dir`; the caller holds the sync's lock.
// Throws StateError naming the file that could not be removed.
void remove_lmdb_store(const std::filesystem::path& dir);

}  // namespace synctool::state
