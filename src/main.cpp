#include "cli/app.hpp"

int main(int argc, char** argv) { return synctool::cli::run_cli(argc, argv); }
