// The command line: parses arguments, dispatches to one command, returns the exit code.
#pragma once

namespace synctool::cli {

int run_cli(int argc, char** argv);

}  // namespace synctool::cli
