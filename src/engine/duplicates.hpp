// "Possible duplicate" lines of a bidirectional baseline: records the match key did not link
// (each is about to be created on the other side) that look like the same person or company
// as a record on the other side. Reported, never merged: deciding that two different keys are
// one record is the user's call.
//
// Two records look alike when they have the same normalized full name and the same company
// (both non-empty), or names at most two edits apart under one email domain (a shared mail
// provider's domain says nothing, so a domain with more than kMaxDomainPairs pairs to compare
// is skipped).
#pragma once

#include "engine/plan.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace synctool::engine {

struct PossibleDuplicate {
  std::string source_key, destination_key;
  std::string reason;  // "same name and company" / "similar name on the same email domain"
};

class DuplicateFinder {
 public:
  static constexpr std::size_t kMaxRecords = 200'000;  // per side; beyond it the check is skipped
  static constexpr std::size_t kMaxDomainPairs = 10'000;

  // `paths`: the mapped destination paths, from which name and company fields are recognized
  // by their last step (firstname / first_name / fname, lastname / lname, name / full_name,
  // company / organization / account).
  explicit DuplicateFinder(const std::vector<std::string>& paths);

  // A record found on one side only, in the common form; `key` is its match key.
  void add(Side side, const std::string& key, const nlohmann::json& values);
  // Every pair that looks alike, each record in at most one pair, in key order of the source.
  std::vector<PossibleDuplicate> find() const;
  // Whether anything can be compared at all (the sync maps a name field).
  bool enabled() const { return !name_paths_.empty(); }
  bool overflowed() const { return overflowed_; }

 private:
  struct Candidate {
    std::string key, name, company, domain;
  };
  std::vector<std::string> name_paths_, company_paths_;
  std::vector<Candidate> sides_[2];
  bool overflowed_ = false;
};

}  // namespace synctool::engine
