#include "cli/app.hpp"
#include "util/interrupt.hpp"

#ifdef SYNCTOOL_JEMALLOC
// Read by jemalloc at start. Freed pages go back to the system after a second instead of ten
// (a run's peak RSS stays where glibc's was), and without the lazy "muzzy" stage in between.
extern "C" {
const char* malloc_conf = "dirty_decay_ms:1000,muzzy_decay_ms:0";
}
#endif

int main(int argc, char** argv) {
  synctool::util::install_interrupt_handlers();
  return synctool::cli::run_cli(argc, argv);
}
