// `synctool cron`: prints (or writes) what a scheduler needs to run the syncs: crontab lines,
// systemd service + timer units, or Kubernetes CronJobs. Reads the specs only: no state, no
// connection. Credentials appear by variable name only, never by value: the command reads no
// variable of the environment, so it works alike on a machine that does not have them.
#include "cli/commands.hpp"
#include "cli/connector_catalog.hpp"
#include "cli/cron_render.hpp"
#include "engine/report.hpp"
#include "util/fs.hpp"
#include "util/json_path.hpp"
#include "util/strings.hpp"

#include <toml++/toml.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <sstream>

namespace synctool::cli {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kConfigMapLimit = 1000 * 1000;  // Kubernetes refuses a ConfigMap over 1 MiB

// name -> optional (every use has a ${NAME:-fallback})
using EnvNames = std::map<std::string, bool>;

// The ${NAME} references of one TOML string, read as the spec loader reads them ("$${" is a
// literal "${"; "${NAME:-fallback}" has a fallback).
void add_references(std::string_view raw, EnvNames& names) {
  for (std::size_t i = 0; i < raw.size();) {
    if (raw.compare(i, 3, "$${") == 0) {
      i += 3;
      continue;
    }
    if (raw.compare(i, 2, "${") != 0) {
      ++i;
      continue;
    }
    std::size_t close = raw.find('}', i + 2);
    if (close == std::string_view::npos) return;
    std::string_view name = raw.substr(i + 2, close - i - 2);
    bool optional = false;
    if (auto sep = name.find(":-"); sep != std::string_view::npos) {
      name = name.substr(0, sep);
      optional = true;
    }
    if (!name.empty()) {
      auto [it, inserted] = names.emplace(std::string(name), optional);
      if (!inserted) it->second = it->second && optional;
    }
    i = close + 1;
  }
}

void collect_references(const toml::node& node, EnvNames& names) {
  if (const auto* s = node.as_string()) {
    add_references(s->get(), names);
  } else if (const auto* t = node.as_table()) {
    for (const auto& [key, value] : *t) collect_references(value, names);
  } else if (const auto* a = node.as_array()) {
    for (const auto& value : *a) collect_references(value, names);
  }
}

toml::table parse_toml(const fs::path& file) {
  try {
    return toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    throw spec::SpecError({spec::SpecProblem{{file.string(), static_cast<int>(where.line), static_cast<int>(where.column)},
                                             std::string(e.description())}});
  }
}

// A credential written into synctool.toml itself would land in the ConfigMap, which is not for
// secrets. The keys the loader takes for credentials, with a literal value: a token, key,
// secret or password; a url or dsn with a password in it. File paths are not credentials.
std::optional<spec::SpecProblem> inline_credential(const fs::path& file, const toml::table& root) {
  const auto* connections = root["connections"].as_table();
  if (!connections) return std::nullopt;
  for (const auto& [name, node] : *connections) {
    const auto* table = node.as_table();
    if (!table) continue;
    for (const auto& [key, value] : *table) {
      const auto* s = value.as_string();
      const std::string k = util::to_lower(key.str());
      if (!s || s->get().empty() || s->get().find("${") != std::string::npos || !spec::is_secret_key(k)) continue;
      if (util::ends_with(k, "_file") || util::ends_with(k, "_path")) continue;
      if (k.starts_with("ssl") && k != "sslpassword") continue;
      if (k == "url" || k == "dsn") {
        const std::string& v = s->get();
        auto scheme = v.find("://");
        auto at = v.find('@');
        if (scheme == std::string::npos || at == std::string::npos || v.find(':', scheme + 3) > at) continue;
      }
      const auto& where = value.source().begin;
      return spec::SpecProblem{{file.string(), static_cast<int>(where.line), static_cast<int>(where.column)},
                               "[connections." + std::string(name.str()) + "] " + std::string(key.str()) +
                                   " is written into the file; the Kubernetes output puts synctool.toml into a "
                                   "ConfigMap, which is not for credentials: write \"${VARIABLE}\" and keep the value "
                                   "in the Secret"};
    }
  }
  return std::nullopt;
}

// synctool.toml as the pod reads it: state_dir on the claim, syncs beside it in syncs/.
std::string pod_project_file(const toml::table& root, const std::string& source) {
  toml::table copy = root;
  copy.insert_or_assign("state_dir", "/var/lib/synctool");
  copy.insert_or_assign("syncs_dir", "syncs");
  std::ostringstream text;
  text << "# " << source << " as the pod reads it (written by synctool cron): state_dir is the\n"
       << "# PersistentVolumeClaim's mount, the syncs are in syncs/ beside this file.\n"
       << copy << "\n";
  return text.str();
}

// A Kubernetes quantity of bytes: digits, then an optional suffix ("1Gi", "500Mi", "2G").
bool byte_quantity(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0) return false;
  std::string_view suffix = text.substr(digits);
  for (std::string_view allowed : {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "k", "M", "G", "T", "P", "E"})
    if (suffix == allowed) return true;
  return false;
}

std::string own_executable() {
  std::error_code ec;
  fs::path self = fs::canonical("/proc/self/exe", ec);
  return ec ? std::string("synctool") : self.string();
}

// Every variable reads as empty (a ${NAME:-fallback} as its fallback): the specs load alike on
// every machine, with the credentials or without, and this command never holds one.
spec::EnvLookup no_environment() {
  return [](const std::string&) -> std::optional<std::string> { return std::string(); };
}

// The output is printed as it is, not through Output's redactor: its patterns take the text
// after "token = " for a secret and would mangle a ConfigMap's `token = "${HUBSPOT_TOKEN}"`.
// What it holds instead is checked: no value that the specs hold as a credential (written
// into synctool.toml; none comes from the environment here) may appear in it.
bool holds_secret(const std::string& text, const std::vector<std::string>& secrets) {
  for (const auto& secret : secrets)
    if (!secret.empty() && text.find(secret) != std::string::npos) return true;
  return false;
}

}  // namespace

int cmd_cron(Context& ctx, const std::vector<std::string>& names, const CronFlags& flags) {
  Output& out = ctx.out();
  CronOptions o;
  if (flags.format == "crontab")
    o.format = CronFormat::crontab;
  else if (flags.format == "systemd")
    o.format = CronFormat::systemd;
  else if (flags.format == "kubernetes")
    o.format = CronFormat::kubernetes;
  else
    return usage_error(out, "--format must be crontab, systemd or kubernetes, not '" + flags.format + "'");
  const bool k8s = o.format == CronFormat::kubernetes;
  if (k8s && (!flags.env_file.empty() || !flags.alert_command.empty()))
    return usage_error(out, std::string(!flags.env_file.empty() ? "--env-file" : "--alert-command") +
                                " is for crontab and systemd; on Kubernetes the credentials come from the Secret "
                                "(--secret) and a failed run is a failed Job to alert on");
  if (!k8s && (!flags.image.empty() || !flags.namespace_name.empty() || !flags.secret.empty() || !flags.state_size.empty()))
    return usage_error(out, "--image, --namespace, --secret and --state-size are for --format kubernetes");
  if (k8s && flags.image.empty())
    return usage_error(out, "--format kubernetes needs --image: the container image that holds synctool");
  if (dns_label(flags.name, 40) != flags.name)
    return usage_error(out, "--name '" + flags.name +
                                "' must be a Kubernetes-style name of at most 40 characters: lowercase letters, "
                                "digits and '-', starting and ending with a letter or digit");
  if (!flags.state_size.empty() && !byte_quantity(flags.state_size))
    return usage_error(out, "--state-size '" + flags.state_size + "' is not a size such as 1Gi or 500Mi");
  if (!flags.env_file.empty() && !fs::path(flags.env_file).is_absolute())
    return usage_error(out, "--env-file must be an absolute path (cron and systemd do not start in this folder)");
  if (!flags.binary.empty() && !k8s && !fs::path(flags.binary).is_absolute())
    return usage_error(out, "--binary must be an absolute path");

  const fs::path file = spec::find_project_file(ctx.options().config);
  const auto env = no_environment();
  spec::ProjectSpec project = spec::load_project(file, connector_catalog(), connector_type_names(), env);
  out.add_secrets(project.secrets);
  const toml::table root = parse_toml(project.file);

  std::vector<std::string> selected = names;
  if (selected.empty())
    for (const auto& f : spec::all_sync_files(project)) selected.push_back(f.stem().string());
  if (selected.empty())
    return command_error(out, engine::exit_code::usage,
                         "no syncs in " + display_path(project.syncs_dir.string()) + ": nothing to schedule");

  EnvNames project_env;
  for (const char* key : {"state_dir", "syncs_dir"})
    if (const auto* node = root.get(key)) collect_references(*node, project_env);

  std::vector<CronSync> syncs;
  std::vector<spec::SpecProblem> problems;
  for (const auto& name : selected) {
    try {
      const fs::path sync_path = spec::sync_file(project, name);
      spec::SyncSpec sync = spec::load_sync(sync_path, project, connector_catalog(), env);
      CronSync c;
      c.name = sync.name;
      c.title = sync.title;
      c.file = display_path(sync_path.string());
      c.schedule = sync.schedule;
      EnvNames vars = project_env;
      collect_references(parse_toml(sync_path), vars);
      const auto* connections = root["connections"].as_table();
      for (const auto& conn : {sync.source.connection, sync.destination.connection})
        if (const auto* node = connections ? connections->get(conn) : nullptr) collect_references(*node, vars);
      for (const auto& [var, optional] : vars) c.env.push_back({var, optional});
      syncs.push_back(std::move(c));
    } catch (const spec::SpecError& e) {
      problems.insert(problems.end(), e.problems().begin(), e.problems().end());
    }
  }
  if (!problems.empty()) throw spec::SpecError(problems);

  o.one_job = flags.one_job;
  o.named_syncs = !names.empty();
  o.working_dir = project.base_dir.string();
  if (!(project.file.filename() == "synctool.toml" && fs::absolute(project.file).parent_path() == project.base_dir))
    o.config_file = fs::absolute(project.file).lexically_normal().string();
  o.env_file = flags.env_file;
  o.alert_command = flags.alert_command;
  o.binary = !flags.binary.empty() ? flags.binary : k8s ? std::string("synctool") : own_executable();
  o.image = flags.image;
  o.namespace_name = flags.namespace_name;
  if (!flags.secret.empty()) o.secret = flags.secret;
  if (!flags.state_size.empty()) o.state_size = flags.state_size;
  o.name = flags.name;
  o.version = SYNCTOOL_VERSION;
  o.source = display_path(project.file.string());

  if (k8s) {
    if (auto problem = inline_credential(project.file, root)) throw spec::SpecError({*problem});
    if (!flags.namespace_name.empty() && dns_label(flags.namespace_name, 63) != flags.namespace_name)
      return usage_error(out, "--namespace '" + flags.namespace_name + "' is not a Kubernetes namespace name");
    if (!flags.secret.empty() && dns_label(flags.secret, 253) != flags.secret)
      return usage_error(out, "--secret '" + flags.secret + "' is not a Kubernetes object name");
    o.spec_files.push_back({"synctool.toml", pod_project_file(root, o.source), ""});
    std::size_t total = o.spec_files.back().text.size();
    for (const auto& s : syncs) {
      o.spec_files.push_back({"syncs/" + s.name + ".toml", util::read_file(spec::sync_file(project, s.name)), s.name});
      total += o.spec_files.back().text.size();
    }
    if (total > kConfigMapLimit)
      return command_error(out, engine::exit_code::usage,
                           "the specs come to " + std::to_string(total) +
                               " bytes, more than a ConfigMap holds (1 MiB): render the syncs in groups "
                               "(synctool cron SYNC... --name GROUP)");
  }

  if (std::string problem = cron_problem(syncs, o); !problem.empty())
    return command_error(out, engine::exit_code::usage, problem);
  const std::vector<CronFile> files = render_cron(syncs, o);

  auto sync_list = nlohmann::json::array();
  for (const auto& s : syncs) {
    auto vars = nlohmann::json::array();
    for (const auto& v : s.env) vars.push_back({{"name", v.name}, {"optional", v.optional}});
    auto cron = util::trim(s.schedule).empty() ? std::nullopt : schedule_to_cron(s.schedule, s.name);
    sync_list.push_back({{"sync", s.name},
                         {"schedule", s.schedule.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.schedule)},
                         {"cron", cron ? nlohmann::json(*cron) : nlohmann::json(nullptr)},
                         {"env", vars}});
  }
  for (const auto& f : files)
    if (holds_secret(f.text, project.secrets))
      return command_error(out, engine::exit_code::usage,
                           f.name + " would hold a credential written into " + display_path(project.file.string()) +
                               " (a name, path or command spells it): nothing is printed");
  auto file_list = nlohmann::json::array();
  if (!flags.output_dir.empty()) {
    const fs::path dir = flags.output_dir;
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return command_error(out, engine::exit_code::local_failure, "cannot create " + dir.string() + ": " + ec.message());
    for (const auto& f : files) {
      const fs::path target = dir / f.name;
      try {
        util::write_file_atomically(target, [&](std::ostream& s) { s << f.text; });
      } catch (const std::exception& e) {
        return command_error(out, engine::exit_code::local_failure, "cannot write " + target.string() + ": " + e.what());
      }
      file_list.push_back({{"name", f.name}, {"path", target.string()}});
      if (!out.json()) out.print("wrote " + target.string() + "\n");
    }
  } else {
    for (const auto& f : files) {
      file_list.push_back({{"name", f.name}, {"text", f.text}});
      if (out.json()) continue;
      // Several unit files on stdout: each under a line naming it.
      if (files.size() > 1) std::cout << "### " << f.name << "\n";
      std::cout << f.text << (files.size() > 1 ? "\n" : "");
    }
    std::cout << std::flush;
  }
  if (out.json())
    std::cout << util::json_dump({{"ok", true}, {"format", flags.format}, {"one_job", o.one_job}, {"syncs", sync_list},
                                  {"files", file_list}},
                                 2)
              << "\n"
              << std::flush;
  return engine::exit_code::ok;
}

}  // namespace synctool::cli
