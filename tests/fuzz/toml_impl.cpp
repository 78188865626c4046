// toml++ compiled once, in the fuzz build's instrumentation, so that its parser is covered and
// checked by the sanitizers too. Every other source includes it with TOML_HEADER_ONLY=0, as
// the main build does against the packaged library (the same 3.3 source).
#define TOML_IMPLEMENTATION
#include <toml++/toml.h>
