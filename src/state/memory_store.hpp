// StateStore in memory, for engine tests (as ninja fakes its DiskInterface).
#pragma once

#include "state/store.hpp"

#include <memory>

namespace synctool::state {

std::unique_ptr<StateStore> make_memory_store();

}  // namespace synctool::state
