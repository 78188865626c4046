// A tabular record's cells, typed, in two allocations: what a CSV file or an SQL table hands
// over, kept flat until something needs the record as a JSON object. An incremental run looks
// at most records only to find them unchanged (their key and their digest); building a JSON
// object for each (a map node, a string and often a buffer per field) and freeing it again
// cost more than the rest of that work together.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace synctool::connectors {

class Row {
 public:
  // absent: the column is left out of this row (a CSV cell that is not UTF-8), as if it were
  // not a field of the record at all. json: anything else, kept as the value itself.
  enum class Kind : std::uint8_t { absent, null, boolean, integer, real, text, json };

  // `names` are the columns' field names, sorted (std::less) and unique, shared by every row of
  // a read; cells are added in that order, one per name.
  explicit Row(std::shared_ptr<const std::vector<std::string>> names);

  void add_absent() { cells_.push_back({Kind::absent, 0, 0, {}}); }
  void add_null() { cells_.push_back({Kind::null, 0, 0, {}}); }
  void add_boolean(bool value);
  void add_integer(std::int64_t value);
  void add_real(double value);
  void add_text(std::string_view value);
  void add_json(nlohmann::json value);

  std::size_t size() const { return cells_.size(); }
  const std::string& name(std::size_t i) const { return (*names_)[i]; }
  Kind kind(std::size_t i) const { return cells_[i].kind; }
  bool boolean(std::size_t i) const { return cells_[i].scalar.boolean; }
  std::int64_t integer(std::size_t i) const { return cells_[i].scalar.integer; }
  double real(std::size_t i) const { return cells_[i].scalar.real; }
  std::string_view text(std::size_t i) const { return {text_.data() + cells_[i].offset, cells_[i].size}; }
  const nlohmann::json& json(std::size_t i) const { return json_[cells_[i].offset]; }
  // Cells that are not absent: the members the record's JSON object has.
  std::size_t present() const;

  // The cell of the field named `name`, if the row has one (absent cells included).
  std::optional<std::size_t> find(std::string_view name) const;
  // One cell as the JSON value the record's object would hold.
  nlohmann::json value(std::size_t i) const;
  // The record's fields as the JSON object a connector would otherwise have built.
  nlohmann::json to_json() const;

 private:
  struct Cell {
    Kind kind;
    std::uint32_t offset;  // into text_ (text) or json_ (json)
    std::uint32_t size;    // bytes of text
    union Scalar {
      bool boolean;
      std::int64_t integer;
      double real;
    } scalar;
  };
  std::shared_ptr<const std::vector<std::string>> names_;
  std::vector<Cell> cells_;
  std::string text_;
  std::vector<nlohmann::json> json_;
};

}  // namespace synctool::connectors
