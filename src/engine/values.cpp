#include "engine/values.hpp"

#include "util/clock.hpp"
#include "util/decimal.hpp"
#include "util/hash.hpp"
#include "util/json_path.hpp"
#include "util/strings.hpp"

#include <charconv>
#include <xxhash.h>
#include <cstdio>
#include <cstdint>
#include <utility>

namespace synctool::engine {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool is_integer(const nlohmann::json& v) { return v.is_number_integer(); }  // signed or unsigned

// Boolean spelled as text: "true"/"false" in any case, or "1"/"0".
std::optional<bool> bool_text(const std::string& s) {
  if (s == "1") return true;
  if (s == "0") return false;
  std::string lower = util::to_lower(s);
  if (lower == "true") return true;
  if (lower == "false") return false;
  return std::nullopt;
}

bool bool_equals(bool b, const nlohmann::json& other) {
  if (other.is_boolean()) return other.get<bool>() == b;
  if (other.is_number()) {
    auto order = compare_numbers(other, nlohmann::json(b ? 1 : 0));
    return order == std::partial_ordering::equivalent;
  }
  if (other.is_string()) {
    auto parsed = bool_text(other.get_ref<const std::string&>());
    return parsed && *parsed == b;
  }
  return false;
}

// Cheap pre-check so that only date-looking text is handed to the ISO parser.
bool looks_like_date(const std::string& s) {
  return s.size() >= 10 && is_digit(s[0]) && is_digit(s[3]) && s[4] == '-' && s[7] == '-';
}

}  // namespace

std::optional<nlohmann::json> parse_number_text(std::string_view text) {
  // Validate the grammar by hand: from_chars alone would accept "1." prefixes of "1.2.3".
  std::size_t i = 0;
  const std::size_t n = text.size();
  bool negative = false;
  if (i < n && (text[i] == '+' || text[i] == '-')) negative = text[i++] == '-';
  std::size_t int_digits = 0, frac_digits = 0;
  while (i < n && is_digit(text[i])) ++i, ++int_digits;
  bool integral = true;
  if (i < n && text[i] == '.') {
    integral = false;
    ++i;
    while (i < n && is_digit(text[i])) ++i, ++frac_digits;
  }
  if (int_digits + frac_digits == 0) return std::nullopt;
  if (i < n && (text[i] == 'e' || text[i] == 'E')) {
    integral = false;
    ++i;
    if (i < n && (text[i] == '+' || text[i] == '-')) ++i;
    std::size_t exp_digits = 0;
    while (i < n && is_digit(text[i])) ++i, ++exp_digits;
    if (exp_digits == 0) return std::nullopt;
  }
  if (i != n) return std::nullopt;

  // from_chars takes no leading '+'.
  std::string_view body = text;
  if (!body.empty() && body.front() == '+') body.remove_prefix(1);
  const char* first = body.data();
  const char* last = body.data() + body.size();
  if (integral) {
    std::int64_t s = 0;
    auto r = std::from_chars(first, last, s);
    if (r.ec == std::errc() && r.ptr == last) return nlohmann::json(s);
    if (!negative) {
      std::uint64_t u = 0;
      r = std::from_chars(first, last, u);
      if (r.ec == std::errc() && r.ptr == last) return nlohmann::json(u);
    }
  }
  double d = 0;
  auto r = std::from_chars(first, last, d);
  if (r.ec != std::errc() || r.ptr != last) return std::nullopt;
  return nlohmann::json(d);
}

std::optional<nlohmann::json> exact_number(std::string_view text) {
  auto canonical = util::canonical_decimal(text);
  if (!canonical) return std::nullopt;
  if (util::is_integral_decimal(*canonical)) {
    const char* first = canonical->data();
    const char* last = first + canonical->size();
    std::int64_t s = 0;
    if (auto r = std::from_chars(first, last, s); r.ec == std::errc() && r.ptr == last) return nlohmann::json(s);
    std::uint64_t u = 0;
    if (auto r = std::from_chars(first, last, u); r.ec == std::errc() && r.ptr == last) return nlohmann::json(u);
  }
  if (util::double_holds(*canonical)) return nlohmann::json(std::stod(*canonical));
  return nlohmann::json(std::move(*canonical));
}

std::optional<std::string> decimal_text(const nlohmann::json& value) {
  if (value.is_number_unsigned()) return std::to_string(value.get<std::uint64_t>());
  if (value.is_number_integer()) return std::to_string(value.get<std::int64_t>());
  if (value.is_number_float()) return util::canonical_decimal(value.get<double>());
  if (value.is_string()) return util::canonical_decimal(value.get_ref<const std::string&>());
  return std::nullopt;
}

std::optional<nlohmann::json> numeric_value(const nlohmann::json& value) {
  if (value.is_number()) return value;
  if (value.is_string()) return parse_number_text(value.get_ref<const std::string&>());
  return std::nullopt;
}

std::partial_ordering compare_numbers(const nlohmann::json& a, const nlohmann::json& b) {
  if (is_integer(a) && is_integer(b)) {
    // Compare exactly: ids above 2^53 must not collapse through double.
    auto exact = [](auto x, auto y) {
      if (std::cmp_less(x, y)) return std::partial_ordering::less;
      if (std::cmp_equal(x, y)) return std::partial_ordering::equivalent;
      return std::partial_ordering::greater;
    };
    if (a.is_number_unsigned()) {
      auto x = a.get<std::uint64_t>();
      return b.is_number_unsigned() ? exact(x, b.get<std::uint64_t>()) : exact(x, b.get<std::int64_t>());
    }
    auto x = a.get<std::int64_t>();
    return b.is_number_unsigned() ? exact(x, b.get<std::uint64_t>()) : exact(x, b.get<std::int64_t>());
  }
  return a.get<double>() <=> b.get<double>();
}

std::string value_text(const nlohmann::json& value) {
  if (value.is_null()) return "";
  if (value.is_string()) return value.get<std::string>();
  return util::json_dump(value);
}

bool values_equal(const nlohmann::json& a, const nlohmann::json& b) {
  if (a.type() == b.type() && !a.is_object() && !a.is_array() && a == b) return true;

  if (a.is_null() || b.is_null()) {
    const nlohmann::json& other = a.is_null() ? b : a;
    if (other.is_null()) return true;
    if (other.is_string()) return other.get_ref<const std::string&>().empty();
    if (other.is_array()) return other.empty();
    if (other.is_object()) {
      for (const auto& member : other)
        if (!values_equal(nlohmann::json(), member)) return false;
      return true;
    }
    return false;
  }

  if (a.is_object() && b.is_object()) {
    // A key missing on one side counts as null there.
    static const nlohmann::json null_value;
    for (auto it = a.begin(); it != a.end(); ++it) {
      auto other = b.find(it.key());
      if (!values_equal(*it, other == b.end() ? null_value : *other)) return false;
    }
    for (auto it = b.begin(); it != b.end(); ++it)
      if (!a.contains(it.key()) && !values_equal(null_value, *it)) return false;
    return true;
  }

  if (a.is_array() && b.is_array()) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
      if (!values_equal(a[i], b[i])) return false;
    return true;
  }

  if (a.is_boolean()) return bool_equals(a.get<bool>(), b);
  if (b.is_boolean()) return bool_equals(b.get<bool>(), a);

  if (a.is_number() || b.is_number()) {
    // Digit for digit: two numbers a double cannot tell apart may still differ.
    auto x = decimal_text(a), y = decimal_text(b);
    return x && y && *x == *y;
  }

  if (a.is_string() && b.is_string()) {
    const auto& s = a.get_ref<const std::string&>();
    const auto& t = b.get_ref<const std::string&>();
    if (s == t) return true;
    // Systems format the same instant differently; comparing by text would update forever.
    if (looks_like_date(s) && looks_like_date(t)) {
      auto x = util::parse_iso8601(s), y = util::parse_iso8601(t);
      return x && y && *x == *y;
    }
    return false;
  }
  return false;
}

std::string values_hash(const nlohmann::json& values) {
  // CBOR keeps raw bytes (a strict dump would throw on invalid UTF-8), and a 64-bit FNV-1a is
  // plenty to tell "changed" from "unchanged" while costing far less than a cryptographic
  // digest: this runs once per record on every run.
  auto cbor = nlohmann::json::to_cbor(values);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx",
                static_cast<unsigned long long>(util::fnv1a64(
                    std::string_view(reinterpret_cast<const char*>(cbor.data()), cbor.size()))));
  return hex;
}

namespace {

// The record written out with its JSON types (a type byte, lengths before texts, numbers as
// their bytes) into one buffer, hashed once: XXH3 takes it 8 and 32 bytes at a time.
class DigestText {
 public:
  std::string& out;
  void bytes(const void* data, std::size_t n) { out.append(static_cast<const char*>(data), n); }
  template <typename T>
  void scalar(T v) {
    bytes(&v, sizeof v);
  }
  void text(std::string_view t) {
    scalar<std::uint64_t>(t.size());
    bytes(t.data(), t.size());
  }
  void value(const nlohmann::json& v) {
    using T = nlohmann::json::value_t;
    out.push_back(static_cast<char>(v.type()));
    switch (v.type()) {
      case T::string: text(v.get_ref<const std::string&>()); break;
      case T::boolean: out.push_back(v.get<bool>() ? 1 : 0); break;
      case T::number_integer: scalar(v.get<std::int64_t>()); break;
      case T::number_unsigned: scalar(v.get<std::uint64_t>()); break;
      case T::number_float: scalar(v.get<double>()); break;
      case T::array:
        scalar<std::uint64_t>(v.size());
        for (const auto& item : v) value(item);
        break;
      case T::object:
        scalar<std::uint64_t>(v.size());
        for (auto it = v.begin(); it != v.end(); ++it) {
          text(it.key());
          value(*it);
        }
        break;
      case T::binary: {
        const auto& b = v.get_binary();
        scalar<std::uint64_t>(b.size());
        bytes(b.data(), b.size());
        break;
      }
      default: break;  // null, discarded
    }
  }
  // Exactly the bytes value(row.to_json()) writes.
  void row(const connectors::Row& r) {
    using T = nlohmann::json::value_t;
    using K = connectors::Row::Kind;
    out.push_back(static_cast<char>(T::object));
    scalar<std::uint64_t>(r.present());
    for (std::size_t i = 0; i < r.size(); ++i) {
      if (r.kind(i) == K::absent) continue;
      text(r.name(i));
      switch (r.kind(i)) {
        case K::null: out.push_back(static_cast<char>(T::null)); break;
        case K::boolean:
          out.push_back(static_cast<char>(T::boolean));
          out.push_back(r.boolean(i) ? 1 : 0);
          break;
        case K::integer:
          out.push_back(static_cast<char>(T::number_integer));
          scalar(r.integer(i));
          break;
        case K::real:
          out.push_back(static_cast<char>(T::number_float));
          scalar(r.real(i));
          break;
        case K::text:
          out.push_back(static_cast<char>(T::string));
          text(r.text(i));
          break;
        case K::json: value(r.json(i)); break;
        case K::absent: break;
      }
    }
  }
};

}  // namespace

namespace {

template <typename Write>
std::uint64_t digest_of(std::uint64_t seed, Write&& write) {
  thread_local std::string buffer;  // reused: no allocation per record once it has grown
  buffer.clear();
  DigestText text{buffer};
  write(text);
  const std::uint64_t digest = XXH3_64bits_withSeed(buffer.data(), buffer.size(), seed);
  return digest == 0 ? 1 : digest;
}

}  // namespace

std::uint64_t source_digest(std::uint64_t seed, const nlohmann::json& fields) {
  return digest_of(seed, [&](DigestText& text) { text.value(fields); });
}

std::uint64_t source_digest(std::uint64_t seed, const connectors::Row& row) {
  return digest_of(seed, [&](DigestText& text) { text.row(row); });
}

}  // namespace synctool::engine
