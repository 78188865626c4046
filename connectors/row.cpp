#include "connectors/row.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace synctool::connectors {

Row::Row(std::shared_ptr<const std::vector<std::string>> names) : names_(std::move(names)) {
  cells_.reserve(names_->size());
}

void Row::add_boolean(bool value) {
  Cell cell{Kind::boolean, 0, 0, {}};
  cell.scalar.boolean = value;
  cells_.push_back(cell);
}

void Row::add_integer(std::int64_t value) {
  Cell cell{Kind::integer, 0, 0, {}};
  cell.scalar.integer = value;
  cells_.push_back(cell);
}

void Row::add_real(double value) {
  Cell cell{Kind::real, 0, 0, {}};
  cell.scalar.real = value;
  cells_.push_back(cell);
}

void Row::add_text(std::string_view value) {
  constexpr std::size_t kLimit = std::numeric_limits<std::uint32_t>::max();
  if (value.size() > kLimit - text_.size()) throw std::length_error("a row holds more than 4 GiB of text");
  cells_.push_back({Kind::text, static_cast<std::uint32_t>(text_.size()), static_cast<std::uint32_t>(value.size()), {}});
  text_.append(value);
}

void Row::add_json(nlohmann::json value) {
  cells_.push_back({Kind::json, static_cast<std::uint32_t>(json_.size()), 0, {}});
  json_.push_back(std::move(value));
}

std::size_t Row::present() const {
  return static_cast<std::size_t>(
      std::count_if(cells_.begin(), cells_.end(), [](const Cell& c) { return c.kind != Kind::absent; }));
}

std::optional<std::size_t> Row::find(std::string_view name) const {
  const auto& names = *names_;
  auto it = std::lower_bound(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(cells_.size()), name,
                             [](const std::string& a, std::string_view b) { return a < b; });
  if (it == names.begin() + static_cast<std::ptrdiff_t>(cells_.size()) || *it != name) return std::nullopt;
  return static_cast<std::size_t>(it - names.begin());
}

nlohmann::json Row::value(std::size_t i) const {
  switch (kind(i)) {
    case Kind::boolean: return boolean(i);
    case Kind::integer: return integer(i);
    case Kind::real: return real(i);
    case Kind::text: return nlohmann::json::string_t(text(i));
    case Kind::json: return json(i);
    case Kind::absent:
    case Kind::null: break;
  }
  return nullptr;
}

nlohmann::json Row::to_json() const {
  nlohmann::json fields = nlohmann::json::object();
  auto& object = fields.get_ref<nlohmann::json::object_t&>();
  for (std::size_t i = 0; i < cells_.size(); ++i)
    if (kind(i) != Kind::absent) object.emplace_hint(object.end(), name(i), value(i));
  return fields;
}

}  // namespace synctool::connectors
