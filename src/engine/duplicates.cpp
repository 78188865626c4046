#include "engine/duplicates.hpp"

#include "util/json_path.hpp"
#include "util/strings.hpp"
#include "util/unicode.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace synctool::engine {

namespace {

// The last step of a path, lowercase, letters and digits only: "merge_fields.FNAME" -> "fname".
std::string last_step(const std::string& path) {
  std::string step = path.substr(path.rfind('.') == std::string::npos ? 0 : path.rfind('.') + 1);
  std::string out;
  for (char c : step)
    if (std::isalnum(static_cast<unsigned char>(c))) out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return out;
}

// Case folded, letters and digits only, single spaces: "  Ann-Marie LEE " -> "ann marie lee".
std::string normalized(const std::string& text) {
  std::string folded = util::fold_case(text).value_or(text);
  std::string out;
  bool space = false;
  for (unsigned char c : folded) {
    if (std::isalnum(c) || c >= 0x80) {
      if (space && !out.empty()) out.push_back(' ');
      out.push_back(static_cast<char>(c));
      space = false;
    } else {
      space = true;
    }
  }
  return out;
}

std::string text_at(const nlohmann::json& values, const std::string& path) {
  const nlohmann::json* v = util::json_get_path(values, path);
  return v && v->is_string() ? v->get<std::string>() : std::string();
}

}  // namespace

DuplicateFinder::DuplicateFinder(const std::vector<std::string>& paths) {
  static const std::set<std::string> first = {"firstname", "fname", "givenname"};
  static const std::set<std::string> last = {"lastname", "lname", "surname", "familyname"};
  static const std::set<std::string> whole = {"name", "fullname", "contactname"};
  static const std::set<std::string> company = {"company", "companyname", "organization", "organisation", "account",
                                                "accountname"};
  // First and last name in that order, else a whole name.
  std::vector<std::string> firsts, lasts, wholes;
  for (const auto& path : paths) {
    const std::string step = last_step(path);
    if (first.contains(step)) firsts.push_back(path);
    if (last.contains(step)) lasts.push_back(path);
    if (whole.contains(step)) wholes.push_back(path);
    if (company.contains(step)) company_paths_.push_back(path);
  }
  if (!firsts.empty() || !lasts.empty()) {
    name_paths_ = firsts;
    name_paths_.insert(name_paths_.end(), lasts.begin(), lasts.end());
  } else {
    name_paths_ = wholes;
  }
}

void DuplicateFinder::add(Side side, const std::string& key, const nlohmann::json& values) {
  if (!enabled()) return;
  auto& list = sides_[side == Side::source ? 0 : 1];
  if (list.size() >= kMaxRecords) {
    overflowed_ = true;
    return;
  }
  Candidate c;
  c.key = key;
  std::string name;
  // Appended piece by piece (`" " + text` trips GCC 12's -Wrestrict false positive).
  for (const auto& path : name_paths_) {
    name.push_back(' ');
    name += text_at(values, path);
  }
  c.name = normalized(name);
  for (const auto& path : company_paths_) {
    c.company.push_back(' ');
    c.company += text_at(values, path);
  }
  c.company = normalized(c.company);
  if (auto at = key.rfind('@'); at != std::string::npos) c.domain = key.substr(at + 1);
  if (!c.name.empty()) list.push_back(std::move(c));
}

std::vector<PossibleDuplicate> DuplicateFinder::find() const {
  std::vector<PossibleDuplicate> found;
  if (overflowed_) return found;
  std::set<std::string> paired_source, paired_destination;
  // Same name and company: an index of the destination's by both.
  std::multimap<std::pair<std::string, std::string>, const Candidate*> by_name;
  for (const auto& d : sides_[1])
    if (!d.company.empty()) by_name.emplace(std::make_pair(d.name, d.company), &d);
  for (const auto& s : sides_[0]) {
    if (s.company.empty()) continue;
    auto [begin, end] = by_name.equal_range({s.name, s.company});
    for (auto it = begin; it != end; ++it) {
      if (paired_destination.contains(it->second->key)) continue;
      found.push_back({s.key, it->second->key, "same name and company"});
      paired_source.insert(s.key);
      paired_destination.insert(it->second->key);
      break;
    }
  }
  // A similar name under one email domain.
  std::map<std::string, std::vector<const Candidate*>> source_domains, destination_domains;
  for (const auto& s : sides_[0])
    if (!s.domain.empty() && !paired_source.contains(s.key)) source_domains[s.domain].push_back(&s);
  for (const auto& d : sides_[1])
    if (!d.domain.empty() && !paired_destination.contains(d.key)) destination_domains[d.domain].push_back(&d);
  for (const auto& [domain, sources] : source_domains) {
    auto it = destination_domains.find(domain);
    if (it == destination_domains.end() || sources.size() * it->second.size() > kMaxDomainPairs) continue;
    for (const Candidate* s : sources) {
      for (const Candidate* d : it->second) {
        if (paired_destination.contains(d->key)) continue;
        // At most two edits, and at most a quarter of the shorter name ("Al Li" is not "Bo Li").
        const std::size_t distance = util::levenshtein(s->name, d->name);
        if (distance > 2 || distance * 4 > std::min(s->name.size(), d->name.size())) continue;
        found.push_back({s->key, d->key, "similar name on the same email domain"});
        paired_destination.insert(d->key);
        break;
      }
    }
  }
  std::sort(found.begin(), found.end(),
            [](const auto& a, const auto& b) { return a.source_key < b.source_key; });
  return found;
}

}  // namespace synctool::engine
