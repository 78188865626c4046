// The SOQL subset of the Salesforce emulator: SELECT fields (or COUNT()) FROM one object, WHERE
// with comparisons, IN / NOT IN, LIKE, NOT, AND / OR (mixing them needs parentheses, as in
// SOQL), ORDER BY with ASC / DESC and NULLS FIRST / LAST, LIMIT and OFFSET. Literals are typed as
// SOQL types them: quoted strings, numbers, TRUE / FALSE, NULL, unquoted dates and date-times.
// Errors carry Salesforce's codes and its "ERROR at Row:R:Column:C" form.
#include <algorithm>
#include <cmath>

#include "emulators/salesforce/salesforce_internal.hpp"

namespace synctool::emulators::salesforce_detail {

namespace {

struct Token {
  enum Kind { word, string, number, date, datetime, symbol, end } kind = end;
  std::string text;  // as written (strings: unescaped)
  std::size_t pos = 0;
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_word_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool is_word_char(char c) { return is_word_start(c) || is_digit(c) || c == '.'; }

class Parser {
 public:
  Parser(const std::string& text, const std::function<const ObjectType*(const std::string&)>& find_type)
      : text_(text), find_type_(find_type) {
    tokenize();
  }

  SoqlQuery parse() {
    SoqlQuery q;
    expect_keyword("SELECT");
    std::vector<Token> selected;
    if (keyword_is(peek(), "COUNT") && peek(1).text == "(") {
      next();
      next();
      if (peek().text != ")") fail_unexpected(peek());
      next();
      q.count = true;
    } else {
      while (true) {
        const Token& t = next();
        if (t.kind != Token::word || is_reserved(t.text)) fail_unexpected(t);
        selected.push_back(t);
        if (peek().text != ",") break;
        next();
      }
    }
    expect_keyword("FROM");
    const Token& obj = next();
    if (obj.kind != Token::word || is_reserved(obj.text)) fail_unexpected(obj);
    type_ = find_type_(obj.text);
    if (type_ == nullptr)
      fail(obj, "INVALID_TYPE",
           "sObject type '" + obj.text +
               "' is not supported. If you are attempting to use a custom object, be sure to append the '__c' "
               "after the entity name. Please reference your WSDL or the describe call for the appropriate names.");
    q.object = type_->name;
    for (const Token& t : selected) {
      const std::string name = field_name(t);
      for (const auto& f : q.fields)
        if (f == name) fail(t, "MALFORMED_QUERY", "duplicate field selected: " + name);
      q.fields.push_back(name);
    }
    if (keyword_is(peek(), "WHERE")) {
      next();
      q.where = expression();
    }
    if (keyword_is(peek(), "ORDER")) {
      next();
      expect_keyword("BY");
      while (true) {
        SoqlOrder o;
        const Token& t = next();
        if (t.kind != Token::word || is_reserved(t.text)) fail_unexpected(t);
        o.field = field_name(t);
        if (keyword_is(peek(), "ASC")) {
          next();
        } else if (keyword_is(peek(), "DESC")) {
          next();
          o.descending = true;
        }
        o.nulls_last = o.descending;
        if (keyword_is(peek(), "NULLS")) {
          next();
          const Token& w = next();
          if (keyword_is(w, "FIRST")) o.nulls_last = false;
          else if (keyword_is(w, "LAST")) o.nulls_last = true;
          else fail_unexpected(w);
        }
        q.order.push_back(o);
        if (peek().text != ",") break;
        next();
      }
    }
    if (keyword_is(peek(), "LIMIT")) {
      next();
      q.limit = integer();
    }
    if (keyword_is(peek(), "OFFSET")) {
      next();
      const Token& t = peek();
      q.offset = integer();
      if (*q.offset > 2000) fail(t, "NUMBER_OUTSIDE_VALID_RANGE", "Maximum SOQL offset allowed is 2000");
    }
    if (peek().kind != Token::end) fail_unexpected(peek());
    return q;
  }

 private:
  const std::string& text_;
  const std::function<const ObjectType*(const std::string&)>& find_type_;
  const ObjectType* type_ = nullptr;
  std::vector<Token> tokens_;
  std::size_t at_ = 0;

  static bool is_reserved(const std::string& w) {
    static const char* kReserved[] = {"SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "ORDER", "BY", "LIMIT",
                                      "OFFSET", "IN", "LIKE", "NULL", "TRUE", "FALSE", "ASC", "DESC", "NULLS"};
    for (const char* r : kReserved)
      if (lower(w) == lower(r)) return true;
    return false;
  }
  static bool keyword_is(const Token& t, const char* k) { return t.kind == Token::word && lower(t.text) == lower(k); }

  const Token& peek(std::size_t ahead = 0) const {
    return tokens_[std::min(at_ + ahead, tokens_.size() - 1)];
  }
  const Token& next() {
    const Token& t = tokens_[at_];
    if (at_ + 1 < tokens_.size()) ++at_;
    return t;
  }
  void expect_keyword(const char* k) {
    const Token& t = next();
    if (!keyword_is(t, k)) fail_unexpected(t);
  }

  [[noreturn]] void fail(std::size_t pos, const std::string& code, const std::string& message) const {
    std::size_t row = 1, col = 1;
    for (std::size_t i = 0; i < pos && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++row;
        col = 1;
      } else {
        ++col;
      }
    }
    std::string where = "\n" + text_ + "\n" + std::string(col > 0 ? col - 1 : 0, ' ') + "^\nERROR at Row:" +
                        std::to_string(row) + ":Column:" + std::to_string(col) + "\n";
    throw SoqlError(code, where + message);
  }
  [[noreturn]] void fail(const Token& t, const std::string& code, const std::string& message) const {
    fail(t.pos, code, message);
  }
  [[noreturn]] void fail_unexpected(const Token& t) const {
    fail(t, "MALFORMED_QUERY", "unexpected token: " + (t.kind == Token::end ? std::string("<EOF>") : t.text));
  }

  std::int64_t integer() {
    const Token& t = next();
    if (t.kind != Token::number || t.text.find('.') != std::string::npos || t.text[0] == '-') fail_unexpected(t);
    return std::stoll(t.text);
  }

  std::string field_name(const Token& t) const {
    if (t.text.find('.') != std::string::npos)
      fail(t, "INVALID_FIELD",
           "Didn't understand relationship '" + t.text.substr(0, t.text.find('.')) +
               "' in field path. (The emulator does not follow relationships.)");
    const FieldDef* d = type_->field(t.text);
    if (d == nullptr)
      fail(t, "INVALID_FIELD",
           "No such column '" + t.text + "' on entity '" + type_->name +
               "'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field "
               "name. Please reference your WSDL or the describe call for the appropriate names.");
    return d->name;
  }

  void tokenize() {
    std::size_t i = 0;
    const std::string& s = text_;
    while (true) {
      while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
      Token t;
      t.pos = i;
      if (i >= s.size()) {
        tokens_.push_back(t);
        return;
      }
      const char c = s[i];
      if (c == '\'') {
        t.kind = Token::string;
        ++i;
        bool closed = false;
        while (i < s.size()) {
          if (s[i] == '\\') {
            if (i + 1 >= s.size()) break;
            const char e = s[i + 1];
            switch (e) {
              case 'n': t.text += '\n'; break;
              case 't': t.text += '\t'; break;
              case 'r': t.text += '\r'; break;
              case 'b': t.text += '\b'; break;
              case 'f': t.text += '\f'; break;
              case '\'': case '"': case '\\': t.text += e; break;
              case '%': case '_': t.text += '\\'; t.text += e; break;  // kept for LIKE
              default: fail(i, "MALFORMED_QUERY", "Invalid string literal '" + std::string(s.substr(t.pos, i + 2 - t.pos)) + "'. Illegal character sequence '\\" + e + "' in string literal.");
            }
            i += 2;
          } else if (s[i] == '\'') {
            ++i;
            closed = true;
            break;
          } else {
            t.text += s[i++];
          }
        }
        if (!closed) fail(t.pos, "MALFORMED_QUERY", "unexpected token: " + s.substr(t.pos));
      } else if (is_digit(c) || (c == '-' && i + 1 < s.size() && is_digit(s[i + 1]))) {
        // A date (2026-01-02), a date-time (2026-01-02T03:04:05Z) or a number.
        std::size_t j = i;
        if (i + 10 <= s.size() && is_digit(s[i]) && is_digit(s[i + 3]) && s[i + 4] == '-' && s[i + 7] == '-') {
          j = i + 10;
          t.kind = Token::date;
          if (j < s.size() && s[j] == 'T') {
            t.kind = Token::datetime;
            while (j < s.size() && (is_digit(s[j]) || s[j] == 'T' || s[j] == ':' || s[j] == '.' || s[j] == '+' ||
                                    s[j] == '-' || s[j] == 'Z'))
              ++j;
          }
        } else {
          t.kind = Token::number;
          if (s[j] == '-') ++j;
          while (j < s.size() && (is_digit(s[j]) || s[j] == '.')) ++j;
        }
        t.text = s.substr(i, j - i);
        i = j;
      } else if (is_word_start(c)) {
        t.kind = Token::word;
        std::size_t j = i;
        while (j < s.size() && is_word_char(s[j])) ++j;
        t.text = s.substr(i, j - i);
        i = j;
      } else {
        t.kind = Token::symbol;
        static const char* kTwo[] = {"!=", "<>", "<=", ">="};
        bool two = false;
        for (const char* op : kTwo)
          if (s.compare(i, 2, op) == 0) two = true;
        t.text = s.substr(i, two ? 2 : 1);
        if (!two && std::string("=<>(),").find(c) == std::string::npos)
          fail(i, "MALFORMED_QUERY", "unexpected token: " + t.text);
        if (t.text == "<>") t.text = "!=";
        i += two ? 2 : 1;
      }
      tokens_.push_back(std::move(t));
    }
  }

  // expression: term { AND term } | term { OR term }; mixing needs parentheses.
  SoqlCondition expression() {
    SoqlCondition first = term();
    if (!keyword_is(peek(), "AND") && !keyword_is(peek(), "OR")) return first;
    const bool is_and = keyword_is(peek(), "AND");
    SoqlCondition group;
    group.kind = is_and ? SoqlCondition::all_of : SoqlCondition::any_of;
    group.children.push_back(std::move(first));
    while (keyword_is(peek(), "AND") || keyword_is(peek(), "OR")) {
      const Token& op = next();
      if (keyword_is(op, "AND") != is_and) fail_unexpected(op);
      group.children.push_back(term());
    }
    return group;
  }

  SoqlCondition term() {
    if (keyword_is(peek(), "NOT")) {
      next();
      SoqlCondition n;
      n.kind = SoqlCondition::negation;
      n.children.push_back(term());
      return n;
    }
    if (peek().text == "(" && peek().kind == Token::symbol) {
      next();
      SoqlCondition inner = expression();
      const Token& close = next();
      if (close.text != ")") fail_unexpected(close);
      return inner;
    }
    const Token& f = next();
    if (f.kind != Token::word || is_reserved(f.text)) fail_unexpected(f);
    SoqlCondition c;
    c.field = field_name(f);
    const FieldDef& d = *type_->field(c.field);
    const Token& op = next();
    if (keyword_is(op, "NOT") && keyword_is(peek(), "IN")) {
      next();
      c.kind = SoqlCondition::not_in;
      c.values = value_list(d);
    } else if (keyword_is(op, "IN")) {
      c.kind = SoqlCondition::in;
      c.values = value_list(d);
    } else if (keyword_is(op, "LIKE")) {
      c.kind = SoqlCondition::like;
      const Token& v = next();
      if (v.kind != Token::string) fail_unexpected(v);
      if (!text_like(d)) fail(v, "INVALID_QUERY_FILTER_OPERATOR", "invalid operator on " + d.type + " field: LIKE");
      SoqlValue sv;
      sv.kind = SoqlValue::string_kind;
      sv.text = v.text;
      c.values.push_back(sv);
    } else if (op.kind == Token::symbol && op.text != "(" && op.text != ")" && op.text != ",") {
      c.kind = SoqlCondition::compare;
      c.op = op.text;
      const Token& v = next();
      SoqlValue sv = literal(v, d);
      if (sv.kind == SoqlValue::null_value && c.op != "=" && c.op != "!=")
        fail(v, "MALFORMED_QUERY", "unexpected token: null");
      c.values.push_back(std::move(sv));
    } else {
      fail_unexpected(op);
    }
    return c;
  }

  std::vector<SoqlValue> value_list(const FieldDef& d) {
    const Token& open = next();
    if (open.text != "(") fail_unexpected(open);
    std::vector<SoqlValue> out;
    while (true) {
      out.push_back(literal(next(), d));
      const Token& t = next();
      if (t.text == ")") break;
      if (t.text != ",") fail_unexpected(t);
    }
    return out;
  }

  static bool text_like(const FieldDef& d) {
    return d.type == "string" || d.type == "email" || d.type == "phone" || d.type == "url" ||
           d.type == "textarea" || d.type == "picklist" || d.type == "id" || d.type == "reference";
  }

  [[noreturn]] void wrong_type(const Token& v, const FieldDef& d, const std::string& want, bool quoted) const {
    fail(v, "INVALID_QUERY_FILTER_OPERATOR",
         "value of filter criterion for field '" + d.name + "' must be of type " + want + " and should " +
             (quoted ? "" : "not ") + "be enclosed in quotes");
  }

  // A literal, checked against the field's type as SOQL does.
  SoqlValue literal(const Token& v, const FieldDef& d) const {
    SoqlValue out;
    if (keyword_is(v, "NULL")) return out;
    if (d.type == "id" || d.type == "reference") {
      if (v.kind != Token::string) wrong_type(v, d, "id", true);
      auto id = normalize_id(v.text);
      if (!id) fail(v, "INVALID_QUERY_FILTER_OPERATOR", "invalid ID field: " + v.text);
      out.kind = SoqlValue::string_kind;
      out.text = *id;
    } else if (text_like(d)) {
      if (v.kind != Token::string) wrong_type(v, d, "string", true);
      out.kind = SoqlValue::string_kind;
      out.text = v.text;
    } else if (d.type == "boolean") {
      if (!keyword_is(v, "TRUE") && !keyword_is(v, "FALSE")) wrong_type(v, d, "boolean", false);
      out.kind = SoqlValue::boolean_kind;
      out.boolean = keyword_is(v, "TRUE");
    } else if (d.type == "double" || d.type == "int" || d.type == "currency" || d.type == "percent") {
      if (v.kind != Token::number || !is_decimal(v.text)) wrong_type(v, d, "double", false);
      out.kind = SoqlValue::number_kind;
      out.number = std::stod(v.text);
    } else if (d.type == "date") {
      if (v.kind != Token::date || !parse_sf_date(v.text)) wrong_type(v, d, "date", false);
      out.kind = SoqlValue::date_kind;
      out.text = v.text;
    } else if (d.type == "datetime") {
      std::optional<std::int64_t> ms;
      if (v.kind == Token::datetime) ms = parse_iso_ms(v.text);
      // SOQL wants the zone: Z or +hh:mm.
      const bool zoned = v.text.find('Z') != std::string::npos || v.text.find('+', 10) != std::string::npos ||
                         v.text.find('-', 10) != std::string::npos;
      if (!ms || !zoned) wrong_type(v, d, "dateTime", false);
      out.kind = SoqlValue::datetime_kind;
      out.ms = *ms;
    } else {
      fail_unexpected(v);
    }
    return out;
  }
};

// LIKE: % any run, _ one character, \% and \_ literal; without regard to case.
bool like_match(const std::string& value, const std::string& pattern) {
  std::vector<std::pair<char, bool>> p;  // character, is a wildcard
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '\\' && i + 1 < pattern.size()) p.emplace_back(pattern[++i], false);
    else p.emplace_back(pattern[i], pattern[i] == '%' || pattern[i] == '_');
  }
  const std::string& s = value;
  std::size_t si = 0, pi = 0, star_p = std::string::npos, star_s = 0;
  while (si < s.size()) {
    if (pi < p.size() && p[pi].second && p[pi].first == '%') {
      star_p = pi++;
      star_s = si;
    } else if (pi < p.size() && ((p[pi].second && p[pi].first == '_') || (!p[pi].second && p[pi].first == s[si]))) {
      ++pi;
      ++si;
    } else if (star_p != std::string::npos) {
      pi = star_p + 1;
      si = ++star_s;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi].second && p[pi].first == '%') ++pi;
  return pi == p.size();
}

// -1, 0, 1; both non-null and of one kind.
int compare_values(const SoqlValue& a, const SoqlValue& b) {
  switch (a.kind) {
    case SoqlValue::string_kind: {
      const std::string x = lower_unicode(a.text), y = lower_unicode(b.text);
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case SoqlValue::date_kind: return a.text < b.text ? -1 : a.text > b.text ? 1 : 0;
    case SoqlValue::number_kind: return a.number < b.number ? -1 : a.number > b.number ? 1 : 0;
    case SoqlValue::boolean_kind: return a.boolean == b.boolean ? 0 : a.boolean ? 1 : -1;
    case SoqlValue::datetime_kind: return a.ms < b.ms ? -1 : a.ms > b.ms ? 1 : 0;
    case SoqlValue::null_value: break;
  }
  return 0;
}

}  // namespace

SoqlQuery parse_soql(const std::string& text, const std::function<const ObjectType*(const std::string&)>& find_type) {
  return Parser(text, find_type).parse();
}

SoqlValue soql_value_of(const ObjectType& t, const FieldDef& d, const Record& r) {
  SoqlValue v;
  if (d.name == "Id") {
    v.kind = SoqlValue::string_kind;
    v.text = r.id;
    return v;
  }
  if (d.system) {
    if (d.name == "IsDeleted") {
      v.kind = SoqlValue::boolean_kind;
      v.boolean = r.deleted;
    } else if (d.name == "CreatedDate" || d.name == "LastModifiedDate" || d.name == "SystemModstamp") {
      v.kind = SoqlValue::datetime_kind;
      v.ms = d.name == "CreatedDate" ? r.created : d.name == "LastModifiedDate" ? r.last_modified : r.system_modstamp;
    } else if (d.name == "MasterRecordId") {
      if (!r.master_record_id.empty()) {
        v.kind = SoqlValue::string_kind;
        v.text = r.master_record_id;
      }
    } else if (d.name == "CreatedById" || d.name == "LastModifiedById") {
      v.kind = SoqlValue::string_kind;
      v.text = kUserId;
    }
    // The audit fields above live on the record itself; other system fields (Name,
    // IsPersonAccount) are stored with the values.
    if (v.kind != SoqlValue::null_value || d.name == "MasterRecordId") return v;
  }
  (void)t;
  auto it = r.values.find(d.name);
  if (it == r.values.end() || it->second.is_null()) {
    if (d.type == "boolean") {
      v.kind = SoqlValue::boolean_kind;
      v.boolean = false;
    }
    return v;
  }
  const json& x = it->second;
  if (d.type == "boolean") {
    v.kind = SoqlValue::boolean_kind;
    v.boolean = x.get<bool>();
  } else if (d.type == "datetime") {
    v.kind = SoqlValue::datetime_kind;
    v.ms = x.get<std::int64_t>();
  } else if (d.type == "date") {
    v.kind = SoqlValue::date_kind;
    v.text = x.get<std::string>();
  } else if (x.is_number()) {
    v.kind = SoqlValue::number_kind;
    v.number = x.get<double>();
  } else {
    v.kind = SoqlValue::string_kind;
    v.text = x.is_string() ? x.get<std::string>() : x.dump();
  }
  return v;
}

bool soql_matches(const SoqlCondition& c, const ObjectType& t, const Record& r) {
  switch (c.kind) {
    case SoqlCondition::all_of:
      for (const auto& k : c.children)
        if (!soql_matches(k, t, r)) return false;
      return true;
    case SoqlCondition::any_of:
      for (const auto& k : c.children)
        if (soql_matches(k, t, r)) return true;
      return false;
    case SoqlCondition::negation: return !soql_matches(c.children.front(), t, r);
    default: break;
  }
  const FieldDef* d = t.field(c.field);
  if (d == nullptr) return false;
  const SoqlValue v = soql_value_of(t, *d, r);
  const bool v_null = v.kind == SoqlValue::null_value;
  if (c.kind == SoqlCondition::in || c.kind == SoqlCondition::not_in) {
    bool found = false;
    for (const auto& x : c.values)
      if (x.kind == SoqlValue::null_value ? v_null : (!v_null && compare_values(v, x) == 0)) found = true;
    return c.kind == SoqlCondition::in ? found : !found;
  }
  const SoqlValue& rhs = c.values.front();
  if (c.kind == SoqlCondition::like) return !v_null && like_match(lower_unicode(v.text), lower_unicode(rhs.text));
  if (rhs.kind == SoqlValue::null_value) return c.op == "=" ? v_null : !v_null;
  if (v_null) return c.op == "!=";
  const int cmp = compare_values(v, rhs);
  if (c.op == "=") return cmp == 0;
  if (c.op == "!=") return cmp != 0;
  if (c.op == "<") return cmp < 0;
  if (c.op == "<=") return cmp <= 0;
  if (c.op == ">") return cmp > 0;
  return cmp >= 0;  // >=
}

void soql_sort(std::vector<const Record*>& rows, const ObjectType& t, const std::vector<SoqlOrder>& order) {
  std::vector<const FieldDef*> defs;
  for (const auto& o : order) defs.push_back(t.field(o.field));
  std::stable_sort(rows.begin(), rows.end(), [&](const Record* a, const Record* b) {
    for (std::size_t i = 0; i < order.size(); ++i) {
      if (defs[i] == nullptr) continue;
      const SoqlValue x = soql_value_of(t, *defs[i], *a), y = soql_value_of(t, *defs[i], *b);
      const bool xn = x.kind == SoqlValue::null_value, yn = y.kind == SoqlValue::null_value;
      if (xn != yn) return order[i].nulls_last ? yn : xn;
      if (xn) continue;
      const int c = compare_values(x, y);
      if (c != 0) return order[i].descending ? c > 0 : c < 0;
    }
    return a->id < b->id;
  });
}

}  // namespace synctool::emulators::salesforce_detail
