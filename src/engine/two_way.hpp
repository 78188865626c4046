// The body of a bidirectional run (DESIGN section 4): both sides read (whole on baseline and
// full runs, else what changed since each side's own cursor) into staging tables by match key;
// then key by key, in order, each record merged three ways against its base values
// (RecordMerger), the writes sent to each side in batches of its maximum, and each chunk of
// keys committed to the state in one transaction once both sides answered.
//
// Crash safety is the one-way engine's: a create on either side is a pending intent (with its
// side) until confirmed, and a key whose intent is still there is looked up on that side
// before anything is created again; a key's base values change only when every write its merge
// decided was confirmed, so a run stopped anywhere merges again from the old base next time and
// converges (what reached one side already reads as a change made alike on both).
#pragma once

#include "engine/report.hpp"
#include "engine/runner.hpp"
#include "state/store.hpp"

namespace synctool::engine {

// Runs the pass once run_sync() has checked the objects and chosen report.kind. Throws what the
// one-way pass throws (ConnectorError, StateError, RunInterrupted) after committing what both
// sides confirmed; returns a safeguard message (and writes nothing) when a side's deletes trip
// the cap or the empty-side abort.
std::string run_two_way(const RunInputs& in, const RunOptions& options, RunReport& report,
                        state::StateStore* writable);

}  // namespace synctool::engine
