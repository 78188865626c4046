// Injected faults, the part the emulators share: the kinds, the dice that choose one per
// request, and helpers for the fault settings' JSON form. Each vendor's fault settings
// (HubspotFaults, MailchimpFaults) name the shared fields alike; what a fault answers (error
// bodies, content types) is the vendor's.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace synctool::emulators::common {

enum class Fault { none, r429, r5xx, timeout, drop, lost_response, malformed };

const char* fault_name(Fault f);  // "429", "5xx", "timeout", "drop", "lost_response", "malformed"; "" for none

// The rates and limits the dice read (each rate a probability 0..1).
struct FaultRates {
  double rate_429 = 0, rate_500 = 0, rate_timeout = 0, rate_drop = 0, rate_lost_response = 0, rate_malformed = 0;
  std::int64_t slow_ms = 0;
  std::int64_t max_faults = -1;                    // -1: unlimited
  const std::vector<std::string>* paths = nullptr;  // path prefixes in scope; empty or null: every path
};

template <typename Faults>
FaultRates fault_rates(const Faults& f) {
  return FaultRates{f.rate_429,       f.rate_500,  f.rate_timeout, f.rate_drop, f.rate_lost_response,
                    f.rate_malformed, f.slow_ms,   f.max_faults,   &f.paths};
}

// Deterministic fault choices: seeded by the fault settings, counting the faults injected since.
class FaultDice {
 public:
  void reset(std::uint64_t seed);  // new settings: reseed, count from zero
  // One request at `path`: nothing when the path is out of scope; else `slow` is set to the
  // delay, and unless max_faults are spent the rates are rolled in the order 429, 5xx, timeout,
  // drop, lost response, malformed. A 5xx picks `status_5xx` from 500, 502, 503 and 504.
  Fault roll(const FaultRates& f, std::string_view path, std::int64_t& slow, int& status_5xx);
  template <typename Faults>
  Fault roll(const Faults& f, std::string_view path, std::int64_t& slow, int& status_5xx) {
    return roll(fault_rates(f), path, slow, status_5xx);
  }

 private:
  std::mt19937_64 rng_;
  std::int64_t since_reset_ = 0;
};

// The JSON form of fault settings. Errors are std::invalid_argument, "faults: ...".
// Throws unless `j` is an object whose fields are all in `known`.
void check_fault_fields(const nlohmann::json& j, std::initializer_list<std::string_view> known);
// Sets `out` from the field when present and not null.
template <typename T>
void read_fault_field(const nlohmann::json& j, const char* name, T& out) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return;
  try {
    out = it->template get<T>();
  } catch (const nlohmann::json::exception&) {
    throw std::invalid_argument(std::string("faults: field '") + name + "' has the wrong type");
  }
}
// read_fault_field, then the value must be within 0..1.
void read_fault_rate(const nlohmann::json& j, const char* name, double& out);
// Reads a vendor's fault settings that have the shared fields plus `include_oauth`, the
// throttling rate under the vendor's own name (`rate_429`; Salesforce's `rate_limit_exceeded`)
// into `throttle`, after checking that `j` names no other field.
template <typename Faults>
Faults read_fault_settings(const nlohmann::json& j, const char* throttle_name, double Faults::*throttle) {
  check_fault_fields(j, {throttle_name, "rate_500", "rate_timeout", "timeout_ms", "rate_drop", "rate_lost_response",
                         "rate_malformed", "slow_ms", "paths", "max_faults", "seed", "include_oauth"});
  Faults f;
  read_fault_rate(j, throttle_name, f.*throttle);
  read_fault_rate(j, "rate_500", f.rate_500);
  read_fault_rate(j, "rate_timeout", f.rate_timeout);
  read_fault_field(j, "timeout_ms", f.timeout_ms);
  read_fault_rate(j, "rate_drop", f.rate_drop);
  read_fault_rate(j, "rate_lost_response", f.rate_lost_response);
  read_fault_rate(j, "rate_malformed", f.rate_malformed);
  read_fault_field(j, "slow_ms", f.slow_ms);
  read_fault_field(j, "paths", f.paths);
  read_fault_field(j, "max_faults", f.max_faults);
  read_fault_field(j, "seed", f.seed);
  read_fault_field(j, "include_oauth", f.include_oauth);
  if (f.timeout_ms < 0 || f.slow_ms < 0) throw std::invalid_argument("faults: timeout_ms and slow_ms must be >= 0");
  return f;
}
// The fields every vendor's settings have.
template <typename Faults>
nlohmann::json fault_fields_to_json(const Faults& f) {
  return {{"rate_429", f.rate_429},
          {"rate_500", f.rate_500},
          {"rate_timeout", f.rate_timeout},
          {"timeout_ms", f.timeout_ms},
          {"rate_drop", f.rate_drop},
          {"rate_lost_response", f.rate_lost_response},
          {"rate_malformed", f.rate_malformed},
          {"slow_ms", f.slow_ms},
          {"paths", f.paths},
          {"max_faults", f.max_faults},
          {"seed", f.seed}};
}

}  // namespace synctool::emulators::common
