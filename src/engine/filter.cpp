#include "engine/filter.hpp"

#include "engine/values.hpp"
#include "util/json_path.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <unordered_set>
#include <utility>

namespace synctool::engine {

namespace {

// Parentheses and `not` nest; deeper input is rejected rather than risking the stack.
constexpr int kMaxDepth = 200;

enum class Op { eq, ne, lt, gt, le, ge };

struct Operand {
  bool is_field = false;
  std::string path;       // when is_field
  nlohmann::json literal;  // otherwise
};

}  // namespace

struct Filter::Node {
  enum class Kind { all_of, any_of, negate, compare, in_list, is_empty };
  Kind kind = Kind::all_of;
  std::vector<Node> children;  // all_of, any_of, negate (one child)
  Operand left;                // compare, in_list, is_empty
  Op op = Op::eq;              // compare
  Operand right;               // compare
  std::vector<nlohmann::json> list;  // in_list
  bool negated = false;              // `not in`, `is not empty`
};

namespace {

using Node = Filter::Node;

// ---- tokenizer -------------------------------------------------------------------------

enum class Tok { end, lparen, rparen, comma, op, string, number, word, quoted_field };

struct Token {
  Tok kind = Tok::end;
  std::string raw;         // source text, for messages
  std::string text;        // string contents, field name, or lower-cased word
  nlohmann::json number;   // Tok::number
  Op op = Op::eq;          // Tok::op
  int column = 1;          // 1-based
};

int column_of(std::size_t index) {
  return index >= static_cast<std::size_t>(INT_MAX) ? INT_MAX : static_cast<int>(index + 1);
}

// Messages read "<what> at column N<tail>", e.g. "unknown operator '==' at column 7; use '='".
[[noreturn]] void fail(int column, const std::string& what, const std::string& tail = "") {
  throw FilterSyntaxError(column, what + " at column " + std::to_string(column) + tail);
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_word_start(char c) {
  auto u = static_cast<unsigned char>(c);
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$' || u >= 0x80;
}
bool is_word_char(char c) { return is_word_start(c) || is_digit(c) || c == '.' || c == '-'; }

std::string show_char(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7f) return std::string("'") + c + "'";
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02X", u);
  return std::string("byte ") + buf;
}

// A dotted path must not have empty steps ("a..b", "a.").
bool valid_path(std::string_view path) {
  if (path.empty()) return false;
  for (const auto& step : util::split(path, '.'))
    if (step.empty()) return false;
  return true;
}

class Lexer {
 public:
  explicit Lexer(std::string_view text) : s_(text) {}

  std::vector<Token> run() {
    std::vector<Token> tokens;
    while (true) {
      while (i_ < s_.size() && is_space(s_[i_])) ++i_;
      if (i_ >= s_.size()) {
        Token end;
        end.kind = Tok::end;
        end.column = column_of(s_.size());
        tokens.push_back(std::move(end));
        return tokens;
      }
      tokens.push_back(next());
    }
  }

 private:
  char peek(std::size_t ahead) const { return i_ + ahead < s_.size() ? s_[i_ + ahead] : '\0'; }

  Token make(Tok kind, std::size_t start, std::size_t length) {
    Token t;
    t.kind = kind;
    t.column = column_of(start);
    t.raw = std::string(s_.substr(start, length));
    i_ = start + length;
    return t;
  }

  Token op(Op o, std::size_t length) {
    Token t = make(Tok::op, i_, length);
    t.op = o;
    return t;
  }

  Token next() {
    const std::size_t start = i_;
    const int col = column_of(start);
    const char c = s_[i_];
    switch (c) {
      case '(': return make(Tok::lparen, start, 1);
      case ')': return make(Tok::rparen, start, 1);
      case ',': return make(Tok::comma, start, 1);
      case '=':
        if (peek(1) == '=') fail(col, "unknown operator '=='", "; use '='");
        return op(Op::eq, 1);
      case '!':
        if (peek(1) == '=') return op(Op::ne, 2);
        fail(col, "unknown operator '!'", "; use 'not' or '!='");
      case '<':
        if (peek(1) == '=') return op(Op::le, 2);
        if (peek(1) == '>') fail(col, "unknown operator '<>'", "; use '!='");
        return op(Op::lt, 1);
      case '>':
        if (peek(1) == '=') return op(Op::ge, 2);
        return op(Op::gt, 1);
      case '&':
        if (peek(1) == '&') fail(col, "unknown operator '&&'", "; use 'and'");
        break;
      case '|':
        if (peek(1) == '|') fail(col, "unknown operator '||'", "; use 'or'");
        break;
      case '\'':
      case '"': return string_literal();
      case '`': return quoted_field();
      default: break;
    }
    const bool signed_number = (c == '-' || c == '+') && (is_digit(peek(1)) || (peek(1) == '.' && is_digit(peek(2))));
    if (is_digit(c) || signed_number || (c == '.' && is_digit(peek(1)))) return number();
    if (is_word_start(c)) return word();
    fail(col, "unexpected character " + show_char(c));
  }

  Token string_literal() {
    const std::size_t start = i_;
    const char quote = s_[i_++];
    std::string value;
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (c == '\\' && i_ + 1 < s_.size() && (s_[i_ + 1] == '\'' || s_[i_ + 1] == '"' || s_[i_ + 1] == '\\')) {
        value += s_[i_ + 1];
        i_ += 2;
      } else if (c == quote && peek(1) == quote) {  // SQL-style doubled quote
        value += quote;
        i_ += 2;
      } else if (c == quote) {
        Token t = make(Tok::string, start, i_ + 1 - start);
        t.text = std::move(value);
        return t;
      } else {
        value += c;
        ++i_;
      }
    }
    fail(column_of(start), "unterminated string starting");
  }

  Token quoted_field() {
    const std::size_t start = i_++;
    std::string name;
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (c == '`' && peek(1) == '`') {
        name += '`';
        i_ += 2;
      } else if (c == '`') {
        if (!valid_path(name)) fail(column_of(start), "invalid field name `" + name + "`");
        Token t = make(Tok::quoted_field, start, i_ + 1 - start);
        t.text = std::move(name);
        return t;
      } else {
        name += c;
        ++i_;
      }
    }
    fail(column_of(start), "unterminated quoted field name starting");
  }

  Token number() {
    const std::size_t start = i_;
    std::size_t j = i_;
    if (s_[j] == '-' || s_[j] == '+') ++j;
    while (j < s_.size() && is_digit(s_[j])) ++j;
    if (j < s_.size() && s_[j] == '.') {
      ++j;
      while (j < s_.size() && is_digit(s_[j])) ++j;
    }
    if (j < s_.size() && (s_[j] == 'e' || s_[j] == 'E')) {
      std::size_t k = j + 1;
      if (k < s_.size() && (s_[k] == '+' || s_[k] == '-')) ++k;
      if (k < s_.size() && is_digit(s_[k])) {
        j = k;
        while (j < s_.size() && is_digit(s_[j])) ++j;
      }
    }
    // "12abc" or "1.2.3" is a typo, not a number followed by a field.
    std::size_t end = j;
    while (end < s_.size() && is_word_char(s_[end])) ++end;
    std::string raw(s_.substr(start, end - start));
    if (end != j) fail(column_of(start), "invalid number '" + raw + "'");
    auto value = parse_number_text(raw);
    if (!value) fail(column_of(start), "number out of range '" + raw + "'");
    Token t = make(Tok::number, start, end - start);
    t.number = std::move(*value);
    return t;
  }

  Token word() {
    const std::size_t start = i_;
    std::size_t j = i_;
    while (j < s_.size() && is_word_char(s_[j])) ++j;
    Token t = make(Tok::word, start, j - start);
    if (!valid_path(t.raw)) fail(t.column, "invalid field name '" + t.raw + "'");
    t.text = util::to_lower(t.raw);
    return t;
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

// ---- parser ----------------------------------------------------------------------------

bool is_keyword(const std::string& lower) {
  static const char* const kKeywords[] = {"and", "or", "not", "in", "is", "empty", "true", "false", "null"};
  return std::any_of(std::begin(kKeywords), std::end(kKeywords), [&](const char* k) { return lower == k; });
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  Node parse() {
    Node root = parse_or("");
    const Token& t = cur();
    if (t.kind == Tok::rparen) fail(t.column, "unexpected ')'");
    if (t.kind != Tok::end) fail(t.column, "expected 'and' or 'or' before " + describe(t));
    return root;
  }

  std::vector<std::string> take_fields() { return std::move(fields_); }

 private:
  const Token& cur() const { return tokens_[pos_]; }
  const Token& peek_next() const { return tokens_[std::min(pos_ + 1, tokens_.size() - 1)]; }
  void advance() {
    if (pos_ + 1 < tokens_.size()) ++pos_;
  }
  bool at_word(const char* w) const { return cur().kind == Tok::word && cur().text == w; }

  // Quoted tokens already carry their quotes; everything else gets single quotes.
  static std::string quote(const std::string& raw) {
    if (!raw.empty() && (raw.front() == '\'' || raw.front() == '"' || raw.front() == '`')) return raw;
    return "'" + raw + "'";
  }
  static std::string describe(const Token& t) { return t.kind == Tok::end ? "the end of the filter" : quote(t.raw); }

  void enter(int column) {
    if (++depth_ > kMaxDepth) fail(column, "expression nested deeper than " + std::to_string(kMaxDepth) + " levels");
  }

  // `after` names the token before this point, for "expected a comparison after 'and'".
  Node parse_or(const std::string& after) {
    Node first = parse_and(after);
    if (!at_word("or")) return first;
    Node any;
    any.kind = Node::Kind::any_of;
    any.children.push_back(std::move(first));
    while (at_word("or")) {
      std::string word = quote(cur().raw);
      advance();
      any.children.push_back(parse_and(word));
    }
    return any;
  }

  Node parse_and(const std::string& after) {
    Node first = parse_not(after);
    if (!at_word("and")) return first;
    Node all;
    all.kind = Node::Kind::all_of;
    all.children.push_back(std::move(first));
    while (at_word("and")) {
      std::string word = quote(cur().raw);
      advance();
      all.children.push_back(parse_not(word));
    }
    return all;
  }

  Node parse_not(const std::string& after) {
    if (!at_word("not")) return parse_primary(after);
    enter(cur().column);
    std::string word = quote(cur().raw);
    advance();
    Node negate;
    negate.kind = Node::Kind::negate;
    negate.children.push_back(parse_not(word));
    --depth_;
    return negate;
  }

  Node parse_primary(const std::string& after) {
    if (cur().kind == Tok::lparen) {
      const int open_column = cur().column;
      enter(open_column);
      advance();
      Node inner = parse_or("'('");
      if (cur().kind != Tok::rparen)
        fail(cur().column, "expected ')'", " to close the '(' at column " + std::to_string(open_column));
      advance();
      --depth_;
      return inner;
    }
    return parse_comparison(after);
  }

  std::optional<Operand> parse_operand() {
    const Token& t = cur();
    Operand o;
    switch (t.kind) {
      case Tok::string: o.literal = t.text; break;
      case Tok::number: o.literal = t.number; break;
      case Tok::quoted_field:
        o.is_field = true;
        o.path = t.text;
        break;
      case Tok::word:
        if (t.text == "true") {
          o.literal = true;
        } else if (t.text == "false") {
          o.literal = false;
        } else if (t.text == "null") {
          o.literal = nullptr;
        } else if (is_keyword(t.text)) {
          return std::nullopt;
        } else {
          o.is_field = true;
          o.path = t.raw;
        }
        break;
      default: return std::nullopt;
    }
    if (o.is_field) note_field(o.path);
    advance();
    return o;
  }

  std::optional<nlohmann::json> parse_literal() {
    const Token& t = cur();
    nlohmann::json value;
    if (t.kind == Tok::string) {
      value = t.text;
    } else if (t.kind == Tok::number) {
      value = t.number;
    } else if (t.kind == Tok::word && t.text == "true") {
      value = true;
    } else if (t.kind == Tok::word && t.text == "false") {
      value = false;
    } else if (t.kind == Tok::word && t.text == "null") {
      value = nullptr;
    } else {
      return std::nullopt;
    }
    advance();
    return value;
  }

  Node parse_comparison(const std::string& after) {
    const Token& first = cur();
    const int first_column = first.column;
    std::string first_raw = first.raw;
    auto left = parse_operand();
    if (!left) {
      std::string where = after.empty() ? "" : " after " + after;
      if (first.kind == Tok::end) fail(first_column, "expected a comparison" + where);
      fail(first_column, "expected a comparison" + where, ", found " + describe(first));
    }

    Node node;
    node.left = std::move(*left);
    const Token& t = cur();
    if (t.kind == Tok::op) {
      node.kind = Node::Kind::compare;
      node.op = t.op;
      std::string op_raw = t.raw;
      advance();
      auto right = parse_operand();
      if (!right) fail(cur().column, "expected a value after " + quote(op_raw));
      node.right = std::move(*right);
      return node;
    }
    if (t.kind == Tok::word && (t.text == "in" || (t.text == "not" && peek_next().kind == Tok::word &&
                                                    peek_next().text == "in"))) {
      node.kind = Node::Kind::in_list;
      node.negated = t.text == "not";
      if (node.negated) advance();
      advance();
      parse_list(node);
      return node;
    }
    if (t.kind == Tok::word && t.text == "not") {
      advance();
      if (at_word("empty")) fail(cur().column, "expected 'in' after 'not'", "; did you mean 'is not empty'?");
      fail(cur().column, "expected 'in' after 'not'");
    }
    if (t.kind == Tok::word && t.text == "is") {
      node.kind = Node::Kind::is_empty;
      advance();
      if (at_word("not")) {
        node.negated = true;
        advance();
      }
      if (!at_word("empty"))
        fail(cur().column, node.negated ? "expected 'empty' after 'is not'" : "expected 'empty' after 'is'");
      advance();
      return node;
    }
    fail(t.column, "expected an operator after " + quote(first_raw));
  }

  void parse_list(Node& node) {
    if (cur().kind != Tok::lparen) fail(cur().column, "expected '(' after 'in'");
    advance();
    while (true) {
      auto value = parse_literal();
      if (!value) fail(cur().column, "expected a value in the 'in' list");
      node.list.push_back(std::move(*value));
      if (cur().kind == Tok::rparen) {
        advance();
        return;
      }
      if (cur().kind != Tok::comma) fail(cur().column, "expected ',' or ')' in the 'in' list");
      advance();
    }
  }

  void note_field(const std::string& path) {
    if (seen_.insert(path).second) fields_.push_back(path);
  }

  std::vector<Token> tokens_;
  std::size_t pos_ = 0;
  int depth_ = 0;
  std::vector<std::string> fields_;
  std::unordered_set<std::string> seen_;
};

// ---- evaluation ------------------------------------------------------------------------

const nlohmann::json kNull;

const nlohmann::json& operand_value(const Operand& o, const nlohmann::json& fields) {
  if (!o.is_field) return o.literal;
  const nlohmann::json* v = util::json_get_path(fields, o.path);
  return v ? *v : kNull;
}

// Booleans meet text case-insensitively so a CSV "TRUE" matches `flag = true`.
bool bool_text_equal(const nlohmann::json& boolean, const nlohmann::json& other) {
  if (other.is_boolean()) return boolean == other;
  return util::to_lower(value_text(other)) == (boolean.get<bool>() ? "true" : "false");
}

bool filter_equal(const nlohmann::json& a, const nlohmann::json& b) {
  if (a.is_null() || b.is_null()) return a.is_null() && b.is_null();
  if (a.is_boolean()) return bool_text_equal(a, b);
  if (b.is_boolean()) return bool_text_equal(b, a);
  auto x = numeric_value(a), y = numeric_value(b);
  if (x && y) return compare_numbers(*x, *y) == std::partial_ordering::equivalent;
  return value_text(a) == value_text(b);
}

bool filter_order(const nlohmann::json& a, const nlohmann::json& b, Op op) {
  if (a.is_null() || b.is_null()) return false;
  std::partial_ordering order = std::partial_ordering::unordered;
  auto x = numeric_value(a), y = numeric_value(b);
  if (x && y) {
    order = compare_numbers(*x, *y);
  } else {
    // std::string compares bytes as unsigned char: a stable, locale-free order.
    int c = value_text(a).compare(value_text(b));
    order = c < 0   ? std::partial_ordering::less
            : c > 0 ? std::partial_ordering::greater
                    : std::partial_ordering::equivalent;
  }
  switch (op) {
    case Op::lt: return order == std::partial_ordering::less;
    case Op::gt: return order == std::partial_ordering::greater;
    case Op::le: return order == std::partial_ordering::less || order == std::partial_ordering::equivalent;
    case Op::ge: return order == std::partial_ordering::greater || order == std::partial_ordering::equivalent;
    default: return false;
  }
}

bool is_empty_value(const nlohmann::json& v) {
  if (v.is_null()) return true;
  if (v.is_string()) return util::trim(v.get_ref<const std::string&>()).empty();
  if (v.is_array() || v.is_object()) return v.empty();
  return false;
}

bool evaluate(const Node& node, const nlohmann::json& fields) {
  switch (node.kind) {
    case Node::Kind::all_of:
      return std::all_of(node.children.begin(), node.children.end(),
                         [&](const Node& child) { return evaluate(child, fields); });
    case Node::Kind::any_of:
      return std::any_of(node.children.begin(), node.children.end(),
                         [&](const Node& child) { return evaluate(child, fields); });
    case Node::Kind::negate: return !evaluate(node.children.front(), fields);
    case Node::Kind::compare: {
      const auto& a = operand_value(node.left, fields);
      const auto& b = operand_value(node.right, fields);
      switch (node.op) {
        case Op::eq: return filter_equal(a, b);
        case Op::ne: return !filter_equal(a, b);
        default: return filter_order(a, b, node.op);
      }
    }
    case Node::Kind::in_list: {
      const auto& a = operand_value(node.left, fields);
      bool found = std::any_of(node.list.begin(), node.list.end(),
                               [&](const nlohmann::json& item) { return filter_equal(a, item); });
      return found != node.negated;
    }
    case Node::Kind::is_empty: return is_empty_value(operand_value(node.left, fields)) != node.negated;
  }
  return false;
}

}  // namespace

Filter Filter::parse(std::string_view text) {
  Filter filter;
  if (util::trim(text).empty()) return filter;
  Parser parser(Lexer(text).run());
  filter.root_ = std::make_shared<const Node>(parser.parse());
  filter.fields_ = parser.take_fields();
  return filter;
}

bool Filter::matches(const nlohmann::json& fields) const { return !root_ || evaluate(*root_, fields); }

}  // namespace synctool::engine
