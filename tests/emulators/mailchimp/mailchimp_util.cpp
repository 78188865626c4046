// Small helpers of the Mailchimp emulator: dates, numbers, MD5, email addresses, `fields`
// filtering, fault JSON. Declared in mailchimp_internal.hpp; what both emulators need is in
// emulators/common.
#include <array>
#include <cstdio>
#include <cstring>

#include "emulators/mailchimp/mailchimp_internal.hpp"

namespace synctool::emulators::mailchimp_detail {

std::string iso_s(std::int64_t epoch_s) {
  if (epoch_s == kNoTime) return "";
  const std::int64_t days = floor_div(epoch_s, 86400);
  std::int64_t rem = epoch_s - days * 86400;
  std::int64_t y = 0;
  unsigned m = 1, d = 1;
  common::civil_from_days(days, y, m, d);
  const auto hh = static_cast<int>(rem / 3600);
  rem %= 3600;
  const auto mi = static_cast<int>(rem / 60);
  const auto ss = static_cast<int>(rem % 60);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02d+00:00", static_cast<long long>(y), m, d, hh, mi,
                ss);
  return buf;
}

bool parse_int64(std::string_view s, std::int64_t& out) {
  if (s.empty() || s.size() > 18) return false;
  std::size_t i = 0;
  bool neg = false;
  if (s[0] == '-' || s[0] == '+') {
    neg = s[0] == '-';
    i = 1;
    if (s.size() == 1) return false;
  }
  std::int64_t v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = neg ? -v : v;
  return true;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

// ---------------------------------------------------------------------------------------------
// MD5 (RFC 1321), for subscriber hashes.

namespace {

constexpr std::array<std::uint32_t, 64> kMd5K{
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};
constexpr std::array<unsigned, 64> kMd5S{7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                                         5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
                                         4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                                         6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};

std::uint32_t rotl(std::uint32_t x, unsigned c) { return (x << c) | (x >> (32 - c)); }

void md5_block(std::array<std::uint32_t, 4>& h, const unsigned char* p) {
  std::array<std::uint32_t, 16> w{};
  for (std::size_t i = 0; i < 16; ++i)
    w[i] = static_cast<std::uint32_t>(p[i * 4]) | (static_cast<std::uint32_t>(p[i * 4 + 1]) << 8) |
           (static_cast<std::uint32_t>(p[i * 4 + 2]) << 16) | (static_cast<std::uint32_t>(p[i * 4 + 3]) << 24);
  std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
  for (std::size_t i = 0; i < 64; ++i) {
    std::uint32_t f = 0;
    std::size_t g = 0;
    if (i < 16) {
      f = (b & c) | (~b & d);
      g = i;
    } else if (i < 32) {
      f = (d & b) | (~d & c);
      g = (5 * i + 1) % 16;
    } else if (i < 48) {
      f = b ^ c ^ d;
      g = (3 * i + 5) % 16;
    } else {
      f = c ^ (b | ~d);
      g = (7 * i) % 16;
    }
    const std::uint32_t tmp = d;
    d = c;
    c = b;
    b = b + rotl(a + f + kMd5K[i] + w[g], kMd5S[i]);
    a = tmp;
  }
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
}

}  // namespace

std::string md5_hex(std::string_view data) {
  std::array<std::uint32_t, 4> h{0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  std::size_t full = data.size() / 64;
  for (std::size_t i = 0; i < full; ++i) md5_block(h, bytes + i * 64);
  std::array<unsigned char, 128> tail{};
  const std::size_t rest = data.size() - full * 64;
  if (rest > 0) std::memcpy(tail.data(), bytes + full * 64, rest);
  tail[rest] = 0x80;
  const std::size_t tail_len = rest + 1 + 8 <= 64 ? 64 : 128;
  const std::uint64_t bits = static_cast<std::uint64_t>(data.size()) * 8;
  for (std::size_t i = 0; i < 8; ++i) tail[tail_len - 8 + i] = static_cast<unsigned char>(bits >> (8 * i));
  md5_block(h, tail.data());
  if (tail_len == 128) md5_block(h, tail.data() + 64);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(32);
  for (std::uint32_t v : h)
    for (std::size_t i = 0; i < 4; ++i) {
      const auto byte = static_cast<unsigned>((v >> (8 * i)) & 0xFF);
      out += kHex[byte >> 4];
      out += kHex[byte & 15];
    }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Email addresses

bool valid_email(std::string_view email) {
  const auto at = email.find('@');
  if (at == std::string_view::npos || email.find('@', at + 1) != std::string_view::npos) return false;
  for (char c : email)
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return false;  // spaces and control characters
  if (email.find("..") != std::string_view::npos) return false;
  const std::string_view local = email.substr(0, at), domain = email.substr(at + 1);
  if (local.empty() || local.front() == '.' || local.back() == '.') return false;
  const auto labels = split(domain, '.');
  if (labels.size() < 2) return false;
  for (const auto& l : labels)
    if (l.empty()) return false;
  const std::string tld = lower(labels.back());
  if (tld.size() < 2) return false;
  for (char c : tld)
    if (c < 'a' || c > 'z') return false;
  if (tld == "invalid" || tld == "test" || tld == "example" || tld == "localhost") return false;
  // The second-level domains reserved for examples, and what lies under them: fake-looking.
  const std::string d = lower(domain);
  for (const std::string reserved : {"example.com", "example.org", "example.net"})
    if (d == reserved || (d.size() > reserved.size() && d.compare(d.size() - reserved.size() - 1, std::string::npos,
                                                                   "." + reserved) == 0))
      return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// fields / exclude_fields, and the JSON writer

FieldTree field_tree(std::string_view spec) {
  FieldTree root;
  for (const auto& part : split(spec, ',')) {
    const std::string p = trim(part);
    if (p.empty()) continue;
    FieldTree* node = &root;
    for (const auto& s : split(p, '.'))
      if (!s.empty()) node = &node->kids[s];
    if (node != &root) node->whole = true;
  }
  return root;
}

bool Sel::child(std::string_view key, Sel& out) const {
  out = Sel{};
  if (inc != nullptr) {
    auto it = inc->kids.find(key);
    if (it == inc->kids.end()) return false;
    if (!it->second.whole) out.inc = &it->second;
  }
  if (exc != nullptr) {
    auto it = exc->kids.find(key);
    if (it != exc->kids.end()) {
      if (it->second.whole) return false;
      out.exc = &it->second;
    }
  }
  return true;
}

void write_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  std::size_t plain = 0;  // start of the run not yet copied
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + plain, i - plain);
    plain = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 15];
    }
  }
  out.append(s.data() + plain, s.size() - plain);
  out += '"';
}

void write_json(std::string& out, const nlohmann::json& v, const Sel& sel) {
  if (v.is_object()) {
    ObjectOut o(out, sel);
    for (auto it = v.begin(); it != v.end(); ++it) o.value(it.key(), it.value());
    o.close();
  } else if (v.is_array()) {
    out += '[';
    bool first = true;
    for (const auto& e : v) {
      if (!first) out += ',';
      first = false;
      write_json(out, e, sel);
    }
    out += ']';
  } else if (v.is_string()) {
    write_string(out, v.get_ref<const std::string&>());
  } else {
    out += dump_json(v);
  }
}

}  // namespace synctool::emulators::mailchimp_detail

namespace synctool::emulators {

namespace {

using common::read_fault_field;

// Mailchimp's settings take numbers and strings only where they belong (no true for 1).
void read_rate(const nlohmann::json& j, const char* name, double& out) {
  auto it = j.find(name);
  if (it != j.end() && !it->is_null() && !it->is_number())
    throw std::invalid_argument(std::string("faults: field '") + name + "' has the wrong type");
  common::read_fault_rate(j, name, out);
}

void read_integer(const nlohmann::json& j, const char* name, std::int64_t& out) {
  auto it = j.find(name);
  if (it != j.end() && !it->is_null() && !it->is_number_integer())
    throw std::invalid_argument(std::string("faults: field '") + name + "' has the wrong type");
  read_fault_field(j, name, out);
}

}  // namespace

MailchimpFaults mailchimp_faults_from_json(const nlohmann::json& j) {
  common::check_fault_fields(j, {"rate_429", "rate_500", "rate_timeout", "timeout_ms", "rate_drop",
                                 "rate_lost_response", "rate_malformed", "slow_ms", "paths", "max_faults", "seed"});
  MailchimpFaults f;
  read_rate(j, "rate_429", f.rate_429);
  read_rate(j, "rate_500", f.rate_500);
  read_rate(j, "rate_timeout", f.rate_timeout);
  read_integer(j, "timeout_ms", f.timeout_ms);
  read_rate(j, "rate_drop", f.rate_drop);
  read_rate(j, "rate_lost_response", f.rate_lost_response);
  read_rate(j, "rate_malformed", f.rate_malformed);
  read_integer(j, "slow_ms", f.slow_ms);
  read_integer(j, "max_faults", f.max_faults);
  if (j.contains("paths") && !j["paths"].is_null()) {
    if (!j["paths"].is_array()) throw std::invalid_argument("faults: field 'paths' has the wrong type");
    for (const auto& p : j["paths"])
      if (!p.is_string()) throw std::invalid_argument("faults: field 'paths' must hold strings");
    read_fault_field(j, "paths", f.paths);
  }
  if (j.contains("seed") && !j["seed"].is_null() &&
      (!j["seed"].is_number_integer() || (!j["seed"].is_number_unsigned() && j["seed"].get<std::int64_t>() < 0)))
    throw std::invalid_argument("faults: field 'seed' must be a non-negative integer");
  read_fault_field(j, "seed", f.seed);
  if (f.timeout_ms < 0 || f.slow_ms < 0) throw std::invalid_argument("faults: timeout_ms and slow_ms must be >= 0");
  return f;
}

nlohmann::json mailchimp_faults_to_json(const MailchimpFaults& f) { return common::fault_fields_to_json(f); }

}  // namespace synctool::emulators
