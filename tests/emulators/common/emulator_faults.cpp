// The fault dice and the fault settings' JSON helpers the emulators share.
#include "emulators/common/emulator_faults.hpp"

#include <algorithm>

#include "emulators/common/emulator_util.hpp"

namespace synctool::emulators::common {

const char* fault_name(Fault f) {
  switch (f) {
    case Fault::r429: return "429";
    case Fault::r5xx: return "5xx";
    case Fault::timeout: return "timeout";
    case Fault::drop: return "drop";
    case Fault::lost_response: return "lost_response";
    case Fault::malformed: return "malformed";
    case Fault::none: break;
  }
  return "";
}

void FaultDice::reset(std::uint64_t seed) {
  rng_.seed(seed);
  since_reset_ = 0;
}

Fault FaultDice::roll(const FaultRates& f, std::string_view path, std::int64_t& slow, int& status_5xx) {
  if (f.paths != nullptr && !f.paths->empty()) {
    bool match = false;
    for (const auto& p : *f.paths) match = match || starts_with(path, p);
    if (!match) return Fault::none;
  }
  slow = f.slow_ms;
  if (f.max_faults >= 0 && since_reset_ >= f.max_faults) return Fault::none;
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  Fault out = Fault::none;
  if (f.rate_429 > 0 && uni(rng_) < f.rate_429) out = Fault::r429;
  else if (f.rate_500 > 0 && uni(rng_) < f.rate_500) out = Fault::r5xx;
  else if (f.rate_timeout > 0 && uni(rng_) < f.rate_timeout) out = Fault::timeout;
  else if (f.rate_drop > 0 && uni(rng_) < f.rate_drop) out = Fault::drop;
  else if (f.rate_lost_response > 0 && uni(rng_) < f.rate_lost_response) out = Fault::lost_response;
  else if (f.rate_malformed > 0 && uni(rng_) < f.rate_malformed) out = Fault::malformed;
  if (out == Fault::none) return out;
  if (out == Fault::r5xx) {
    static constexpr int kStatuses[] = {500, 502, 503, 504};
    status_5xx = kStatuses[std::uniform_int_distribution<int>(0, 3)(rng_)];
  }
  ++since_reset_;
  return out;
}

void check_fault_fields(const nlohmann::json& j, std::initializer_list<std::string_view> known) {
  if (!j.is_object()) throw std::invalid_argument("faults: expected a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it)
    if (std::find(known.begin(), known.end(), it.key()) == known.end()) {
      std::string message = "faults: unknown field '";
      message += it.key();
      message += "'";
      throw std::invalid_argument(message);
    }
}

void read_fault_rate(const nlohmann::json& j, const char* name, double& out) {
  read_fault_field(j, name, out);
  if (out < 0 || out > 1) throw std::invalid_argument(std::string("faults: ") + name + " must be within 0..1");
}

}  // namespace synctool::emulators::common
