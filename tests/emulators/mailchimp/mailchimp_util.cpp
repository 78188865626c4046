// Small helpers of the Mailchimp emulator: time, strings, MD5, base64, email addresses,
// `fields` filtering, fault JSON. Declared in mailchimp_internal.hpp.
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "emulators/mailchimp/mailchimp_internal.hpp"

namespace synctool::emulators::mailchimp_detail {

std::int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::int64_t steady_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

namespace {

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2 ? 1 : 0;
}

unsigned days_in_month(std::int64_t y, unsigned m) {
  static constexpr std::array<unsigned, 12> days{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : days[m - 1];
}

// Reads exactly n digits at s[pos..]; advances pos.
bool digits(std::string_view s, std::size_t& pos, std::size_t n, std::int64_t& out) {
  if (pos + n > s.size()) return false;
  std::int64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  pos += n;
  out = v;
  return true;
}

}  // namespace

std::string iso_s(std::int64_t epoch_s) {
  if (epoch_s == kNoTime) return "";
  const std::int64_t days = floor_div(epoch_s, 86400);
  std::int64_t rem = epoch_s - days * 86400;
  std::int64_t y = 0;
  unsigned m = 1, d = 1;
  civil_from_days(days, y, m, d);
  const auto hh = static_cast<int>(rem / 3600);
  rem %= 3600;
  const auto mi = static_cast<int>(rem / 60);
  const auto ss = static_cast<int>(rem % 60);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02d+00:00", static_cast<long long>(y), m, d, hh, mi,
                ss);
  return buf;
}

bool parse_iso_ms(std::string_view s, std::int64_t& out_ms) {
  std::size_t p = 0;
  std::int64_t y = 0, mo = 0, d = 0;
  if (!digits(s, p, 4, y) || p >= s.size() || s[p++] != '-' || !digits(s, p, 2, mo) || p >= s.size() ||
      s[p++] != '-' || !digits(s, p, 2, d))
    return false;
  if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, static_cast<unsigned>(mo))) return false;
  std::int64_t ms = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400000;
  if (p == s.size()) {
    out_ms = ms;
    return true;
  }
  if (s[p] != 'T' && s[p] != 't' && s[p] != ' ') return false;
  ++p;
  std::int64_t hh = 0, mi = 0, ss = 0, frac = 0;
  if (!digits(s, p, 2, hh) || p >= s.size() || s[p++] != ':' || !digits(s, p, 2, mi)) return false;
  if (p < s.size() && s[p] == ':') {
    ++p;
    if (!digits(s, p, 2, ss)) return false;
    if (p < s.size() && (s[p] == '.' || s[p] == ',')) {
      ++p;
      std::size_t n = 0;
      std::int64_t scale = 100;
      while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
        if (n < 3) frac += (s[p] - '0') * scale;
        scale /= 10;
        ++n;
        ++p;
      }
      if (n == 0) return false;
    }
  }
  if (hh > 23 || mi > 59 || ss > 60) return false;
  ms += hh * 3600000 + mi * 60000 + ss * 1000 + frac;
  if (p == s.size()) {
    out_ms = ms;  // no zone: UTC
    return true;
  }
  if (s[p] == 'Z' || s[p] == 'z') {
    if (p + 1 != s.size()) return false;
    out_ms = ms;
    return true;
  }
  if (s[p] != '+' && s[p] != '-') return false;
  const std::int64_t sign = s[p] == '+' ? 1 : -1;
  ++p;
  std::int64_t oh = 0, om = 0;
  if (!digits(s, p, 2, oh)) return false;
  if (p < s.size() && s[p] == ':') ++p;
  if (p < s.size() && !digits(s, p, 2, om)) return false;
  if (p != s.size() || oh > 23 || om > 59) return false;
  out_ms = ms - sign * (oh * 3600000 + om * 60000);
  return true;
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

bool parse_decimal(std::string_view s) {
  if (s.empty()) return false;
  std::size_t i = 0;
  if (s[i] == '-' || s[i] == '+') ++i;
  std::size_t int_digits = 0, frac_digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++int_digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++frac_digits;
  }
  if (int_digits + frac_digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    std::size_t exp_digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == s.size();
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

std::string trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\n' || s[b] == '\r')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\n' || s[e - 1] == '\r')) --e;
  return std::string(s.substr(b, e - b));
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t pos = s.find(sep, start);
    out.emplace_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
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

bool base64_decode(std::string_view in, std::string& out) {
  out.clear();
  unsigned buf = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    int v = 0;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+' || c == '-') v = 62;
    else if (c == '/' || c == '_') v = 63;
    else return false;
    buf = (buf << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buf >> bits) & 0xFF);
    }
  }
  return true;
}

std::string uuid4() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const std::uint64_t a = rng(), b = rng();
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xFFFF), static_cast<unsigned>(a & 0x0FFF),
                static_cast<unsigned>(((b >> 48) & 0x3FFF) | 0x8000),
                static_cast<unsigned long long>(b & 0xFFFFFFFFFFFFULL));
  return buf;
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
  return tld != "invalid" && tld != "test" && tld != "example" && tld != "localhost";
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

template <typename T>
void read_field(const nlohmann::json& j, const char* name, T& out) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return;
  try {
    out = it->get<T>();
  } catch (const nlohmann::json::exception&) {
    throw std::invalid_argument(std::string("faults: field '") + name + "' has the wrong type");
  }
}

void read_rate(const nlohmann::json& j, const char* name, double& out) {
  auto it = j.find(name);
  if (it != j.end() && !it->is_null() && !it->is_number())
    throw std::invalid_argument(std::string("faults: field '") + name + "' has the wrong type");
  read_field(j, name, out);
  if (out < 0 || out > 1) throw std::invalid_argument(std::string("faults: ") + name + " must be within 0..1");
}

void read_integer(const nlohmann::json& j, const char* name, std::int64_t& out) {
  auto it = j.find(name);
  if (it != j.end() && !it->is_null() && !it->is_number_integer())
    throw std::invalid_argument(std::string("faults: field '") + name + "' has the wrong type");
  read_field(j, name, out);
}

}  // namespace

MailchimpFaults mailchimp_faults_from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw std::invalid_argument("faults: expected a JSON object");
  static const std::vector<std::string> known{"rate_429",       "rate_500", "rate_timeout", "timeout_ms",
                                              "rate_drop",      "rate_lost_response",     "rate_malformed",
                                              "slow_ms",        "paths",    "max_faults",   "seed"};
  for (auto it = j.begin(); it != j.end(); ++it)
    if (std::find(known.begin(), known.end(), it.key()) == known.end())
      throw std::invalid_argument("faults: unknown field '" + it.key() + "'");
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
    read_field(j, "paths", f.paths);
  }
  if (j.contains("seed") && !j["seed"].is_null() &&
      (!j["seed"].is_number_integer() || (!j["seed"].is_number_unsigned() && j["seed"].get<std::int64_t>() < 0)))
    throw std::invalid_argument("faults: field 'seed' must be a non-negative integer");
  read_field(j, "seed", f.seed);
  if (f.timeout_ms < 0 || f.slow_ms < 0) throw std::invalid_argument("faults: timeout_ms and slow_ms must be >= 0");
  return f;
}

nlohmann::json mailchimp_faults_to_json(const MailchimpFaults& f) {
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

}  // namespace synctool::emulators
