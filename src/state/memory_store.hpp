// StateStore in memory, for engine tests (as ninja fakes its DiskInterface).
#pragma once

#include "state/store.hpp"

#include <cstddef>
#include <memory>
#include <vector>

namespace synctool::state {

// `commit_sizes`, when given, receives the number of changes of every committed transaction
// (what a test of how the engine groups its commits looks at).
std::unique_ptr<StateStore> make_memory_store(std::vector<std::size_t>* commit_sizes = nullptr);

}  // namespace synctool::state
