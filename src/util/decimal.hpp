// Exact decimal numbers as text. synctool never routes a number through a double unless the
// double's shortest form is that same decimal: 12345678901234567.89 stays those digits.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace synctool::util {

// The longest canonical decimal accepted (a double's extremes need about 330 digits).
inline constexpr std::size_t kMaxDecimalLength = 1200;

// The canonical form of numeric text: no '+', no leading zeros, no trailing fraction zeros,
// the exponent applied, "-0" as "0" ("+007.50" -> "7.5", "1e3" -> "1000", "1.5E-3" ->
// "0.0015"). The grammar is an optional sign, digits with an optional fraction (".5" and "5."
// too) and an optional exponent; no spaces, hex, inf or nan. nullopt when the text is not a
// number, or its canonical form would be longer than kMaxDecimalLength.
std::optional<std::string> canonical_decimal(std::string_view text);

// The canonical decimal of a double's shortest round-trip form (0.1 -> "0.1"); nullopt for
// infinities and NaN.
std::optional<std::string> canonical_decimal(double value);

// Whether a double holds the canonical decimal `canonical` exactly: parsing it as a double
// and printing that double's shortest form gives the same decimal. "0.1" yes (the double
// nearest 0.1 prints as 0.1), "12345678901234567.89" no.
bool double_holds(std::string_view canonical);

// Whether the canonical decimal has no fraction.
inline bool is_integral_decimal(std::string_view canonical) { return canonical.find('.') == std::string_view::npos; }

}  // namespace synctool::util
