// StateStore on LMDB: one environment per sync in <state_dir>/<sync>/ (mode 0700).
#pragma once

#include "state/store.hpp"

#include <filesystem>
#include <memory>

namespace synctool::state {

// Opens (creating when `read_only` is false) the environment in `dir`. A read-only open of a
// folder with no state yet returns nullptr. Throws std::runtime_error naming the folder.
std::unique_ptr<StateStore> open_lmdb_store(const std::filesystem::path& dir, bool read_only);

}  // namespace synctool::state
