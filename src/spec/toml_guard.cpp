#include "spec/toml_guard.hpp"

#include <cstdint>
#include <cstdio>
#include <vector>

namespace synctool::spec::detail {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// The characters toml++ accepts as the first of a bare key (TOML 1.0: A-Z a-z 0-9 _ -).
bool is_bare_key_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) || c == '_' || c == '-';
}

// Where toml++ ends a bare value (a number, a date, true...): whitespace, a line break, ',',
// ']', '}' or '#'. Anything else is read as part of the value, quotes too.
bool ends_value(char c) {
  return c == ' ' || c == '\t' || (c >= '\n' && c <= '\r') || c == ',' || c == ']' || c == '}' || c == '#';
}

// The length of the UTF-8 sequence at text[i] and its code point, or 0 when it is not valid
// UTF-8 (toml++ throws a clean parse_error for that and parses nothing after it).
std::size_t decode(std::string_view text, std::size_t i, char32_t& cp) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char lead = byte(i);
  if (lead < 0x80) {
    cp = lead;
    return 1;
  }
  std::size_t length = 0;
  char32_t smallest = 0;
  if ((lead & 0xE0) == 0xC0) {
    length = 2, cp = lead & 0x1F, smallest = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, cp = lead & 0x0F, smallest = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, cp = lead & 0x07, smallest = 0x10000;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  if (cp < smallest || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return length;
}

std::string code_point_name(char32_t cp) {
  char name[16];
  std::snprintf(name, sizeof name, "U+%04X", static_cast<unsigned>(cp));
  return name;
}

// How a message shows the character at text[i].
std::string describe(std::string_view text, std::size_t i) {
  char c = text[i];
  if (c == '\n') return "a line break";
  if (c == '\r') return "a carriage return";
  if (c == '\t') return "a tab";
  char32_t cp = 0;
  std::size_t length = decode(text, i, cp);
  if (length == 0) return "a byte that is not UTF-8";
  if (cp < 0x20 || cp == 0x7F) return "control character " + code_point_name(cp);
  // Appended piecewise: GCC 12 at -O2 warns (-Wrestrict) about "literal" + std::string.
  std::string shown(1, '\'');
  shown.append(text.substr(i, length)).push_back('\'');
  if (length > 1) shown.append(" (").append(code_point_name(cp)).push_back(')');
  return shown;
}

bool is_unicode_space(char32_t cp) {
  return cp == 0xA0 || cp == 0x1680 || cp == 0x180E || (cp >= 0x2000 && cp <= 0x200B) || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000 || cp == 0xFEFF;
}

bool is_typographic_quote(char32_t cp) { return (cp >= 0x2018 && cp <= 0x201F) || cp == 0xAB || cp == 0xBB; }

class Scanner {
 public:
  explicit Scanner(std::string_view in) : in_(in) { out_.reserve(in.size() + 8); }

  GuardedToml run() {
    // toml++ skips a byte order mark before it counts lines and columns.
    if (in_.starts_with("\xEF\xBB\xBF")) {
      out_.append(in_.substr(0, 3));
      i_ = 3;
    }
    while (!at_end()) step();
    return GuardedToml{std::move(out_), std::move(problem_)};
  }

 private:
  enum class Expect { statement, key, value, after };
  enum class Nest { array, inline_table };

  bool at_end() const { return i_ >= in_.size(); }
  char peek(std::size_t ahead = 0) const { return i_ + ahead < in_.size() ? in_[i_ + ahead] : '\0'; }

  void note(std::string message) {
    if (!problem_) problem_ = TomlGuardProblem{line_, column_, std::move(message)};
  }

  // The rest is not valid UTF-8 from here on: toml++ stops with an error at it.
  void stop() {
    out_.append(in_.substr(i_));
    i_ = in_.size();
  }

  // Copies one code point. Outside strings and comments every TOML 1.0 token is ASCII, and a
  // non-ASCII code point there is an error. It must not reach toml++ 3.3, which classifies it
  // with is_whitespace(): for most code points below U+0500 (and some near U+3000 and U+FF00)
  // that runs into __builtin_unreachable, i.e. undefined behaviour (upstream issue 295: the
  // two bytes "\xcc\xaa", U+032A, as a whole document). It becomes an 'x'.
  bool copy(bool in_string) {
    char32_t cp = 0;
    std::size_t length = decode(in_, i_, cp);
    if (length == 0) {
      stop();
      return false;
    }
    if (length > 1 && !in_string) {
      std::string shown(in_.substr(i_, length));
      if (is_typographic_quote(cp))
        note("unexpected character '" + shown + "' (" + code_point_name(cp) +
             "): strings take straight quotes, \"...\" or '...'");
      else if (is_unicode_space(cp))
        note("unexpected character " + code_point_name(cp) + " (a Unicode space): TOML separates with spaces and tabs");
      else
        note("unexpected character '" + shown + "' (" + code_point_name(cp) +
             ") outside a string: only strings and comments may hold characters beyond ASCII");
      out_ += 'x';
    } else {
      out_.append(in_.substr(i_, length));
    }
    i_ += length;
    if (cp == '\n') {
      ++line_;
      column_ = 1;
    } else {
      ++column_;
    }
    return true;
  }

  bool valid_at(std::size_t i) const {
    char32_t cp = 0;
    return decode(in_, i, cp) != 0;
  }

  void copy_blanks() {
    while (peek() == ' ' || peek() == '\t') copy(true);
  }

  void step() {
    char c = in_[i_];
    if (c == '#') return comment();
    if (c == '"' || c == '\'') return string();
    if (c == '\n') {
      if (nest_.empty()) {
        expect_ = Expect::statement;
        header_ = false;
      }
      copy(true);
      return;
    }
    if (c == ' ' || c == '\t' || c == '\r') {
      copy(true);
      return;
    }
    switch (c) {
      case '[':
        if (expect_ == Expect::statement && nest_.empty()) return table_header();
        if (expect_ == Expect::value) {
          nest_.push_back(Nest::array);
          copy(true);
          return;
        }
        break;
      case '{':
        if (expect_ == Expect::value) {
          nest_.push_back(Nest::inline_table);
          expect_ = Expect::key;
          key_parts_ = 1;
          copy(true);
          return;
        }
        break;
      case ']':
        if (!nest_.empty() && nest_.back() == Nest::array) {
          nest_.pop_back();
          expect_ = Expect::after;
        } else if (header_) {
          expect_ = Expect::after;
        }
        break;
      case '}':
        if (!nest_.empty() && nest_.back() == Nest::inline_table) {
          nest_.pop_back();
          expect_ = Expect::after;
        } else if (!nest_.empty() && expect_ == Expect::value) {
          // In an array, toml++ 3.3 hands a '}' where a value belongs to parse_value(), which
          // asserts that it is not a value terminator (undefined behaviour in release builds):
          // "b = [}". A '0' in front makes it a value that toml++ then rejects cleanly.
          note("expected a value or ']' in an array, saw '}'");
          out_ += '0';
          expect_ = Expect::after;
        }
        break;
      case ',':
        if (!nest_.empty()) {
          expect_ = nest_.back() == Nest::array ? Expect::value : Expect::key;
          key_parts_ = 1;
        }
        break;
      case '=':
        if (expect_ == Expect::key && !header_) {
          expect_ = Expect::value;
          copy(true);
          return;
        }
        break;
      case '.':
        if (expect_ == Expect::key) return key_dot();
        break;
      default:
        break;
    }
    if (expect_ == Expect::value && !ends_value(c)) return bare_value();
    if (expect_ == Expect::statement) {
      expect_ = Expect::key;
      key_parts_ = 1;
    }
    copy(false);
  }

  void comment() {
    while (!at_end() && peek() != '\n')
      if (!copy(true)) return;
  }

  void table_header() {
    copy(true);  // '['
    header_ = true;
    header_array_ = false;
    expect_ = Expect::key;
    key_parts_ = 1;
    std::size_t j = i_;
    while (j < in_.size() && (in_[j] == ' ' || in_[j] == '\t')) ++j;
    if (j < in_.size() && in_[j] == '[') {
      if (j > i_) return;  // "[ [": toml++ reports that the brackets must be contiguous
      header_array_ = true;
      copy(true);
    }
    copy_blanks();
    if (at_end()) return;
    // toml++ 3.3 checks only for ']' here and then asserts that a key starts: any other
    // character is undefined behaviour in its error path (upstream issue 294: the two bytes
    // "[&"). An 'x' in front of it makes it a key that toml++ then rejects cleanly.
    char c = peek();
    if (is_bare_key_char(c) || c == '"' || c == '\'' || c == ']') return;
    if (!valid_at(i_)) return stop();
    note("expected a table name after '" + std::string(header_array_ ? "[[" : "[") + "', saw " + describe(in_, i_));
    out_ += 'x';
  }

  // toml++ 3.3 nests one table per part of a dotted key or table name and then walks and
  // frees them recursively: tens of thousands of parts overflow the stack (upstream later
  // limited them, TOML_MAX_DOTTED_KEYS_DEPTH). A key ends after kMaxTomlKeyParts parts: the
  // text toml++ gets closes it there and follows it with an '&' it stops at.
  void key_dot() {
    if (++key_parts_ == kMaxTomlKeyParts + 1) {
      note("a dotted key or table name has more than " + std::to_string(kMaxTomlKeyParts) + " parts");
      out_ += header_ ? (header_array_ ? "]]&" : "]&") : "=0&";
    }
    copy(true);
  }

  void bare_value() {
    // "YYYY-MM-DDT" must be followed by a digit: toml++ 3.3 classifies the value as a
    // date-time and its parse_time() asserts the digit without checking it (undefined
    // behaviour in release builds): "1979-05-27T:00". A '0' after the 'T' keeps it a clean
    // syntax error for toml++.
    auto digits = [&](std::size_t from, std::size_t count) {
      for (std::size_t k = from; k < from + count; ++k)
        if (!is_digit(peek(k))) return false;
      return true;
    };
    if (digits(0, 4) && peek(4) == '-' && digits(5, 2) && peek(7) == '-' && digits(8, 2) &&
        (peek(10) == 'T' || peek(10) == 't') && i_ + 11 < in_.size() && !is_digit(peek(11)) &&
        !ends_value(peek(11)) && valid_at(i_ + 11)) {
      for (int k = 0; k < 11; ++k) copy(true);
      note("expected a time (HH:MM:SS) after the 'T' of a date-time, saw " + describe(in_, i_));
      out_ += '0';
    }
    std::string token;  // the value without its underscores, as toml++ classifies it
    while (!at_end() && !ends_value(peek())) {
      if (peek() != '_') token += peek();
      if (!copy(false)) return;
    }
    expect_ = Expect::after;
    // "YYYY-MM-DD" then a space and a digit may be a date-time written with a space for the
    // 'T'; toml++ 3.3 reads on after that digit and asserts that no value terminator follows
    // it (undefined behaviour in release builds): "a = 1979-05-27 1 ". A single digit there
    // is never a time, so a '0' after it keeps it a clean syntax error for toml++. toml++
    // takes the value for a date by its length, its first digit and the two '-' alone (";"
    // or "!" elsewhere in it do not stop it: "1;79-05-92 1]"), so this test is no stricter.
    // (The guard has refused characters beyond ASCII here already: bytes are characters.)
    auto is_date = [&] { return token.size() == 10 && is_digit(token[0]) && token[4] == '-' && token[7] == '-'; };
    if (peek() == ' ' && is_digit(peek(1)) && i_ + 2 < in_.size() && ends_value(peek(2)) && is_date()) {
      copy(true);
      note("expected a time (HH:MM:SS) after the date and the space, saw " + describe(in_, i_) + " alone");
      copy(true);
      out_ += '0';
    }
  }

  void string() {
    if (expect_ == Expect::statement) {
      expect_ = Expect::key;
      key_parts_ = 1;
    }
    const bool value = expect_ == Expect::value;
    const char quote = peek();
    if (peek(1) == quote && peek(2) == quote) {
      for (int k = 0; k < 3; ++k) copy(true);
      multi_line_string(quote);
    } else {
      copy(true);
      single_line_string(quote);
    }
    if (value) expect_ = Expect::after;
  }

  void single_line_string(char quote) {
    while (!at_end()) {
      char c = peek();
      if (c == '\n') return;  // unterminated: toml++ reports it
      if (c == quote) {
        copy(true);
        return;
      }
      if (c == '\\' && quote == '"') {
        copy(true);
        if (at_end() || peek() == '\n') continue;
      }
      if (!copy(true)) return;
    }
  }

  void multi_line_string(char quote) {
    while (!at_end()) {
      char c = peek();
      if (c == quote) {
        // As toml++: a run of up to five quotes; three or more close the string.
        int run = 0;
        while (run < 5 && peek() == quote) {
          copy(true);
          ++run;
        }
        if (run >= 3) return;
        continue;
      }
      if (c == '\\' && quote == '"') {
        copy(true);
        after_backslash();
        continue;
      }
      if (!copy(true)) return;
    }
  }

  // In a """string""": toml++ 3.3 tests the character after a backslash with is_whitespace()
  // and, when it is a space or tab, each following one with is_horizontal_whitespace(): the
  // undefined behaviour of upstream issue 295 for a non-ASCII character, which is an error
  // there anyway (an unknown escape, or text after a line-ending backslash). A 'q' in front
  // of it turns it into an error toml++ stops at.
  void after_backslash() {
    std::size_t j = i_;
    while (j < in_.size() && (in_[j] == ' ' || in_[j] == '\t')) ++j;
    if (j < in_.size() && static_cast<unsigned char>(in_[j]) >= 0x80) {
      bool escape = j == i_;
      copy_blanks();
      if (!valid_at(i_)) return stop();
      note(escape ? "unknown escape sequence '\\" + describe(in_, i_).substr(1)
                  : std::string("a line-ending backslash must be the last character on its line, but ") +
                        describe(in_, i_) + " follows it");
      out_ += 'q';
      return;
    }
    if (j < in_.size() && (in_[j] == '\n' || in_[j] == '\r')) {
      // A line-ending backslash: toml++ skips the spaces, tabs and line breaks that follow
      // and tests the next character with is_horizontal_whitespace(), the same undefined
      // behaviour for a non-ASCII one, here in valid TOML. It gets its \u escape instead,
      // which means the same.
      while (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r') copy(true);
      if (!at_end() && static_cast<unsigned char>(peek()) >= 0x80) {
        char32_t cp = 0;
        std::size_t length = decode(in_, i_, cp);
        if (length == 0) return stop();
        char escaped[16];
        if (cp <= 0xFFFF)
          std::snprintf(escaped, sizeof escaped, "\\u%04X", static_cast<unsigned>(cp));
        else
          std::snprintf(escaped, sizeof escaped, "\\U%08X", static_cast<unsigned>(cp));
        out_ += escaped;
        i_ += length;
        ++column_;
      }
      return;
    }
    // An escaped quote or backslash is not a delimiter or another escape.
    if (j == i_ && (peek() == '"' || peek() == '\\')) copy(true);
  }

  std::string_view in_;
  std::size_t i_ = 0;
  int line_ = 1;
  int column_ = 1;
  std::string out_;
  std::optional<TomlGuardProblem> problem_;

  std::vector<Nest> nest_;  // open arrays and inline tables of the current value
  Expect expect_ = Expect::statement;
  bool header_ = false;     // in a [table] or [[array]] header
  bool header_array_ = false;
  int key_parts_ = 0;       // parts of the key read so far
};

}  // namespace

GuardedToml guard_toml(std::string_view text) { return Scanner(text).run(); }

}  // namespace synctool::spec::detail
