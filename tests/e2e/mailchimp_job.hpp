// The main job (HubSpot contacts -> a Mailchimp audience, syncs/hubspot-mailchimp.toml as
// shipped) for the long end-to-end tests that drive it through faults and crashes
// (test_crash_consistency.cpp, test_fault_soak.cpp): both emulators in this process, seeded
// with the sample contacts, recreated on demand, and the audience checked member by member.
#pragma once

#include "e2e/hubspot_fixtures.hpp"
#include "emulators/mailchimp/mailchimp_emulator.hpp"
#include "emulators/sample_data/sample_contacts.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace synctool::e2e {

namespace em = synctool::emulators;

inline constexpr const char* kMainJob = "hubspot-mailchimp";
inline constexpr const char* kAudienceName = "main-audience";

// A number from the environment, or `fallback` when the variable is unset or empty.
std::size_t env_number(const char* name, std::size_t fallback);

// A file of the source tree (e.g. "syncs/hubspot-mailchimp.toml"); throws when unreadable.
std::string read_source_file(const std::string& relative);

std::string lower_text(std::string text);
std::string trim_text(const std::string& text);

// Fault rates for an emulator such that `total` of its requests fail, shared evenly among
// every kind of fault it injects (the dice roll the kinds one after another, so each later
// rate is raised to make up for the requests an earlier kind already took).
template <typename Faults>
void spread_faults(Faults& faults, double total) {
  double* rates[] = {&faults.rate_429,  &faults.rate_500,           &faults.rate_timeout,
                     &faults.rate_drop, &faults.rate_lost_response, &faults.rate_malformed};
  const double share = total / 6.0;
  double left = 1.0;
  for (double* rate : rates) {
    *rate = share / left;
    left -= share;
  }
}

struct Member {
  std::string status, fname, lname, company;
  bool operator==(const Member&) const = default;
};
using Audience = std::map<std::string, Member>;  // by lower-cased address
std::string describe(const Member& m);

// Whether the sync can put the contact in the audience: an address Mailchimp takes and (COMPANY
// being a required merge field) a company.
bool deliverable(const em::SampleContact& c);
// The audience the sync must produce from the seeded audience and the HubSpot contacts.
Audience expected_audience(const nlohmann::json& mailchimp_seed, const std::vector<em::SampleContact>& contacts);
// The live members of the list, by lower-cased address; an address seen twice goes to `twice`.
Audience audience_of(const em::MailchimpEmulator& mc, const std::string& list_id, std::vector<std::string>* twice);
// "" when the audience holds exactly `expected` (no address twice), else the first differences.
std::string audience_differences(const em::MailchimpEmulator& mc, const std::string& list_id, const Audience& expected);

// Requests in an emulator's log that write (any method but GET and HEAD).
std::size_t write_requests(const nlohmann::json& log);
// Injected faults in an emulator's log, by kind ("429", "5xx", "timeout", ...).
std::map<std::string, std::int64_t> faults_by_kind(const nlohmann::json& log);

// The project as shipped (syncs/synctool.toml and syncs/hubspot-mailchimp.toml) with extra lines
// in each connection, and both emulators running in this process; recreate() starts over with
// fresh emulators seeded again from `data` and no state.
class MainJob {
 public:
  MainJob(const em::SampleContactsOptions& sample, hs::HubspotEmulatorOptions hubspot_options,
          em::MailchimpEmulatorOptions mailchimp_options, const std::string& hubspot_extra,
          const std::string& mailchimp_extra);

  void recreate();
  Result run(std::vector<std::string> args) const { return run_with(project, std::move(args), env); }
  Audience expected() const { return expected_audience(data.mailchimp_seed, data.contacts); }
  std::string differences() const { return audience_differences(*mailchimp, list_id, expected()); }
  // Faults off, or back to the options' faults (with other dice each time).
  void pause_faults();
  void resume_faults();
  // Changes a HubSpot contact through the API (faults paused meanwhile, then resumed) and in `data`; recreate()
  // forgets such changes.
  void edit_contact(std::size_t i, const std::string& property, const std::string& value);
  // Adds a HubSpot contact through the API (faults paused meanwhile) and to `data`.
  void add_contact(const std::string& email, const std::string& first, const std::string& last,
                   const std::string& company);

  em::SampleData data;
  hs::HubspotEmulatorOptions hubspot_options;
  em::MailchimpEmulatorOptions mailchimp_options;
  std::unique_ptr<hs::HubspotEmulator> hubspot;
  std::unique_ptr<em::MailchimpEmulator> mailchimp;
  Project project;
  std::string list_id;
  Env env;

 private:
  std::uint64_t resumed_ = 0, recreated_ = 0;
  em::SampleData original_;
  std::string config_;
};

}  // namespace synctool::e2e
