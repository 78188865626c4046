#include "e2e/mailchimp_job.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace synctool::e2e {

using nlohmann::json;

std::size_t env_number(const char* name, std::size_t fallback) {
  const char* value = std::getenv(name);
  return value && *value ? std::stoul(value) : fallback;
}

std::string lower_text(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::string trim_text(const std::string& text) {
  auto begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(" \t\r\n") - begin + 1);
}

std::string describe(const Member& m) {
  return "{" + m.status + ", FNAME '" + m.fname + "', LNAME '" + m.lname + "', COMPANY '" + m.company + "'}";
}

bool deliverable(const em::SampleContact& c) {
  return c.flaw != em::ContactFlaw::no_email && c.flaw != em::ContactFlaw::invalid_email &&
         !trim_text(c.company).empty();
}

Audience expected_audience(const json& mailchimp_seed, const std::vector<em::SampleContact>& contacts) {
  Audience audience;
  for (const auto& member : mailchimp_seed.at("lists").at(0).at("members")) {
    const auto& merge = member.at("merge_fields");
    audience[lower_text(member.at("email_address"))] = {member.at("status"), merge.value("FNAME", ""),
                                                        merge.value("LNAME", ""), merge.value("COMPANY", "")};
  }
  for (const auto& c : contacts) {
    if (!deliverable(c)) continue;
    auto [it, added] = audience.try_emplace(lower_text(trim_text(c.email)), Member{"subscribed", "", "", ""});
    it->second.fname = trim_text(c.firstname);
    it->second.lname = trim_text(c.lastname);
    it->second.company = trim_text(c.company);
  }
  return audience;
}

Audience audience_of(const em::MailchimpEmulator& mc, const std::string& list_id, std::vector<std::string>* twice) {
  Audience actual;
  for (const auto& m : mc.members(list_id)) {
    const auto& merge = m.at("merge_fields");
    auto email = lower_text(m.at("email_address"));
    bool added = actual
                     .emplace(email, Member{m.at("status"), merge.value("FNAME", ""), merge.value("LNAME", ""),
                                            merge.value("COMPANY", "")})
                     .second;
    if (!added && twice) twice->push_back(email);
  }
  return actual;
}

std::string audience_differences(const em::MailchimpEmulator& mc, const std::string& list_id,
                                 const Audience& expected) {
  std::vector<std::string> twice;
  Audience actual = audience_of(mc, list_id, &twice);
  std::vector<std::string> problems;
  for (const auto& email : twice) problems.push_back(email + " is in the audience twice");
  for (const auto& [email, member] : expected) {
    auto it = actual.find(email);
    if (it == actual.end()) problems.push_back(email + " is missing");
    else if (!(it->second == member))
      problems.push_back(email + ": " + describe(it->second) + ", expected " + describe(member));
  }
  for (const auto& [email, member] : actual)
    if (!expected.contains(email)) problems.push_back(email + " should not be there");
  std::string text;
  for (std::size_t i = 0; i < problems.size() && i < 12; ++i) text += problems[i] + "\n";
  if (problems.size() > 12) text += "... " + std::to_string(problems.size()) + " differences in all\n";
  return text;
}

std::size_t write_requests(const json& log) {
  std::size_t n = 0;
  for (const auto& entry : log) {
    const std::string method = entry.value("method", "");
    if (method != "GET" && method != "HEAD") ++n;
  }
  return n;
}

std::map<std::string, std::int64_t> faults_by_kind(const json& log) {
  std::map<std::string, std::int64_t> kinds;
  for (const auto& entry : log)
    if (entry.contains("fault") && entry.at("fault").is_string()) ++kinds[entry.at("fault").get<std::string>()];
  return kinds;
}

std::string read_source_file(const std::string& relative) {
  std::ifstream in(std::string(SYNCTOOL_SOURCE_DIR) + "/" + relative, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + relative);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

namespace {

// `config` with `lines` added at the start of the table `[connections.NAME]`.
void insert_into_table(std::string& config, const std::string& name, const std::string& lines) {
  const std::string table = "[connections." + name + "]\n";
  auto at = config.find(table);
  if (at == std::string::npos) throw std::runtime_error("syncs/synctool.toml has no " + table);
  config.insert(at + table.size(), lines);
}

}  // namespace

MainJob::MainJob(const em::SampleContactsOptions& sample, hs::HubspotEmulatorOptions hubspot_opts,
                 em::MailchimpEmulatorOptions mailchimp_opts, const std::string& hubspot_extra,
                 const std::string& mailchimp_extra)
    : data(em::make_sample_contacts(sample)),
      hubspot_options(std::move(hubspot_opts)),
      mailchimp_options(std::move(mailchimp_opts)),
      original_(data) {
  config_ = read_source_file("syncs/synctool.toml");
  insert_into_table(config_, "hubspot", hubspot_extra);
  insert_into_table(config_, "mailchimp", mailchimp_extra);
  project.write_config(config_);
  project.write_file(std::string(kMainJob) + ".toml", read_source_file("syncs/hubspot-mailchimp.toml"));
  recreate();
}

void MainJob::recreate() {
  hubspot.reset();
  mailchimp.reset();
  data = original_;
  fs::remove_all(project.path(".synctool"));
  // Each new pair of emulators rolls other dice than the last, so that episodes do not repeat
  // the same faults at the same requests (the first pair rolls the options' own).
  auto hubspot_fresh = hubspot_options;
  hubspot_fresh.faults.seed += recreated_ * 7919;
  auto mailchimp_fresh = mailchimp_options;
  mailchimp_fresh.faults.seed += recreated_ * 7919;
  ++recreated_;
  hubspot = std::make_unique<hs::HubspotEmulator>(hubspot_fresh);
  hubspot->start();
  hubspot->load_seed(data.hubspot_seed);
  mailchimp = std::make_unique<em::MailchimpEmulator>(mailchimp_fresh);
  mailchimp->load_seed(data.mailchimp_seed);
  mailchimp->start();
  list_id = mailchimp->list_id(kAudienceName);
  env = {{"HUBSPOT_TOKEN", kEmulatorToken},
         {"HUBSPOT_BASE_URL", hubspot->base_url()},
         {"MAILCHIMP_API_KEY", mailchimp_options.api_key},
         {"MAILCHIMP_BASE_URL", mailchimp->base_url()}};
}

void MainJob::pause_faults() {
  hubspot->set_faults({});
  mailchimp->set_faults({});
}

void MainJob::resume_faults() {
  // Other dice each time, so that the faults do not repeat the same sequence.
  ++resumed_;
  auto hubspot_faults = hubspot_options.faults;
  hubspot_faults.seed += resumed_ * 1000;
  auto mailchimp_faults = mailchimp_options.faults;
  mailchimp_faults.seed += resumed_ * 1000;
  hubspot->set_faults(hubspot_faults);
  mailchimp->set_faults(mailchimp_faults);
}

void MainJob::edit_contact(std::size_t i, const std::string& property, const std::string& value) {
  auto& contact = data.contacts.at(i);
  json body = {{"properties", {{property, value}}}};
  pause_faults();
  auto answer = emulator_call(*hubspot, "PATCH", "/crm/v3/objects/contacts/" + contact.id, &body);
  resume_faults();
  INFO(answer.body);
  REQUIRE(answer.status == 200);
  if (property == "firstname") contact.firstname = value;
  else if (property == "lastname") contact.lastname = value;
  else if (property == "company") contact.company = value;
  else FAIL("edit_contact: unknown property " << property);
}

void MainJob::add_contact(const std::string& email, const std::string& first, const std::string& last,
                          const std::string& company) {
  json body = {{"properties", {{"email", email}, {"firstname", first}, {"lastname", last}, {"company", company}}}};
  pause_faults();
  auto answer = emulator_call(*hubspot, "POST", "/crm/v3/objects/contacts", &body);
  resume_faults();
  INFO(answer.body);
  REQUIRE(answer.status == 201);
  em::SampleContact contact;
  contact.id = answer.json().at("id");
  contact.email = email;
  contact.firstname = first;
  contact.lastname = last;
  contact.company = company;
  data.contacts.push_back(contact);
}

}  // namespace synctool::e2e
