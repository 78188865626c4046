// PostgreSQL's text output -> JSON values (connectors/postgres/postgres_values): the first
// byte picks how the column is read (integer, number, boolean, json, timestamptz, timestamp,
// bytea, text), the rest is the server's text for one value.
//
// Nothing is documented to throw. Checked besides: a number is finite (JSON has no NaN or
// infinity), and iso_timestamp either leaves the text unchanged or gives "YYYY-MM-DDTHH:MM:SS...".
#include "fuzz_support.hpp"

#include "connectors/postgres/postgres_values.hpp"

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

  for (bool fixed : {false, true}) {
    std::string iso = pg::iso_timestamp(text, fixed);
    if (iso == text) continue;
    if (iso.size() < 19 || iso[10] != 'T')
      fuzz::violated(kTarget, "iso_timestamp('" + std::string(text) + "') = '" + iso + "'");
  }
  return 0;
}
