#include "engine/runner.hpp"

#include "engine/applier.hpp"
#include "engine/field_check.hpp"
#include "engine/history.hpp"
#include "engine/planner.hpp"
#include "engine/source_records.hpp"
#include "engine/staged_record.hpp"
#include "engine/two_way.hpp"
#include "engine/values.hpp"
#include "state/staging.hpp"
#include "util/interrupt.hpp"
#include "util/json_path.hpp"
#include "util/unicode.hpp"

#include <cmath>
#include <condition_variable>
#include <deque>
#include <exception>
#include <fmt/format.h>
#include <mutex>
#include <thread>
#include <unordered_set>

namespace synctool::engine {

namespace {

RunKind choose_kind(const RunInputs& in, const RunOptions& options) {
  const auto& store = in.store;
  if (options.resync || !store.get_meta(state::meta::baseline_done)) return RunKind::baseline;
  if (options.full) return RunKind::full;
  if (const auto& every = in.sync.spec().full_sync_every_ms) {
    auto last = store.get_meta(state::meta::last_full_sync);
    std::optional<std::int64_t> last_ms;
    if (last) last_ms = util::parse_iso8601(*last);
    const std::int64_t now = in.clock.now_ms();
    // A last full run stamped in the future (the clock was set back since) is not trusted:
    // waiting for it would stop full reconciliation until the clock catches up.
    if (!last_ms.has_value()) return RunKind::full;
    const std::int64_t last_full = last_ms.value();
    if (last_full > now || last_full + *every <= now) return RunKind::full;
  }
  return RunKind::incremental;
}

// The reverse indexes (state::IdIndexes) this sync's runs look keys up in. A mirror finds the
// key of a source record that may arrive without its match field: a deleted record (a system
// with tombstones or soft deletes reports it by id) or one the filter now leaves out. Nothing
// else looks a key up by id, so the state does not pay to keep an index per record.
state::IdIndexes needed_indexes(const CompiledSync& sync, const connectors::Capabilities& source_caps) {
  const auto& spec = sync.spec();
  const bool mirror = spec.mode == spec::Mode::mirror && spec.deletes.propagate != spec::DeletePropagation::ignore;
  const bool by_id = source_caps.tombstones || source_caps.archive || !sync.filter().fields().empty();
  return {mirror && by_id, false};
}

// A source record's name in messages: its id, or where it was read when it has none.
std::string identity_of(const connectors::Record& record) { return record.id.empty() ? record.origin : record.id; }

// What can be worked out from a source record alone (no state, no staging): its key, whether
// the filter takes it, its digest. Read in the background, this is done on the reading thread.
struct PreparedRecord {
  std::optional<std::string> key;
  std::string key_problem;  // why there is no key, where the mapper can say
  bool excluded = false;    // the filter leaves it out
  std::uint64_t digest = 0;
  // Mapped (and checked against the schema) already, where every record will be: on baseline
  // and full runs, which do not trust digests.
  bool mapped = false;
  nlohmann::json values;
  std::optional<std::string> violation;
};

class SourceStager {
 public:
  SourceStager(const RunInputs& in, SourceRecords& staging, RunReport& report, Applier& applier, bool keys_by_id,
               bool trust_source_digests)
      : in_(in), staging_(staging), report_(report), applier_(applier), keys_by_id_(keys_by_id),
        trust_source_digests_(trust_source_digests), any_failed_(in.store.failed_count() > 0),
        any_pending_(in.store.pending_count() > 0) {}

  // Safe on any thread: it reads only the compiled sync (and changes only `record`). A record
  // read as a row keeps it while its key and digest are all that is needed: an incremental
  // run of an unfiltered sync builds fields only for the records it finds changed.
  PreparedRecord prepare(connectors::Record& record) const {
    PreparedRecord prepared;
    if (record.row && (record.deleted || !in_.sync.filter().matches_everything())) connectors::take_row_into_fields(record);
    if (record.deleted) return prepared;  // found by id in add(), which may need the state
    if (record.row) {
      prepared.key = in_.sync.mapper().source_key(*record.row, &prepared.key_problem);
    } else {
      prepared.key = in_.sync.mapper().source_key(record.fields, &prepared.key_problem);
      prepared.excluded = record.problem.empty() && !in_.sync.filter().matches(record.fields);
    }
    if (prepared.key && record.problem.empty() && !prepared.excluded) {
      prepared.digest = record.row ? source_digest(in_.sync.mapping_seed(), *record.row)
                                   : source_digest(in_.sync.mapping_seed(), record.fields);
      if (!trust_source_digests_) map(record, *prepared.key, prepared);
    }
    return prepared;
  }

  void add(connectors::Record& record) { add(record, prepare(record)); }

  void add(connectors::Record& record, PreparedRecord&& prepared) {
    ++report_.source.read;
    const auto& mapper = in_.sync.mapper();
    StagedRecord staged;
    staged.id = record.id;
    staged.origin = record.origin;
    staged.modified = record.modified_at.value_or("");
    if (record.deleted) {
      std::optional<std::string> key;
      if (keys_by_id_) key = in_.store.key_for_source_id(record.id);
      if (!key) key = mapper.source_key(record.fields);
      if (!key) return;  // never synced: nothing to delete
      staged.state = StagedRecord::State::deleted;
      staging_.stage(*key, staged);
      return;
    }
    auto& key = prepared.key;
    if (prepared.excluded) {
      if (!key && keys_by_id_) key = in_.store.key_for_source_id(record.id);
      if (!key) return;
      staged.state = StagedRecord::State::excluded;
      staging_.stage(*key, staged);
      return;
    }
    if (!key) {
      // Without a key the record cannot be staged; it is rejected here and kept among the
      // failed rows by its source id until the source fills in the field.
      Action reject;
      reject.kind = Action::Kind::reject;
      reject.source_id = record.id;
      reject.origin = record.origin;
      if (!record.problem.empty())
        reject.reason = record.problem;
      else if (!prepared.key_problem.empty())
        reject.reason = prepared.key_problem;
      else
        reject.reason = "no value in the match field '" + in_.sync.spec().match.source + "'";
      const std::string identity = identity_of(record);
      reject.retry = any_failed_ && in_.store.get_failed(state::unkeyed_failure_key(identity)).has_value();
      unkeyed_.insert(identity);
      applier_.add(std::move(reject));
      return;
    }
    if (!record.problem.empty()) {
      staged.state = StagedRecord::State::rejected;
      staged.reason = record.problem;
      staging_.stage(*key, staged);
      return;
    }
    staged.source_digest = prepared.digest;
    if (trust_source_digests_ && in_.store.source_unchanged(*key, record.id, staged.source_digest) &&
        !(any_failed_ && in_.store.get_failed(*key)) && !(any_pending_ && in_.store.get_pending(*key))) {
      // The record the state's base values came from, read again as it was: not mapped,
      // validated or staged (the destination is not compared on these runs). A key with a
      // failed row goes the long way, so that the plan clears it.
      ++known_unchanged_;
      staging_.add_unchanged(*key, record.id, record.origin);
      return;
    }
    if (!prepared.mapped) map(record, *key, prepared);
    if (prepared.violation) {
      staged.state = StagedRecord::State::rejected;
      staged.reason = std::move(*prepared.violation);
    }
    staged.values = std::move(prepared.values);
    staging_.stage(*key, staged);
  }

  void map(const connectors::Record& record, const std::string& key, PreparedRecord& prepared) const {
    prepared.values = record.row ? in_.sync.mapper().map(*record.row) : in_.sync.mapper().map(record.fields);
    // The destination's match field holds the normalized key, so lookups by it are exact.
    util::json_set_path(prepared.values, in_.sync.spec().match.destination, key);
    prepared.violation = in_.sync.schema().validate(prepared.values);
    prepared.mapped = true;
  }

  // Source ids (or origins) of the records rejected for having no key in this run.
  const std::unordered_set<std::string>& unkeyed() const { return unkeyed_; }
  // Records known unchanged by their source digest alone (kept out of the staging table unless
  // another record shared their key).
  std::size_t known_unchanged() const { return known_unchanged_; }

 private:
  const RunInputs& in_;
  SourceRecords& staging_;
  RunReport& report_;
  Applier& applier_;
  bool keys_by_id_;  // deleted and left-out records are found by their source id (a mirror's deletes)
  // Incremental runs only: baseline and full runs compare every record with the destination.
  bool trust_source_digests_;
  std::size_t known_unchanged_ = 0;
  bool any_failed_;
  bool any_pending_;  // a key with an intent goes the long way: the plan resolves it
  std::unordered_set<std::string> unkeyed_;
};

// Reads `object` on a second thread, which also runs `prepare` on each page, while this one
// hands the prepared pages to `consume`, a few pages behind: parsing the source and staging it
// run on two cores. Whatever either side throws ends both (the reader stops at its next page)
// and is rethrown here, the consumer's first.
template <typename Prepared>
void read_beside(connectors::Connector& source, const connectors::ObjectRef& object,
                 const connectors::ReadRequest& request, const std::function<Prepared(connectors::Page&&)>& prepare,
                 const std::function<void(Prepared&&)>& consume) {
  constexpr std::size_t kPagesAhead = 1;
  struct Cancelled {};
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<Prepared> pages;
  bool done = false, cancelled = false;
  std::exception_ptr reader_error;

  std::thread reader([&] {
    try {
      source.read(object, request, [&](connectors::Page&& read) {
        Prepared page = prepare(std::move(read));
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return cancelled || pages.size() < kPagesAhead; });
        if (cancelled) throw Cancelled{};
        pages.push_back(std::move(page));
        changed.notify_all();
      });
    } catch (const Cancelled&) {
    } catch (...) {
      reader_error = std::current_exception();
    }
    std::lock_guard lock(mutex);
    done = true;
    changed.notify_all();
  });
  auto stop_reader = [&] {
    {
      std::lock_guard lock(mutex);
      cancelled = true;
      changed.notify_all();
    }
    reader.join();
  };

  try {
    for (;;) {
      Prepared page;
      {
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return done || !pages.empty(); });
        if (pages.empty()) break;  // done, and everything read was consumed
        page = std::move(pages.front());
        pages.pop_front();
        changed.notify_all();
      }
      consume(std::move(page));
    }
  } catch (...) {
    stop_reader();
    throw;
  }
  stop_reader();
  if (reader_error) std::rethrow_exception(reader_error);
}

std::vector<std::string> failed_source_ids(const state::StateStore& store, const state::Staging& staged) {
  std::vector<std::string> ids;
  store.for_each_failed([&](const std::string& key, const state::FailedRow& row) {
    if (row.source_id.empty()) return true;
    if (state::is_unkeyed_failure_key(key) || !staged.contains(key)) ids.push_back(row.source_id);
    return true;
  });
  return ids;
}

std::string safeguard_message(const RunInputs& in, const RunReport& report, std::size_t deletes, std::size_t live,
                              std::size_t excluded, std::size_t population, bool source_complete) {
  const auto& d = in.sync.spec().deletes;
  if (source_complete && live == 0 && deletes > 0) {
    std::string what =
        report.source.read == 0 ? "the source returned no records"
        : excluded > 0 ? fmt::format("the filter matched none of the {} records the source returned", report.source.read)
                       : fmt::format("none of the {} records the source returned can be synced", report.source.read);
    return fmt::format(
        "{}; refusing to delete {} destination record(s) (an empty source is usually an outage or a wrong "
        "filter; run with --force if it is really meant to be empty)",
        what, deletes);
  }
  double cap = d.max_is_percent ? std::floor(d.max_value * static_cast<double>(population) / 100.0) : d.max_value;
  if (static_cast<double>(deletes) > cap)
    return fmt::format(
        "{} deletes planned, more than the limit of {} (deletes.max = {}{}, of {} records); nothing was "
        "deleted; check the source, raise deletes.max or run with --force",
        deletes, static_cast<std::uint64_t>(cap), d.max_value, d.max_is_percent ? "%" : "", population);
  return "";
}

// What is stored of a report: secrets masked in every string, and text that is not UTF-8
// (a value quoted from a broken CSV row) repaired, so that the run history can always be
// written as JSON.
void clean_strings(nlohmann::json& value, const std::function<std::string(std::string_view)>& redact) {
  if (value.is_string()) {
    auto& text = value.get_ref<std::string&>();
    if (!util::valid_utf8(text)) text = util::repair_utf8(text);
    if (redact) text = redact(text);
  } else if (value.is_structured()) {
    for (auto& item : value) clean_strings(item, redact);
  }
}

// A run that ends early keeps what the destination confirmed (the applier commits state in
// groups). If even that fails, the run keeps its own error and says so after it: the next run
// finds those records at the destination (lookups, pending intents) instead.
std::string keep_confirmed(Applier& applier, std::string error) {
  try {
    applier.commit_confirmed();
  } catch (const std::exception& e) {
    error += std::string("; what the destination confirmed could not be committed to the state either (") +
             e.what() + "): the next run matches those records again";
  }
  return error;
}

std::uint64_t report_problems(const RunReport& report) {
  return report.destination.rejected + report.destination.failed + report.source.rejected + report.source.failed;
}

std::string object_label(const connectors::Connector& connector, const std::string& connection,
                         const connectors::ObjectRef& object) {
  return connector.type() + " connection '" + connection + "', object '" + object.name + "'";
}

}  // namespace

RunReport run_sync(const RunInputs& in, const RunOptions& options) {
  RunReport report;
  const auto& sync = in.sync.spec();
  report.sync = sync.name;
  report.dry_run = options.dry_run;
  report.direction = spec::to_string(sync.direction);
  report.mode = spec::to_string(sync.mode);
  report.started_ms = in.clock.now_ms();
  report.started_at = util::format_iso8601(report.started_ms);
  auto started_steady = in.clock.steady_ms();
  state::StateStore* writable = options.dry_run ? nullptr : &in.store;
  // The sequence number the run will be recorded under; its writes go into the history under it.
  std::string history_problem;
  if (writable) {
    try {
      report.run = reserve_run_sequence(in.store, sync.name);
    } catch (const state::StateError& e) {
      history_problem = e.what();
    }
  }

  auto finish = [&](int code, std::string error) {
    report.exit_code = code;
    report.error = std::move(error);
    report.duration_s = static_cast<double>(in.clock.steady_ms() - started_steady) / 1000.0;
    for (const auto& [connector, connection] : {std::pair{&in.source, &sync.source.connection},
                                                std::pair{&in.destination, &sync.destination.connection}})
      if (auto stats = connector->request_stats())
        report.add_requests(*connection, stats->requests, stats->throttled, stats->retries);
    if (in.log) in.log(fmt::format("finished in {:.2f} s, exit {}", report.duration_s, report.exit_code));
    if (writable) {
      try {
        auto stored = report.to_json();
        clean_strings(stored, in.redact);
        auto txn = writable->begin();
        txn->put_run(report.started_ms, stored);
        txn->prune_history(history_cutoff_ms(sync, in.clock.now_ms()));
        txn->commit();
      } catch (const state::StateError& e) {
        if (report.error.empty()) report.error = std::string("cannot record the run: ") + e.what();
        if (report.exit_code == exit_code::ok || report.exit_code == exit_code::rows_failed)
          report.exit_code = exit_code::local_failure;
      } catch (const std::exception& e) {
        if (report.error.empty()) report.error = std::string("cannot record the run: ") + e.what();
        if (report.exit_code == exit_code::ok || report.exit_code == exit_code::rows_failed)
          report.exit_code = exit_code::connection;
      }
    }
    return report;
  };

  auto show_progress = [&](const char* phase, std::uint64_t decided, std::uint64_t total) {
    if (!in.progress) return;
    RunProgress progress;
    progress.phase = phase;
    progress.read = report.source.read + report.destination.read;
    progress.decided = decided;
    progress.written = writes_confirmed(report);
    progress.total = total;
    in.progress(progress);
  };

  const auto& source_object = in.sync.source_object();
  const auto& destination_object = in.sync.destination_object();
  auto source_caps = in.source.capabilities(source_object);
  auto destination_caps = in.destination.capabilities(destination_object);
  Applier applier({in.sync, writable, in.destination, destination_caps, in.clock, report, in.observer, in.redact,
                   in.log, writable && keeps_history(sync) ? report.run : 0});

  try {
    if (!history_problem.empty()) throw state::StateError(history_problem);
    auto stored_identity = in.store.get_meta(state::meta::identity_hash);
    if (stored_identity && *stored_identity != sync.identity_hash() && !options.resync) {
      report.kind = RunKind::incremental;
      return finish(exit_code::resync_needed,
                    "the match key or the synced objects changed since the last run, so the stored links no "
                    "longer fit; run again with --resync to match records afresh");
    }
    report.kind = choose_kind(in, options);

    // 0. Both systems answer, with these credentials, for these objects, and have every field
    //    the sync names: checked on every run, also when nothing turns out to need writing.
    in.source.probe(source_object);
    in.destination.probe(destination_object);
    auto problems = field_problems(in.sync, in.source.describe(source_object), in.destination.describe(destination_object),
                                   object_label(in.source, sync.source.connection, source_object),
                                   object_label(in.destination, sync.destination.connection, destination_object));
    if (!problems.empty()) {
      std::string message;
      for (auto p : problems) {
        if (in.show_file) p.where.file = in.show_file(p.where.file);
        message += (message.empty() ? "" : "\n") + p.to_string();
      }
      return finish(exit_code::usage, message);
    }

    if (options.resync && writable) {
      auto txn = writable->begin();
      txn->clear_sync_state();
      txn->commit();
    }

    if (sync.direction == spec::Direction::bidirectional) {
      auto message = run_two_way(in, options, report, writable);
      if (!message.empty()) return finish(exit_code::safeguard, message);
      return finish(report.new_problems > 0 || (options.strict && report_problems(report) > 0) ? exit_code::rows_failed
                                                                                               : exit_code::ok,
                    "");
    }

    const auto indexes = needed_indexes(in.sync, source_caps);
    if (writable && in.store.id_indexes() != indexes) {
      auto txn = writable->begin();
      txn->keep_id_indexes(indexes);
      txn->commit();
    }

    // 1. Stage the source.
    auto source_staging = std::make_unique<SourceRecords>(
        in.scratch_dir, source_caps.unique_ids, report.kind == RunKind::incremental ? in.store.link_count() + 1 : 0);
    SourceStager stager(in, *source_staging, report, applier, indexes.source, report.kind == RunKind::incremental);
    connectors::ReadRequest request;
    request.fields = in.sync.mapper().source_read_fields(in.sync.filter().fields());
    request.rows = true;  // SourceStager takes the fields out of a row only where it needs them
    auto cursor = in.store.get_meta(state::meta::source_cursor);
    if (report.kind == RunKind::incremental && source_caps.incremental_read && cursor) request.since = *cursor;
    bool source_complete = !request.since.has_value();
    if (in.log)
      in.log(std::string(to_string(report.kind)) + " run: reading the source " +
             (request.since ? "changed since " + *request.since : std::string("in full")));
    std::string last_cursor;
    auto stage_page = [&](connectors::Page&& page) {
      for (auto& record : page.records) stager.add(record);
      if (!page.cursor.empty()) last_cursor = page.cursor;
      show_progress("reading", 0, 0);
      stop_if_requested();
    };
    if (source_caps.read_in_background) {
      // Smaller pages: three are alive at a time (read, waiting, staged) instead of one.
      if (request.page_size == 0) request.page_size = 1000;
      struct PreparedPage {
        connectors::Page page;
        std::vector<PreparedRecord> records;
      };
      read_beside<PreparedPage>(
          in.source, source_object, request,
          [&stager](connectors::Page&& page) {
            PreparedPage prepared{std::move(page), {}};
            prepared.records.reserve(prepared.page.records.size());
            for (auto& record : prepared.page.records) prepared.records.push_back(stager.prepare(record));
            return prepared;
          },
          [&](PreparedPage&& prepared) {
            auto& records = prepared.page.records;
            for (std::size_t i = 0; i < records.size(); ++i) stager.add(records[i], std::move(prepared.records[i]));
            if (!prepared.page.cursor.empty()) last_cursor = prepared.page.cursor;
            show_progress("reading", 0, 0);
            stop_if_requested();
          });
    } else {
      in.source.read(source_object, request, stage_page);
    }
    // Rows that failed before are tried again even though the cursor has moved past them.
    std::unordered_set<std::string> retried_unkeyed;
    if (!source_complete) {
      auto ids = failed_source_ids(in.store, *source_staging);
      retried_unkeyed.insert(ids.begin(), ids.end());
      std::size_t chunk = std::max<std::size_t>(1, source_caps.max_lookup);
      for (std::size_t i = 0; i < ids.size(); i += chunk) {
        std::vector<std::string> part(ids.begin() + static_cast<std::ptrdiff_t>(i),
                                      ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), i + chunk)));
        for (auto& record : in.source.lookup(source_object, connectors::kNativeIdField, part)) stager.add(record);
        stop_if_requested();
      }
    }
    source_staging->seal();
    if (in.log)
      in.log("staged " + std::to_string(source_staging->size()) + " source keys from " +
             std::to_string(report.source.read) + " records (" + std::to_string(stager.known_unchanged()) +
             " known unchanged by their source digest)");

    // 2. On baseline and full runs, stage the whole destination: matching and drift repair
    //    then compare with what is really there.
    std::unique_ptr<state::Staging> destination_staging;
    if (report.kind != RunKind::incremental) {
      destination_staging = state::make_disk_staging(in.scratch_dir);
      const auto& mapper = in.sync.mapper();
      connectors::ReadRequest all;
      all.fields = in.sync.destination_read_fields();
      in.destination.read(destination_object, all, [&](connectors::Page&& page) {
        for (auto& record : page.records) {
          ++report.destination.read;
          if (record.deleted) continue;
          auto key = mapper.destination_key(record.fields);
          if (!key) continue;  // cannot be matched; a mirror never deletes what it cannot identify
          StagedRecord staged;
          staged.id = std::move(record.id);
          staged.origin = std::move(record.origin);
          staged.values = in.sync.project_destination(record.fields);
          if (record.modified_at) staged.modified = std::move(*record.modified_at);
          add_staged(*destination_staging, *key, staged, destination_caps.unique_ids);
        }
        show_progress("reading", 0, 0);
        stop_if_requested();
      });
      destination_staging->seal();
      if (in.log) in.log("read " + std::to_string(report.destination.read) + " destination records");
    }

    Planner planner({in.sync, in.store, in.destination, destination_caps, *source_staging, destination_staging.get(),
                     source_complete, in.clock, in.log, [&applier] { applier.settle(); }});

    // 3. Safeguards, before anything is written.
    if (sync.mode == spec::Mode::mirror && !options.force) {
      std::size_t deletes = planner.count_deletes();
      if (deletes > 0) {
        std::size_t live = source_staging->unstaged_unchanged(), excluded = 0;
        source_staging->for_each([&](const std::string&, std::string_view bytes) {
          auto state = StagedRecord::decode_state(bytes);
          if (state == StagedRecord::State::excluded)
            ++excluded;
          else if (state != StagedRecord::State::deleted)
            ++live;
          return true;
        });
        std::size_t population = std::max(in.store.link_count(), destination_staging ? destination_staging->size() : 0);
        auto message = safeguard_message(in, report, deletes, live, excluded, population, source_complete);
        if (!message.empty()) {
          applier.commit_confirmed();
          return finish(exit_code::safeguard, message);
        }
      }
    }

    // 4. Plan and apply.
    if (in.log) in.log("planning and applying");
    const std::uint64_t to_decide = source_staging->size();
    std::uint64_t decided = 0;
    show_progress("writing", 0, to_decide);
    planner.plan([&](Action&& action) {
      applier.add(std::move(action));
      // Every 256 records: a progress line needs no more, and the call costs nothing then.
      if ((++decided & 0xff) == 0) show_progress("writing", decided, to_decide);
    });
    applier.finish();
    report.destination.unchanged += source_staging->unstaged_unchanged();

    // 5. Every record read is now applied or recorded as failed: the cursor may advance.
    if (writable) {
      auto txn = writable->begin();
      if (source_caps.incremental_read && !last_cursor.empty()) {
        txn->set_meta(state::meta::source_cursor, last_cursor);
        if (in.log) in.log("source cursor advanced to " + last_cursor);
      }
      txn->set_meta(state::meta::identity_hash, sync.identity_hash());
      txn->set_meta(state::meta::baseline_done, "1");
      txn->set_meta(state::meta::last_run, report.started_at);
      if (report.kind != RunKind::incremental) txn->set_meta(state::meta::last_full_sync, report.started_at);
      if (source_complete) {
        // Intents for records the complete source no longer has can never be resolved.
        std::vector<std::string> stale;
        in.store.for_each_pending([&](const std::string& key, const state::PendingIntent&) {
          if (!source_staging->contains(key)) stale.push_back(key);
          return true;
        });
        for (const auto& key : stale) txn->erase_pending(key);
      }
      // A record rejected for having no key that was read again with one (or that the source
      // no longer has) is no longer a failed row.
      std::vector<std::string> resolved;
      in.store.for_each_failed([&](const std::string& key, const state::FailedRow& row) {
        if (state::is_unkeyed_failure_key(key)) {
          std::string identity = key.substr(1);
          bool looked_at = source_complete || retried_unkeyed.contains(row.source_id);
          if (looked_at && !stager.unkeyed().contains(identity)) resolved.push_back(key);
        } else if (destination_staging && !row.delete_id.empty() && !destination_staging->contains(key) &&
                   !source_staging->contains(key)) {
          resolved.push_back(key);  // a delete that failed before, whose record neither side has any more
        }
        return true;
      });
      for (const auto& key : resolved) txn->erase_failed(key);
      txn->commit();
    }
  } catch (const RunInterrupted& e) {
    return finish(util::exit_code_for_signal(e.signal()), keep_confirmed(applier, e.what()));
  } catch (const state::StateError& e) {
    return finish(exit_code::local_failure, e.what());
  } catch (const connectors::ConnectorError& e) {
    return finish(exit_code::connection, keep_confirmed(applier, e.what()));
  } catch (const std::exception& e) {
    return finish(exit_code::connection, keep_confirmed(applier, e.what()));
  }

  // Rows that keep failing run after run are listed but do not alert again (exit 0) unless
  // --strict: only problems this run found new make it exit 1.
  bool alert = report.new_problems > 0 || (options.strict && report_problems(report) > 0);
  return finish(alert ? exit_code::rows_failed : exit_code::ok, "");
}

}  // namespace synctool::engine
