#include "connectors/answer_guard.hpp"

#include <exception>
#include <string_view>

namespace synctool::connectors {

namespace {

// "[json.exception.type_error.302] type must be string, but is number" -> the part after the
// bracket: the id means nothing to a user.
std::string json_problem(const nlohmann::json::exception& e) {
  std::string_view text = e.what();
  if (text.starts_with("[json.exception.")) {
    if (auto end = text.find("] "); end != std::string_view::npos) text.remove_prefix(end + 2);
  }
  return std::string(text);
}

class AnswerGuard final : public Connector {
 public:
  explicit AnswerGuard(std::unique_ptr<Connector> inner) : inner_(std::move(inner)) {}

  std::string type() const override { return inner_->type(); }
  void check() override {
    guarded("checking the connection", nullptr, [&] { inner_->check(); });
  }
  Capabilities capabilities(const ObjectRef& object) const override { return inner_->capabilities(object); }
  ObjectDescription describe(const ObjectRef& object) override {
    return guarded("describing", &object, [&] { return inner_->describe(object); });
  }
  void read(const ObjectRef& object, const ReadRequest& request, const PageSink& sink) override {
    // The engine's own errors in the sink pass through untouched: they are not the answer's.
    std::exception_ptr from_sink;
    PageSink watched = [&](Page&& page) {
      try {
        sink(std::move(page));
      } catch (...) {
        from_sink = std::current_exception();
        throw;
      }
    };
    try {
      guarded("reading", &object, [&] { inner_->read(object, request, watched); });
    } catch (...) {
      if (from_sink) std::rethrow_exception(from_sink);
      throw;
    }
  }
  void probe(const ObjectRef& object) override {
    guarded("probing", &object, [&] { inner_->probe(object); });
  }
  void check_options(const ObjectRef& object) const override { inner_->check_options(object); }
  std::vector<Record> lookup(const ObjectRef& object, const std::string& field,
                             const std::vector<std::string>& values) override {
    return guarded("looking up records of", &object, [&] { return inner_->lookup(object, field, values); });
  }
  std::vector<WriteResult> write(const ObjectRef& object, const std::vector<WriteOp>& ops) override {
    return guarded("writing to", &object, [&] { return inner_->write(object, ops); });
  }
  std::string write_problem(const ObjectRef& object, const WriteOp& op) override {
    return guarded("checking a write to", &object, [&] { return inner_->write_problem(object, op); });
  }
  std::vector<SchemaChange> schema_plan(const ObjectRef& object, const std::vector<DeclaredField>& fields) override {
    return guarded("planning the fields of", &object, [&] { return inner_->schema_plan(object, fields); });
  }
  void schema_apply(const ObjectRef& object, const std::vector<SchemaChange>& changes) override {
    guarded("changing the fields of", &object, [&] { inner_->schema_apply(object, changes); });
  }
  std::optional<RequestStats> request_stats() const override { return inner_->request_stats(); }

 private:
  template <typename Call>
  auto guarded(const char* doing, const ObjectRef* object, Call&& call) const -> decltype(call()) {
    try {
      return call();
    } catch (const nlohmann::json::exception& e) {
      std::string message = inner_->type() + ": unexpected answer while " + doing;
      if (object) message += " '" + object->name + "'";
      throw ConnectorError(ErrorKind::transient, message + ": " + json_problem(e));
    }
  }

  std::unique_ptr<Connector> inner_;
};

}  // namespace

std::unique_ptr<Connector> guard_answers(std::unique_ptr<Connector> inner) {
  return std::make_unique<AnswerGuard>(std::move(inner));
}

}  // namespace synctool::connectors
