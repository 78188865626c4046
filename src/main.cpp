#include "cli/app.hpp"
#include "util/interrupt.hpp"

int main(int argc, char** argv) {
  synctool::util::install_interrupt_handlers();
  return synctool::cli::run_cli(argc, argv);
}
