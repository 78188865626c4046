#include "state/memory_store.hpp"

#include <map>
#include <stdexcept>
#include <utility>

namespace synctool::state {

namespace {

struct Data {
  std::map<std::string, Link> links;
  std::map<std::string, std::string> source_ids;
  std::map<std::string, std::string> destination_ids;
  std::map<std::string, BaseValue> base;
  std::map<std::string, PendingIntent> pending;
  std::map<std::string, FailedRow> failed;
  std::map<std::string, Conflict> conflicts;
  std::map<std::string, std::string> meta;
  // By run sequence number, as the LMDB store keys them.
  std::map<std::uint64_t, nlohmann::json> runs;
  std::map<std::pair<std::uint64_t, std::string>, HistoryEntry> history;
  std::map<std::uint64_t, SpooledDelivery> spool;
  std::map<std::string, std::pair<std::uint64_t, std::int64_t>> delivery_ids;  // -> sequence, time
  std::map<std::string, nlohmann::json> pushed;
  IdIndexes indexes;
};

// Same rule as the LMDB store, so engine tests see the same failure.
void require_key(const std::string& key) {
  if (key.empty()) throw std::invalid_argument("state: a key must not be empty");
}

template <typename T>
std::optional<T> find(const std::map<std::string, T>& m, const std::string& key) {
  auto it = m.find(key);
  if (it == m.end()) return std::nullopt;
  return it->second;
}

template <typename T>
void scan(const std::map<std::string, T>& m, const std::function<bool(const std::string&, const T&)>& fn) {
  // Iterate a snapshot, as the LMDB store does, so a callback may commit.
  auto copy = m;
  for (const auto& [key, value] : copy)
    if (!fn(key, value)) return;
}

// Removes id -> key, unless the id has since been linked to another key.
void drop_reverse(std::map<std::string, std::string>& reverse, const std::string& id, const std::string& key) {
  auto it = reverse.find(id);
  if (it != reverse.end() && it->second == key) reverse.erase(it);
}

// Buffers changes as a log replayed onto the store's data at commit, so readers see nothing
// before commit and each change sees the effect of the previous ones.
class MemoryWriteTxn final : public WriteTxn {
 public:
  MemoryWriteTxn(Data& data, bool& writing, std::vector<std::size_t>* commit_sizes)
      : data_(data), writing_(writing), commit_sizes_(commit_sizes) {
    writing_ = true;
  }
  ~MemoryWriteTxn() override {
    if (!done_) writing_ = false;
  }
  MemoryWriteTxn(const MemoryWriteTxn&) = delete;
  MemoryWriteTxn& operator=(const MemoryWriteTxn&) = delete;

  void put_link(const std::string& key, const Link& link) override {
    require_key(key);
    log([key, link](Data& d) { apply_link(d, key, link); });
  }
  void erase_link(const std::string& key) override {
    require_key(key);
    log([key](Data& d) { apply_erase_link(d, key); });
  }
  // One change, as the LMDB store writes one record.
  void put_record(const std::string& key, const Link& link, const BaseView& view) override {
    require_key(key);
    log([key, link, base = BaseValue{view.values, std::string(view.hash), std::string(view.source_modified),
                                           std::string(view.destination_modified), view.source_digest}](Data& d) {
      apply_link(d, key, link);
      d.base[key] = base;
    });
  }
  void erase_record(const std::string& key) override {
    require_key(key);
    log([key](Data& d) {
      apply_erase_link(d, key);
      d.base.erase(key);
    });
  }
  void put_base(const std::string& key, const BaseValue& base) override {
    require_key(key);
    log([key, base](Data& d) { d.base[key] = base; });
  }
  void erase_base(const std::string& key) override {
    require_key(key);
    log([key](Data& d) { d.base.erase(key); });
  }
  void set_source_digest(const std::string& key, std::uint64_t digest) override {
    require_key(key);
    log([key, digest](Data& d) {
      if (auto it = d.base.find(key); it != d.base.end()) it->second.source_digest = digest;
    });
  }
  void keep_id_indexes(IdIndexes wanted) override {
    log([wanted](Data& d) {
      d.indexes = wanted;
      d.source_ids.clear();
      d.destination_ids.clear();
      for (const auto& [key, link] : d.links) {
        if (wanted.source && !link.source_id.empty()) d.source_ids[link.source_id] = key;
        if (wanted.destination && !link.destination_id.empty()) d.destination_ids[link.destination_id] = key;
      }
    });
  }
  void put_pending(const std::string& key, const PendingIntent& intent) override {
    require_key(key);
    log([key, intent](Data& d) { d.pending[key] = intent; });
  }
  void erase_pending(const std::string& key) override {
    require_key(key);
    log([key](Data& d) { d.pending.erase(key); });
  }
  void put_failed(const std::string& key, const FailedRow& row) override {
    require_key(key);
    log([key, row](Data& d) { d.failed[key] = row; });
  }
  void erase_failed(const std::string& key) override {
    require_key(key);
    log([key](Data& d) { d.failed.erase(key); });
  }
  void put_conflict(const std::string& key, const Conflict& conflict) override {
    require_key(key);
    log([key, conflict](Data& d) { d.conflicts[key] = conflict; });
  }
  void erase_conflict(const std::string& key) override {
    require_key(key);
    log([key](Data& d) { d.conflicts.erase(key); });
  }
  void set_meta(const std::string& name, const std::string& value) override {
    require_key(name);
    log([name, value](Data& d) { d.meta[name] = value; });
  }
  void erase_meta(const std::string& name) override {
    require_key(name);
    log([name](Data& d) { d.meta.erase(name); });
  }
  void put_run(std::int64_t /*started_ms*/, const nlohmann::json& report) override {
    log([report](Data& d) {
      auto last = d.meta.find(meta::run_sequence);
      std::uint64_t sequence = (last == d.meta.end() ? 0 : std::stoull(last->second)) + 1;
      d.runs[sequence] = report;
      d.meta[meta::run_sequence] = std::to_string(sequence);
    });
  }
  void put_history(std::uint64_t run, const std::string& key, const HistoryEntry& entry) override {
    require_key(key);
    log([run, key, entry](Data& d) { d.history[{run, key}] = entry; });
  }
  std::size_t prune_history(std::int64_t cutoff_ms) override {
    // Counted from what is committed plus nothing pending: enough for the tests that use it.
    std::size_t doomed = 0;
    for (const auto& [id, entry] : data_.history) {
      if (entry.at_ms >= cutoff_ms) break;
      ++doomed;
    }
    log([doomed](Data& d) {
      for (std::size_t i = 0; i < doomed && !d.history.empty(); ++i) d.history.erase(d.history.begin());
    });
    return doomed;
  }
  void clear_sync_state() override {
    log([](Data& d) {
      d.links.clear();
      d.source_ids.clear();
      d.destination_ids.clear();
      d.base.clear();
      d.pending.clear();
      d.failed.clear();
      d.conflicts.clear();
      std::erase_if(d.meta, [](const auto& entry) {
        const std::string& name = entry.first;
        return name.starts_with("cursor.") || name == meta::baseline_done || name == meta::identity_hash ||
               name == meta::last_full_sync;
      });
    });
  }
  SpoolAppend spool(const SpooledDelivery& delivery) override {
    if (done_) throw std::logic_error("state: transaction already committed");
    if (!delivery.delivery_id.empty()) {
      if (auto it = data_.delivery_ids.find(delivery.delivery_id); it != data_.delivery_ids.end())
        return {it->second.first, true};
      if (auto it = spooled_ids_.find(delivery.delivery_id); it != spooled_ids_.end()) return {it->second, true};
    }
    if (next_spool_ == 0) {
      auto it = data_.meta.find(meta::spool_next);
      next_spool_ = it == data_.meta.end() ? 1 : std::stoull(it->second);
    }
    const std::uint64_t sequence = next_spool_++;
    if (!delivery.delivery_id.empty()) spooled_ids_[delivery.delivery_id] = sequence;
    log([sequence, delivery, next = next_spool_](Data& d) {
      d.spool[sequence] = delivery;
      if (!delivery.delivery_id.empty()) d.delivery_ids[delivery.delivery_id] = {sequence, delivery.at_ms};
      d.meta[meta::spool_next] = std::to_string(next);
    });
    return {sequence, false};
  }
  void put_pushed(const std::string& id, const nlohmann::json& row) override {
    require_key(id);
    log([id, row](Data& d) { d.pushed[id] = row; });
  }
  void erase_pushed(const std::string& id) override {
    require_key(id);
    log([id](Data& d) { d.pushed.erase(id); });
  }
  std::size_t drain_spool(std::uint64_t before, std::int64_t ids_cutoff_ms) override {
    std::size_t drained = 0;
    for (auto it = data_.spool.begin(); it != data_.spool.end() && it->first < before; ++it) ++drained;
    log([before, ids_cutoff_ms](Data& d) {
      d.spool.erase(d.spool.begin(), d.spool.lower_bound(before));
      std::erase_if(d.delivery_ids, [&](const auto& entry) { return entry.second.second < ids_cutoff_ms; });
    });
    return drained;
  }
  void commit() override {
    if (done_) throw std::logic_error("state: transaction already committed");
    done_ = true;
    writing_ = false;
    if (commit_sizes_) commit_sizes_->push_back(changes_.size());
    for (auto& change : changes_) change(data_);
    changes_.clear();
  }

 private:
  static void apply_link(Data& d, const std::string& key, const Link& link) {
    auto old = d.links.find(key);
    if (old != d.links.end()) {
      if (old->second.source_id != link.source_id) drop_reverse(d.source_ids, old->second.source_id, key);
      if (old->second.destination_id != link.destination_id)
        drop_reverse(d.destination_ids, old->second.destination_id, key);
    }
    d.links[key] = link;
    if (d.indexes.source && !link.source_id.empty()) d.source_ids[link.source_id] = key;
    if (d.indexes.destination && !link.destination_id.empty()) d.destination_ids[link.destination_id] = key;
  }
  static void apply_erase_link(Data& d, const std::string& key) {
    auto old = d.links.find(key);
    if (old == d.links.end()) return;
    drop_reverse(d.source_ids, old->second.source_id, key);
    drop_reverse(d.destination_ids, old->second.destination_id, key);
    d.links.erase(old);
  }

  void log(std::function<void(Data&)> change) {
    if (done_) throw std::logic_error("state: transaction already committed");
    changes_.push_back(std::move(change));
  }

  Data& data_;
  bool& writing_;
  std::vector<std::size_t>* commit_sizes_;
  bool done_ = false;
  std::vector<std::function<void(Data&)>> changes_;
  std::uint64_t next_spool_ = 0;  // 0: not read yet
  std::map<std::string, std::uint64_t> spooled_ids_;  // delivery ids spooled in this transaction
};

class MemoryStore final : public StateStore {
 public:
  explicit MemoryStore(std::vector<std::size_t>* commit_sizes) : commit_sizes_(commit_sizes) {}
  std::optional<Link> get_link(const std::string& key) const override { return find(data_.links, key); }
  // Without its index, a side's id is found by a scan, as the LMDB store does.
  std::optional<std::string> key_for_source_id(const std::string& id) const override {
    if (data_.indexes.source) return find(data_.source_ids, id);
    return scan_for(id, &Link::source_id);
  }
  std::optional<std::string> key_for_destination_id(const std::string& id) const override {
    if (data_.indexes.destination) return find(data_.destination_ids, id);
    return scan_for(id, &Link::destination_id);
  }
  IdIndexes id_indexes() const override { return data_.indexes; }
  std::optional<BaseValue> get_base(const std::string& key) const override { return find(data_.base, key); }
  std::optional<PendingIntent> get_pending(const std::string& key) const override {
    return find(data_.pending, key);
  }
  std::optional<FailedRow> get_failed(const std::string& key) const override { return find(data_.failed, key); }
  std::optional<std::string> get_meta(const std::string& name) const override { return find(data_.meta, name); }

  void for_each_link(const std::function<bool(const std::string&, const Link&)>& fn) const override {
    scan(data_.links, fn);
  }
  void for_each_pending(const std::function<bool(const std::string&, const PendingIntent&)>& fn) const override {
    scan(data_.pending, fn);
  }
  void for_each_failed(const std::function<bool(const std::string&, const FailedRow&)>& fn) const override {
    scan(data_.failed, fn);
  }
  void for_each_conflict(const std::function<bool(const std::string&, const Conflict&)>& fn) const override {
    scan(data_.conflicts, fn);
  }

  std::vector<nlohmann::json> runs(std::size_t limit) const override {
    std::vector<nlohmann::json> out;
    for (auto it = data_.runs.rbegin(); it != data_.runs.rend() && (limit == 0 || out.size() < limit); ++it) {
      out.push_back(it->second);
      out.back()["run"] = it->first;
    }
    return out;
  }
  std::uint64_t last_run_sequence() const override {
    auto last = data_.meta.find(meta::run_sequence);
    return last == data_.meta.end() ? 0 : std::stoull(last->second);
  }
  std::optional<HistoryEntry> get_history(std::uint64_t run, const std::string& key) const override {
    auto it = data_.history.find({run, key});
    if (it == data_.history.end()) return std::nullopt;
    return it->second;
  }
  void for_each_history(std::uint64_t run,
                        const std::function<bool(const std::string&, const HistoryEntry&)>& fn) const override {
    for (auto it = data_.history.lower_bound({run, std::string()}); it != data_.history.end() && it->first.first == run;
         ++it)
      if (!fn(it->first.second, it->second)) return;
  }

  std::uint64_t for_each_spooled(std::uint64_t from,
                                 const std::function<bool(std::uint64_t, const SpooledDelivery&)>& fn) const override {
    const auto next = next_spool_sequence();
    auto copy = data_.spool;
    for (auto it = copy.lower_bound(from); it != copy.end(); ++it)
      if (!fn(it->first, it->second)) break;
    return next;
  }
  std::uint64_t for_each_pushed(
      const std::function<bool(const std::string&, const nlohmann::json&)>& fn) const override {
    const auto next = next_spool_sequence();
    scan(data_.pushed, fn);
    return next;
  }
  std::optional<nlohmann::json> get_pushed(const std::string& id) const override { return find(data_.pushed, id); }
  std::size_t spooled_count() const override { return data_.spool.size(); }
  std::size_t pushed_count() const override { return data_.pushed.size(); }

  std::size_t link_count() const override {
    std::size_t count = data_.links.size();
    for (const auto& entry : data_.base) count += data_.links.contains(entry.first) ? 0 : 1;
    return count;
  }
  std::size_t failed_count() const override { return data_.failed.size(); }
  std::size_t pending_count() const override { return data_.pending.size(); }

  std::unique_ptr<WriteTxn> begin() override {
    if (writing_) throw std::logic_error("state: a write transaction is already open");
    return std::make_unique<MemoryWriteTxn>(data_, writing_, commit_sizes_);
  }

 private:
  std::optional<std::string> scan_for(const std::string& id, std::string Link::*side) const {
    if (id.empty()) return std::nullopt;
    for (const auto& [key, link] : data_.links)
      if (link.*side == id) return key;
    return std::nullopt;
  }

  std::uint64_t next_spool_sequence() const {
    auto it = data_.meta.find(meta::spool_next);
    return it == data_.meta.end() ? 1 : std::stoull(it->second);
  }

  Data data_;
  bool writing_ = false;
  std::vector<std::size_t>* commit_sizes_;
};

}  // namespace

std::unique_ptr<StateStore> make_memory_store(std::vector<std::size_t>* commit_sizes) {
  auto store = std::make_unique<MemoryStore>(commit_sizes);
  // A fresh LMDB store starts with its format version; keep the fake identical.
  auto txn = store->begin();
  txn->set_meta(meta::format_version, "4");
  txn->commit();
  return store;
}

}  // namespace synctool::state
