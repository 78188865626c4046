#include "state/fault_guard.hpp"

#include <dlfcn.h>
#include <lmdb.h>
#include <signal.h>
#include <sys/stat.h>
#include <ucontext.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace synctool::state::detail {

namespace {

// Everything the handler reads lives in this fixed table: no allocation, no locks. A slot is
// filled while `state` is kFilling and becomes visible to the handler only once kActive.
constexpr int kFree = 0;
constexpr int kFilling = 1;
constexpr int kActive = 2;
constexpr std::size_t kSlots = 64;
constexpr std::size_t kTextSize = 1024;

struct Slot {
  std::atomic<int> state{kFree};
  std::uintptr_t start = 0;
  std::uintptr_t end = 0;
  std::uint64_t offset = 0;  // the file offset mapped at `start`
  int fd = -1;
  char where[kTextSize] = {};
  char file[kTextSize] = {};
  char advice[kTextSize] = {};
};

std::array<Slot, kSlots> g_slots;

// The executable mappings of the LMDB library, when it is a library of its own: a fault
// whose instruction lies there, while a map is watched, is LMDB following a damaged page
// somewhere outside the map (e.g. a node flagged as a sub-database in a database that has
// none makes LMDB 0.9.24 write through a null pointer).
struct CodeRange {
  std::uintptr_t start = 0;
  std::uintptr_t end = 0;
};
constexpr std::size_t kCodeRanges = 8;
std::array<CodeRange, kCodeRanges> g_lmdb_code;
std::atomic<int> g_lmdb_code_count{-1};  // -1: not looked for yet
struct sigaction g_previous_bus {};
struct sigaction g_previous_segv {};

void copy_text(char (&to)[kTextSize], const std::string& from) {
  const std::size_t n = std::min(from.size(), kTextSize - 1);
  std::memcpy(to, from.data(), n);
  to[n] = '\0';
}

// A message assembled on the stack with async-signal-safe code only.
class SignalText {
 public:
  void add(const char* text) {
    while (*text && size_ < sizeof buffer_) buffer_[size_++] = *text++;
  }
  void add(std::uint64_t value) {
    char digits[24];
    std::size_t n = 0;
    do {
      digits[n++] = static_cast<char>('0' + value % 10);
      value /= 10;
    } while (value != 0);
    while (n > 0 && size_ < sizeof buffer_) buffer_[size_++] = digits[--n];
  }
  void write_to(int fd) const {
    std::size_t done = 0;
    while (done < size_) {
      ssize_t n = ::write(fd, buffer_ + done, size_ - done);
      if (n <= 0) return;
      done += static_cast<std::size_t>(n);
    }
  }

 private:
  char buffer_[4 * kTextSize];
  std::size_t size_ = 0;
};

[[noreturn]] void report_and_exit(const Slot& slot, std::uintptr_t address) {
  const std::uint64_t byte = slot.offset + (address - slot.start);
  SignalText text;
  text.add("synctool: error: ");
  text.add(slot.where);
  text.add(": ");
  text.add(slot.file);
  struct stat st {};
  struct statfs fs {};
  if (slot.fd >= 0 && ::fstat(slot.fd, &st) == 0 && static_cast<std::uint64_t>(st.st_size) <= byte) {
    text.add(" is truncated: it has ");
    text.add(static_cast<std::uint64_t>(st.st_size));
    text.add(" bytes, but byte ");
    text.add(byte);
    text.add(" was needed");
  } else if (slot.fd >= 0 && ::fstatfs(slot.fd, &fs) == 0 && (fs.f_bavail == 0 || fs.f_bfree == 0)) {
    text.add(" could not be written at byte ");
    text.add(byte);
    text.add(": the disk holding it is full");
  } else {
    text.add(" could not be read or written at byte ");
    text.add(byte);
    text.add(slot.fd >= 0 ? " (a damaged page, or an I/O error)" : " (damaged or truncated, or the disk is full)");
  }
  text.add("; ");
  text.add(slot.advice);
  text.add("\n");
  text.write_to(STDERR_FILENO);
  ::_exit(kFaultExitCode);
}

[[noreturn]] void report_lmdb_fault_and_exit(int sig, std::uintptr_t address) {
  SignalText text;
  text.add("synctool: error: LMDB crashed (signal ");
  text.add(static_cast<std::uint64_t>(sig));
  text.add(" at address ");
  text.add(static_cast<std::uint64_t>(address));
  text.add(") following a damaged page of ");
  const Slot* first = nullptr;
  for (const Slot& slot : g_slots) {
    if (slot.state.load(std::memory_order_acquire) != kActive || slot.fd < 0) continue;
    if (first) text.add(" or of ");
    text.add(slot.file);
    text.add(" (");
    text.add(slot.where);
    text.add(")");
    if (!first) first = &slot;
  }
  if (first) {
    text.add("; ");
    text.add(first->advice);
  }
  text.add("\n");
  text.write_to(STDERR_FILENO);
  ::_exit(kFaultExitCode);
}

std::uintptr_t instruction_of(void* context) {
  if (context == nullptr) return 0;
#if defined(__x86_64__)
  return static_cast<std::uintptr_t>(static_cast<ucontext_t*>(context)->uc_mcontext.gregs[REG_RIP]);
#elif defined(__aarch64__)
  return static_cast<std::uintptr_t>(static_cast<ucontext_t*>(context)->uc_mcontext.pc);
#else
  return 0;
#endif
}

bool in_lmdb_code(std::uintptr_t instruction) {
  const int count = g_lmdb_code_count.load(std::memory_order_acquire);
  for (int i = 0; i < count; ++i)
    if (instruction >= g_lmdb_code[static_cast<std::size_t>(i)].start &&
        instruction < g_lmdb_code[static_cast<std::size_t>(i)].end)
      return true;
  return false;
}

// Hands a fault that is not ours to whoever handled it before, else to the default action.
void forward(int sig, siginfo_t* info, void* context) {
  const struct sigaction& previous = sig == SIGBUS ? g_previous_bus : g_previous_segv;
  if (previous.sa_flags & SA_SIGINFO) {
    if (previous.sa_sigaction) {
      previous.sa_sigaction(sig, info, context);
      return;
    }
  } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN && previous.sa_handler != nullptr) {
    previous.sa_handler(sig);
    return;
  }
  struct sigaction fallback {};
  fallback.sa_handler = SIG_DFL;
  sigemptyset(&fallback.sa_mask);
  ::sigaction(sig, &fallback, nullptr);
  // A real fault happens again when the instruction is retried, now with the default
  // action; a signal that was sent (kill, raise) must be sent again. It stays blocked until
  // this handler returns.
  if (info == nullptr || info->si_code <= 0) ::raise(sig);
}

void on_fault(int sig, siginfo_t* info, void* context) {
  if (info != nullptr && info->si_code > 0) {
    const auto address = reinterpret_cast<std::uintptr_t>(info->si_addr);
    bool watching = false;
    for (const Slot& slot : g_slots) {
      if (slot.state.load(std::memory_order_acquire) != kActive) continue;
      watching = true;
      if (address >= slot.start && address < slot.end) report_and_exit(slot, address);
    }
    if (watching && in_lmdb_code(instruction_of(context))) report_lmdb_fault_and_exit(sig, address);
  }
  forward(sig, info, context);
}

void install_handler() {
  for (int sig : {SIGBUS, SIGSEGV}) {
    struct sigaction current {};
    if (::sigaction(sig, nullptr, &current) != 0) continue;
    if ((current.sa_flags & SA_SIGINFO) && current.sa_sigaction == on_fault) continue;
    struct sigaction ours {};
    ours.sa_sigaction = on_fault;
    // SA_ONSTACK: a test framework's alternate stack, if any, also serves this handler.
    ours.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&ours.sa_mask);
    (sig == SIGBUS ? g_previous_bus : g_previous_segv) = current;
    ::sigaction(sig, &ours, nullptr);
  }
}


// Finds LMDB's code once. Statically linked into the program, LMDB has no range of its own,
// and faults are told apart by their address only.
void find_lmdb_code() {
  if (g_lmdb_code_count.load(std::memory_order_acquire) >= 0) return;
  int count = 0;
  Dl_info info{};
  struct stat st {};
  if (::dladdr(reinterpret_cast<void*>(&mdb_version), &info) != 0 && info.dli_fname != nullptr &&
      std::filesystem::path(info.dli_fname).filename().string().starts_with("liblmdb") &&
      ::stat(info.dli_fname, &st) == 0) {
    for (const FileMapping& m : mappings_of(st.st_dev, st.st_ino)) {
      if (!m.executable || count == static_cast<int>(kCodeRanges)) continue;
      g_lmdb_code[static_cast<std::size_t>(count++)] = {m.start, m.end};
    }
  }
  g_lmdb_code_count.store(count, std::memory_order_release);
}

}  // namespace

std::vector<FileMapping> mappings_of(dev_t device, ino_t inode) {
  std::vector<FileMapping> found;
  std::FILE* maps = std::fopen("/proc/self/maps", "r");
  if (!maps) return found;
  char line[4096];
  while (std::fgets(line, sizeof line, maps)) {
    unsigned long start = 0, end = 0, offset = 0, node = 0;
    unsigned major = 0, minor = 0;
    char perms[8];
    if (std::sscanf(line, "%lx-%lx %7s %lx %x:%x %lu", &start, &end, perms, &offset, &major, &minor, &node) != 7)
      continue;
    if (node == inode && makedev(major, minor) == device)
      found.push_back({start, end, offset, std::strchr(perms, 'x') != nullptr});
  }
  std::fclose(maps);
  return found;
}

MappedFileGuard::MappedFileGuard(int fd, const std::filesystem::path& file, const std::string& where,
                                 const std::string& advice) {
  struct stat st {};
  int rc = fd >= 0 ? ::fstat(fd, &st) : ::stat(file.c_str(), &st);
  if (rc != 0) return;  // nothing mapped from a file that cannot be found
  find_lmdb_code();
  install_handler();
  for (const FileMapping& m : mappings_of(st.st_dev, st.st_ino)) {
    Slot* slot = nullptr;
    for (Slot& candidate : g_slots) {
      int expected = kFree;
      if (candidate.state.compare_exchange_strong(expected, kFilling)) {
        slot = &candidate;
        break;
      }
    }
    if (!slot) {
      release();
      throw std::logic_error("state: more than 64 LMDB mappings watched at once");
    }
    slot->start = m.start;
    slot->end = m.end;
    slot->offset = m.offset;
    slot->fd = fd;
    copy_text(slot->where, where);
    copy_text(slot->file, file.string());
    copy_text(slot->advice, advice);
    slot->state.store(kActive, std::memory_order_release);
    slots_.push_back(static_cast<int>(slot - g_slots.data()));
    if (begin_ == 0 || m.start < begin_) {
      begin_ = m.start;
      end_ = m.end;
    }
  }
}

MappedFileGuard::~MappedFileGuard() { release(); }

MappedFileGuard::MappedFileGuard(MappedFileGuard&& other) noexcept
    : slots_(std::move(other.slots_)), begin_(std::exchange(other.begin_, 0)), end_(std::exchange(other.end_, 0)) {
  other.slots_.clear();
}

MappedFileGuard& MappedFileGuard::operator=(MappedFileGuard&& other) noexcept {
  if (this != &other) {
    release();
    slots_ = std::move(other.slots_);
    other.slots_.clear();
    begin_ = std::exchange(other.begin_, 0);
    end_ = std::exchange(other.end_, 0);
  }
  return *this;
}

void MappedFileGuard::release() noexcept {
  for (int index : slots_) g_slots[static_cast<std::size_t>(index)].state.store(kFree, std::memory_order_release);
  slots_.clear();
  begin_ = end_ = 0;
}

}  // namespace synctool::state::detail
