// What `synctool --version` prints. Defined in a file that CMake generates in the build folder
// (from src/cli/version.cpp.in, by src/cli/version_stamp.cmake) on every build, rewritten only
// when the commit changed: a new commit recompiles that one file and relinks, nothing else.
#pragma once

#include <string>

namespace synctool::cli {

// "synctool VERSION\ncommit: HASH\nbuild: TYPE": the commit the binary was built from ("unknown"
// outside a git checkout, such as a source tarball; "-dirty" when files differed from it) and
// CMake's build type.
std::string version_text();

}  // namespace synctool::cli
