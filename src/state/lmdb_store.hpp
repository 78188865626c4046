// StateStore on LMDB: one environment per sync in <state_dir>/<sync>/ (mode 0700).
#pragma once

#include "state/store.hpp"

#include <filesystem>
#include <memory>

namespace synctool::state {

// Opens (creating when `read_only` is false) the environment in `dir`. A read-only open of a
// folder with no state yet returns nullptr. Throws std::runtime_error naming the folder.
//
// Every commit is synced to disk, so a crash or SIGKILL leaves the last committed state.
// Reads see the latest committed state; for_each_* iterate a snapshot taken when called (a
// callback may commit). One WriteTxn at a time per store (begin() throws std::logic_error
// while one is open; across processes LMDB serializes writers, and SyncLock keeps a second
// run out). A WriteTxn must not outlive its store. Single-threaded, and like any LMDB
// environment a folder must not be opened twice at once by the same process. Keys must not
// be empty (writes throw std::invalid_argument); keys over 400 bytes are stored hashed (see
// lmdb_support.hpp), which only affects the iteration order among long keys sharing their
// first 400 bytes.
std::unique_ptr<StateStore> open_lmdb_store(const std::filesystem::path& dir, bool read_only);

}  // namespace synctool::state
