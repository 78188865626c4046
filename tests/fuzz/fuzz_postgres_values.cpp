// PostgreSQL's text output -> JSON values (connectors/postgres/postgres_values): the first
// byte picks how the column is read (integer, number, boolean, json, timestamptz, timestamp,
// bytea, text), the rest is the server's text for one value.
//
// Nothing is documented to throw. Checked besides: a number is finite (JSON has no NaN or
// infinity) and exact by the value model (an integer or double whose decimal is the text's
// canonical decimal, else that canonical decimal as text, which no double holds); iso_timestamp
// either leaves the text unchanged or gives "YYYY-MM-DDTHH:MM:SS..."; column_holds_value
// agrees with double_holds for double precision and never takes a fraction longer than a
// numeric's scale.
#include "fuzz_support.hpp"

#include "connectors/postgres/postgres_values.hpp"
#include "util/decimal.hpp"

#include <cmath>
#include <iterator>

using namespace synctool;
namespace pg = connectors::postgres;

namespace {

constexpr std::string_view kTarget = "fuzz_postgres_values";

constexpr pg::ValueKind kKinds[] = {pg::ValueKind::integer, pg::ValueKind::number,      pg::ValueKind::boolean,
                                    pg::ValueKind::json,    pg::ValueKind::timestamptz, pg::ValueKind::timestamp,
                                    pg::ValueKind::bytea,   pg::ValueKind::text};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  pg::ValueKind kind = kKinds[data[0] % std::size(kKinds)];
  std::string_view text = fuzz::as_text(data + 1, size - 1);
  nlohmann::json value = pg::to_json(kind, text);
  (void)value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (value.is_number_float() && !std::isfinite(value.get<double>()))
    fuzz::violated(kTarget, "a JSON number that is not finite from '" + std::string(text) + "'");

  if (kind == pg::ValueKind::number || kind == pg::ValueKind::integer) {
    if (auto canonical = util::canonical_decimal(text)) {
      std::string got;
      if (value.is_number_integer()) got = value.dump();
      else if (value.is_number_float()) got = util::canonical_decimal(value.get<double>()).value_or("?");
      else if (value.is_string()) got = value.get<std::string>();
      if (got != *canonical)
        fuzz::violated(kTarget, "number '" + std::string(text) + "' read as " + value.dump() + ", not " + *canonical);
      if (value.is_string() && util::double_holds(*canonical))
        fuzz::violated(kTarget, "'" + std::string(text) + "' stayed text though a double holds it");
    }
    const nlohmann::json given = std::string(text);
    if (auto canonical = util::canonical_decimal(text);
        canonical && pg::column_holds_value(pg::oid::float8, -1, given) != util::double_holds(*canonical))
      fuzz::violated(kTarget, "double precision and '" + std::string(text) + "': column_holds_value disagrees");
    const int scale = data[0] % 5;
    const int typmod = ((12 << 16) | scale) + 4;
    if (pg::column_holds_value(pg::oid::numeric, typmod, given)) {
      if (auto canonical = util::canonical_decimal(text); canonical && canonical->find('.') != std::string::npos &&
                                                          canonical->size() - canonical->find('.') - 1 >
                                                              static_cast<std::size_t>(scale))
        fuzz::violated(kTarget, "numeric(12," + std::to_string(scale) + ") said to hold '" + std::string(text) + "'");
    }
  }

  for (bool fixed : {false, true}) {
    std::string iso = pg::iso_timestamp(text, fixed);
    if (iso == text) continue;
    if (iso.size() < 19 || iso[10] != 'T')
      fuzz::violated(kTarget, "iso_timestamp('" + std::string(text) + "') = '" + iso + "'");
  }
  return 0;
}
