#include "util/strings.hpp"

#include <catch2/catch.hpp>

using synctool::util::squeeze;

TEST_CASE("squeeze makes one short line of a message", "[util]") {
  CHECK(squeeze("  a \n\t b  c ", 100) == "a b c");
  CHECK(squeeze("abcdefghij", 4) == "abcd...");
  // Never cuts inside a UTF-8 sequence: "é" is two bytes.
  CHECK(squeeze("abé", 3) == "ab...");
  CHECK(squeeze("", 10).empty());
}
