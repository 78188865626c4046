// The last line of defence against a damaged or truncated LMDB file, and against a full disk
// under a sparse file mapping. LMDB reads pages straight from a memory map of its file (and
// the staging table writes through one), so a page past the end of a truncated file, or a
// page the kernel cannot allocate on a full disk, raises SIGBUS instead of returning an error.
// The checks at open and on every read turn what they can see into StateError first; what
// they cannot see (damage inside a page that LMDB follows) ends here.
//
// A MappedFileGuard watches the mappings of one file of this process (found in
// /proc/self/maps by the file's device and inode when it is made). A SIGBUS or SIGSEGV whose
// address lies inside a watched mapping writes one fixed message to stderr, e.g.
//   synctool: error: state /srv/.synctool/contacts: /srv/.synctool/contacts/data.mdb is
//   truncated: it has 16384 bytes, but byte 1302528 was needed; restore it ...
// and ends the process with _exit(7) (a local failure). So does a fault whose instruction
// lies in the LMDB library's own code while a map is watched: damage can also make LMDB
// follow a pointer out of the map (LMDB 0.9.24 writes through a null pointer when a damaged
// node claims to hold a sub-database), and LMDB is handed nothing else to follow. Any other
// fault goes on to the handler that was there before (AddressSanitizer's, a test
// framework's) or, when there was none, to the default action, so a real bug still crashes
// loudly.
//
// The handler is (re)installed whenever a guard is made, so a test framework that restores
// its own handlers between tests cannot leave LMDB maps unguarded. Under AddressSanitizer the
// handler takes effect because allow_user_segv_handler is on (the default of the GCC and
// Clang runtimes); with it off, a fault in a map is reported by ASan instead.
#pragma once

#include <cstdint>
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace synctool::state::detail {

// Where the file with this device and inode is mapped into this process, from
// /proc/self/maps (empty when it cannot be read).
struct FileMapping {
  std::uintptr_t start, end;
  std::uint64_t offset;
  bool executable;
};
std::vector<FileMapping> mappings_of(dev_t device, ino_t inode);

class MappedFileGuard {
 public:
  MappedFileGuard() = default;
  // Watches every current mapping of `file`. `fd`, when not -1, is an open descriptor of the
  // file that outlives the guard: at a fault it tells a truncated file (the faulting byte is
  // past its end) from a full disk. `where` starts the message ("state /x/y"); `advice` ends
  // it. Throws std::logic_error if too many mappings are watched at once.
  MappedFileGuard(int fd, const std::filesystem::path& file, const std::string& where, const std::string& advice);
  ~MappedFileGuard();
  MappedFileGuard(MappedFileGuard&& other) noexcept;
  MappedFileGuard& operator=(MappedFileGuard&& other) noexcept;
  MappedFileGuard(const MappedFileGuard&) = delete;
  MappedFileGuard& operator=(const MappedFileGuard&) = delete;

  // The lowest watched address and the end of that mapping (both 0 when the file is not
  // mapped): LMDB maps its data file once, so this is the map.
  std::uintptr_t begin() const { return begin_; }
  std::uintptr_t end() const { return end_; }
  bool watching() const { return !slots_.empty(); }

 private:
  void release() noexcept;
  std::vector<int> slots_;
  std::uintptr_t begin_ = 0;
  std::uintptr_t end_ = 0;
};

// The exit status of a process that a fault in a watched map ended (a local failure).
inline constexpr int kFaultExitCode = 7;

}  // namespace synctool::state::detail
