#include "cli/cron_render.hpp"

#include "util/clock.hpp"
#include "util/hash.hpp"
#include "util/strings.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

namespace synctool::cli {

namespace {

using Json = nlohmann::ordered_json;

struct FieldRange {
  int min;
  int max;
};

// minute, hour, day of month, month, day of week (0 and 7 are Sunday)
constexpr std::array<FieldRange, 5> kFields = {{{0, 59}, {0, 23}, {1, 31}, {1, 12}, {0, 7}}};

int to_int(std::string_view s) {
  int value = 0;
  std::from_chars(s.data(), s.data() + s.size(), value);
  return value;
}

std::vector<std::string> cron_words(std::string_view cron) {
  std::istringstream in{std::string(cron)};
  std::vector<std::string> words;
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

// The values one field of a valid expression selects.
std::set<int> field_values(std::string_view field, FieldRange range) {
  std::set<int> values;
  for (const auto& item : util::split(field, ',')) {
    std::string_view text = item;
    int step = 1;
    bool stepped = false;
    if (auto slash = text.find('/'); slash != std::string_view::npos) {
      step = to_int(text.substr(slash + 1));
      text = text.substr(0, slash);
      stepped = true;
    }
    // Day of week: '*' is 0-6 (Kubernetes reads no 7; 7 and 0 are both Sunday anyway).
    const int last = range.max == 7 ? 6 : range.max;
    int lo = range.min, hi = last;
    if (text != "*") {
      if (auto dash = text.find('-'); dash != std::string_view::npos) {
        lo = to_int(text.substr(0, dash));
        hi = to_int(text.substr(dash + 1));
      } else {
        lo = to_int(text);
        hi = stepped ? last : lo;  // "5/15": from 5 to the end, as Kubernetes and systemd read it
      }
    }
    for (int v = lo; v <= hi; v += step) values.insert(v);
  }
  return values;
}

std::set<int> weekdays(std::string_view field) {
  std::set<int> days;
  for (int d : field_values(field, kFields[4])) days.insert(d % 7);
  return days;
}

// "1,5,9" / "1-5,9": a set as cron items.
std::string cron_list(const std::set<int>& values) {
  std::vector<std::string> items;
  std::vector<int> v(values.begin(), values.end());
  for (std::size_t i = 0; i < v.size();) {
    std::size_t j = i;
    while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
    items.push_back(j >= i + 2 ? std::to_string(v[i]) + "-" + std::to_string(v[j]) : std::to_string(v[i]));
    if (j < i + 2) j = i;
    i = j + 1;
  }
  return util::join(items, ",");
}

std::string two_digits(int v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02d", v);
  return buf;
}

// One field's values as systemd calendar syntax: "*", "07/15" (from 7 every 15 to the end of
// the range), or a list with "a..b" runs.
std::string calendar_field(const std::set<int>& values, FieldRange range) {
  if (values.size() == static_cast<std::size_t>(range.max - range.min + 1)) return "*";
  std::vector<int> v(values.begin(), values.end());
  if (v.size() >= 2) {
    int step = v[1] - v[0];
    bool progression = step > 1 && v.back() + step > range.max;
    for (std::size_t i = 1; progression && i < v.size(); ++i) progression = v[i] - v[i - 1] == step;
    if (progression) return two_digits(v[0]) + "/" + std::to_string(step);
  }
  std::vector<std::string> items;
  for (std::size_t i = 0; i < v.size();) {
    std::size_t j = i;
    while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
    if (j >= i + 2) {
      items.push_back(two_digits(v[i]) + ".." + two_digits(v[j]));
    } else {
      j = i;
      items.push_back(two_digits(v[i]));
    }
    i = j + 1;
  }
  return util::join(items, ",");
}

// Day-of-week names in systemd's order (Monday first), runs of three or more as "Mon..Fri".
std::string calendar_weekdays(const std::set<int>& days) {
  static constexpr std::array<const char*, 7> kNames = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr std::array<int, 7> kOrder = {1, 2, 3, 4, 5, 6, 0};
  std::vector<std::string> items;
  for (std::size_t i = 0; i < kOrder.size();) {
    if (!days.contains(kOrder[i])) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j + 1 < kOrder.size() && days.contains(kOrder[j + 1])) ++j;
    if (j >= i + 2) {
      items.push_back(std::string(kNames[static_cast<std::size_t>(kOrder[i])]) + ".." +
                      kNames[static_cast<std::size_t>(kOrder[j])]);
    } else {
      for (std::size_t k = i; k <= j; ++k) items.push_back(kNames[static_cast<std::size_t>(kOrder[k])]);
    }
    i = j + 1;
  }
  return util::join(items, ",");
}

// A one-line text for a comment or a unit's Description: control characters become spaces.
std::string one_line(std::string_view text) {
  std::string out;
  for (char c : text) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
  return out;
}

bool has_control(std::string_view text) {
  for (char c : text)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  return false;
}

std::string describe_env(const std::vector<CronEnvVar>& env) {
  std::vector<std::string> required, optional;
  for (const auto& v : env) (v.optional ? optional : required).push_back(v.name);
  std::string out;
  if (!required.empty()) out += "must set " + util::join(required, ", ");
  if (!optional.empty()) {
    if (!out.empty()) out += "; ";
    out += "may set " + util::join(optional, ", ") + " (each has a default in the spec)";
  }
  return out;
}

std::vector<CronEnvVar> union_env(const std::vector<CronSync>& syncs) {
  std::vector<CronEnvVar> all;
  for (const auto& sync : syncs) {
    for (const auto& v : sync.env) {
      auto it = std::find_if(all.begin(), all.end(), [&](const CronEnvVar& a) { return a.name == v.name; });
      if (it == all.end())
        all.push_back(v);
      else
        it->optional = it->optional && v.optional;
    }
  }
  std::sort(all.begin(), all.end(), [](const CronEnvVar& a, const CronEnvVar& b) { return a.name < b.name; });
  return all;
}

std::string header_line(const CronOptions& o, std::string_view comment) {
  return std::string(comment) + " Generated by synctool " + o.version + " (synctool cron) from " + one_line(o.source) +
         "\n";
}

std::string schedule_words(const CronSync& sync) {
  return "schedule \"" + one_line(util::trim(sync.schedule)) + "\"";
}

// ---- crontab ----

// Cron turns an unescaped '%' of the command into a newline.
std::string cron_escape(std::string_view command) {
  std::string out;
  for (char c : command) {
    if (c == '%') out += '\\';
    out += c;
  }
  return out;
}

// The run command: a subshell that enters the project folder, exports the environment file
// and execs synctool; then the exit code decides the alert. 5 (another run holds the lock, a
// cron overlap) is not alerted.
std::string crontab_command(const CronOptions& o, const std::vector<std::string>& args, const std::string& label) {
  std::string run = "cd " + shell_quote(o.working_dir) + " || exit 2; ";
  if (!o.env_file.empty()) {
    run += "[ -r " + shell_quote(o.env_file) + " ] || { echo 'synctool: cannot read the environment file '" +
           shell_quote(o.env_file) + " >&2; exit 2; }; set -a; . " + shell_quote(o.env_file) + "; set +a; ";
  }
  run += "exec " + shell_quote(o.binary);
  if (!o.config_file.empty()) run += " --config " + shell_quote(o.config_file);
  for (const auto& a : args) run += " " + shell_quote(a);
  std::string line = "(" + run + ")";
  if (!o.alert_command.empty())
    line += "; rc=$?; [ $rc -eq 0 ] || [ $rc -eq 5 ] || " + o.alert_command + " " + shell_quote(label) + " $rc";
  return cron_escape(line);
}

// `run --due` runs every due sync of the project it reads. (On Kubernetes that project is the
// ConfigMap's, which holds only the syncs rendered: a group of syncs is its own project there.)
std::vector<std::string> due_args() { return {"run", "--due"}; }

std::string render_crontab(const std::vector<CronSync>& syncs, const CronOptions& o) {
  std::string out = header_line(o, "#");
  out += "# A user crontab: `crontab FILE` installs it (replacing the user's crontab); a file in /etc/cron.d\n"
         "# needs a user column after the five time fields.\n";
  std::string bindir = std::filesystem::path(o.binary).parent_path().string();
  out += "# synctool reads cron schedules in UTC (status, run --due). cronie honours CRON_TZ; Debian's\n"
         "# cron uses the system's time zone, so run it in UTC there.\n";
  out += "CRON_TZ=UTC\nSHELL=/bin/sh\n";
  out += "PATH=" + bindir + ":/usr/local/bin:/usr/bin:/bin\n";
  auto env = union_env(syncs);
  if (!env.empty()) {
    if (o.env_file.empty())
      out += "# The syncs read " + describe_env(env) + ": cron's environment has none of them.\n";
    else
      out += "# " + one_line(o.env_file) + " (KEY=VALUE lines, mode 0600) " + describe_env(env) + ".\n";
  }
  if (o.alert_command.empty())
    out += "# No --alert-command: cron mails a failing run's output to MAILTO.\n";
  else
    out += "# A run that exits with a code other than 0 or 5 (5: another run holds the lock) runs\n"
           "# the alert command with the sync and the exit code as its two last arguments.\n";
  if (o.one_job) {
    out += "# One entry: every minute, `run --due` runs each sync whose schedule has come due.\n";
    for (const auto& s : syncs)
      out += "#   " + one_line(s.name) + ": " +
             (util::trim(s.schedule).empty() ? std::string("no schedule, never due") : schedule_words(s)) + "\n";
    out += "* * * * * " + crontab_command(o, due_args(), "--due") + "\n";
    return out;
  }
  for (const auto& s : syncs) {
    out += "\n# " + one_line(s.name) + (s.title.empty() ? "" : ": " + one_line(s.title)) + " (" + one_line(s.file) + ")\n";
    if (util::trim(s.schedule).empty()) {
      out += "# no schedule in the spec: no entry (run it by hand, or give it a schedule)\n";
      continue;
    }
    std::string cron = *schedule_to_cron(s.schedule, s.name);
    out += "# " + schedule_words(s) + "\n";
    out += cron + " " + crontab_command(o, {"run", s.name}, s.name) + "\n";
  }
  return out;
}

// ---- systemd ----

// A unit file value: systemd expands '%' specifiers.
std::string unit_value(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '%') out += '%';
    out += c;
  }
  return out;
}

// One argument of an Exec*= line: double-quoted, with '\' and '"' escaped, '%' and '$'
// doubled (systemd's specifiers and variable expansion).
std::string exec_arg(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '%' || c == '$') out += c;
    out += c;
  }
  return out + "\"";
}

// A unit name part: letters, digits, ':', '_', '.', '-' stay; every other byte is "\xNN", as
// systemd-escape writes it.
std::string unit_name_part(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    bool keep = std::isalnum(c) || c == ':' || c == '_' || c == '-' || (c == '.' && i > 0);
    if (keep && c < 0x80) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

std::string systemd_service(const CronOptions& o, const std::string& description, const std::vector<std::string>& args,
                            const std::string& label) {
  std::string out = header_line(o, "#");
  out += "[Unit]\nDescription=" + unit_value(one_line(description)) + "\n";
  out += "Wants=network-online.target\nAfter=network-online.target\n\n[Service]\nType=oneshot\n";
  out += "WorkingDirectory=" + unit_value(o.working_dir) + "\n";
  // '-': a missing file does not stop the unit before ExecStopPost could alert; synctool then
  // names the variable that is not set (exit 2).
  if (!o.env_file.empty()) out += "EnvironmentFile=-" + unit_value(o.env_file) + "\n";
  std::string exec = exec_arg(o.binary);
  if (!o.config_file.empty()) exec += " --config " + exec_arg(o.config_file);
  for (const auto& a : args) exec += " " + exec_arg(a);
  out += "ExecStart=" + exec + "\n";
  out += "# 5: another run of this sync holds the lock (one started by hand): not a failure.\n";
  out += "SuccessExitStatus=5\n";
  out += "# SIGTERM stops a run at a batch boundary (exit 143); give it time before SIGKILL.\n";
  out += "TimeoutStartSec=6h\nTimeoutStopSec=2min\n";
  out += "NoNewPrivileges=yes\nPrivateTmp=yes\n";
  if (!o.alert_command.empty()) {
    std::string script = "if [ \"$SERVICE_RESULT\" != success ]; then exec " + o.alert_command +
                         " \"$1\" \"${EXIT_STATUS:-$SERVICE_RESULT}\"; fi";
    out += "# On failure: the alert command with the sync and the exit code (or systemd's reason).\n";
    out += "ExecStopPost=/bin/sh -c " + exec_arg(script) + " sh " + exec_arg(label) + "\n";
  }
  return out;
}

std::string systemd_timer(const CronOptions& o, const std::string& description, const std::string& service,
                          const std::vector<std::string>& on_calendar, std::optional<std::int64_t> every_ms) {
  std::string out = header_line(o, "#");
  out += "[Unit]\nDescription=" + unit_value(one_line(description)) + "\n\n[Timer]\n";
  if (!on_calendar.empty()) {
    for (const auto& c : on_calendar) out += "OnCalendar=" + c + "\n";
    out += "# A run missed while the machine was off starts once at boot.\nPersistent=true\n";
  } else {
    // An interval without a calendar form: measured from the last start, as `run --due` does.
    out += "OnBootSec=1min\nOnUnitActiveSec=" + std::to_string(*every_ms / 1000) + "s\n";
  }
  out += "AccuracySec=1s\nUnit=" + service + "\n\n[Install]\nWantedBy=timers.target\n";
  return out;
}

std::vector<CronFile> render_systemd(const std::vector<CronSync>& syncs, const CronOptions& o) {
  std::vector<CronFile> files;
  const std::string prefix = unit_name_part(o.name);
  if (o.one_job) {
    std::string service = prefix + "-due.service";
    files.push_back({service, systemd_service(o, "synctool: run every sync that is due",
                                              due_args(), "--due")});
    files.push_back({prefix + "-due.timer",
                     systemd_timer(o, "synctool: every minute, run the syncs that are due", service,
                                   {"*-*-* *:*:00 UTC"}, std::nullopt)});
    return files;
  }
  for (const auto& s : syncs) {
    if (util::trim(s.schedule).empty()) continue;
    std::string base = prefix + "-" + unit_name_part(s.name);
    std::string service = base + ".service";
    files.push_back({service, systemd_service(o, "synctool sync " + s.name + (s.title.empty() ? "" : ": " + s.title),
                                              {"run", s.name}, s.name)});
    std::vector<std::string> calendar;
    std::optional<std::int64_t> every;
    if (auto cron = schedule_to_cron(s.schedule, s.name))
      calendar = cron_to_on_calendar(*cron);
    else
      every = util::parse_duration(util::trim(s.schedule));
    files.push_back({base + ".timer", systemd_timer(o, "Schedule of synctool sync " + s.name + " (" + schedule_words(s) + ")",
                                                    service, calendar, every)});
  }
  return files;
}

// ---- kubernetes ----

bool plain_yaml(std::string_view s) {
  if (s.empty()) return false;
  static const std::set<std::string> kReserved = {"y", "yes", "n", "no", "true", "false", "on", "off", "null", "~"};
  if (kReserved.contains(util::to_lower(s))) return false;
  unsigned char first = static_cast<unsigned char>(s[0]);
  if (!std::isalpha(first) && first != '/' && first != '_') return false;
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) || c == '/' || c == '_' || c == '.' || c == '-') || u >= 0x80) return false;
  }
  return true;
}

std::string yaml_quoted(std::string_view s) {
  // A JSON string (ASCII, \u escapes) is a valid YAML double-quoted scalar.
  return Json(std::string(s)).dump(-1, ' ', true, Json::error_handler_t::replace);
}

// Whether `s` can be a literal block ('|'): printable, no line break YAML knows besides '\n'.
bool literal_block(std::string_view s) {
  if (s.find('\n') == std::string_view::npos || s.front() == ' ' || s.front() == '\n') return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) return false;
    if (c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x85) return false;  // NEL
    if (c == 0xe2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
        (static_cast<unsigned char>(s[i + 2]) == 0xa8 || static_cast<unsigned char>(s[i + 2]) == 0xa9))
      return false;  // LS, PS
    if (c == 0xef && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0xbb &&
        static_cast<unsigned char>(s[i + 2]) == 0xbf)
      return false;  // BOM
  }
  return true;
}

std::string yaml_scalar(const Json& v) {
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    return plain_yaml(s) ? s : yaml_quoted(s);
  }
  return v.dump();
}

void emit_yaml(std::string& out, const Json& v, int indent);

void emit_entry(std::string& out, const std::string& key, const Json& value, int indent) {
  const std::string pad(static_cast<std::size_t>(indent), ' ');
  out += pad + (plain_yaml(key) ? key : yaml_quoted(key)) + ":";
  if ((value.is_object() || value.is_array()) && !value.empty()) {
    out += "\n";
    emit_yaml(out, value, indent + 2);
  } else if (value.is_string() && literal_block(value.get_ref<const std::string&>())) {
    const auto& s = value.get_ref<const std::string&>();
    std::size_t trailing = s.size() - s.find_last_not_of('\n') - 1;
    out += trailing == 0 ? " |-\n" : trailing == 1 ? " |\n" : " |+\n";
    std::string body = s.substr(0, s.size() - trailing);
    for (const auto& line : util::split(body, '\n'))
      out += line.empty() ? "\n" : std::string(static_cast<std::size_t>(indent + 2), ' ') + line + "\n";
    for (std::size_t i = 1; i < trailing; ++i) out += "\n";
  } else if (value.is_object()) {
    out += " {}\n";
  } else if (value.is_array()) {
    out += " []\n";
  } else {
    out += " " + yaml_scalar(value) + "\n";
  }
}

void emit_yaml(std::string& out, const Json& v, int indent) {
  const std::string pad(static_cast<std::size_t>(indent), ' ');
  if (v.is_object()) {
    for (const auto& [key, value] : v.items()) emit_entry(out, key, value, indent);
    return;
  }
  for (const auto& item : v) {
    if (item.is_object() && !item.empty()) {
      // "- " then the first entry on the same line, the rest below it.
      std::string block;
      emit_yaml(block, item, indent + 2);
      out += pad + "- " + block.substr(static_cast<std::size_t>(indent + 2));
    } else {
      out += pad + "- " + yaml_scalar(item) + "\n";
    }
  }
}

// kubelet expands $(VAR) in command and args; "$$" keeps a '$' literal.
std::string k8s_arg(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '$') out += '$';
    out += c;
  }
  return out;
}

// A ConfigMap key for a sync's file "NAME.toml": keys hold only letters, digits, '-', '_' and
// '.', so a name with anything else gets '_' for it and a hash of the name to stay unique.
std::string config_map_key(std::string_view sync_name) {
  std::string key;
  for (char c : sync_name) {
    unsigned char u = static_cast<unsigned char>(c);
    key += (std::isalnum(u) && u < 0x80) || c == '-' || c == '_' || c == '.' ? c : '_';
  }
  // (A sync named "synctool" would take synctool.toml's key.)
  if (key != sync_name || key.size() > 200 || key == "synctool") {
    char buf[16];
    std::snprintf(buf, sizeof buf, "-%08x", static_cast<unsigned>(util::fnv1a64(sync_name) & 0xffffffffU));
    key = key.substr(0, 200) + buf;
  }
  return key + ".toml";
}

Json labels(const CronOptions& o, const std::string& component) {
  return Json{{"app.kubernetes.io/name", "synctool"},
              {"app.kubernetes.io/instance", o.name},
              {"app.kubernetes.io/component", component},
              {"app.kubernetes.io/managed-by", "synctool-cron"}};
}

Json metadata(const CronOptions& o, const std::string& name, const Json& labels_value) {
  Json m = {{"name", name}};
  if (!o.namespace_name.empty()) m["namespace"] = o.namespace_name;
  m["labels"] = labels_value;
  return m;
}

constexpr const char* kSpecsMount = "/etc/synctool";
constexpr const char* kStateMount = "/var/lib/synctool";

Json cron_job(const CronOptions& o, const std::string& name, const std::string& schedule, int starting_deadline,
              const std::vector<std::string>& args, const std::vector<CronEnvVar>& env, const Json& items,
              const std::string& claim, const Json& job_labels, const Json& annotations) {
  Json command = Json::array({k8s_arg(o.binary), "--config", std::string(kSpecsMount) + "/synctool.toml"});
  Json arguments = Json::array();
  for (const auto& a : args) arguments.push_back(k8s_arg(a));
  Json env_list = Json::array();
  for (const auto& v : env) {
    Json ref = {{"name", o.secret}, {"key", v.name}};
    if (v.optional) ref["optional"] = true;
    env_list.push_back({{"name", v.name}, {"valueFrom", {{"secretKeyRef", ref}}}});
  }
  Json container = {
      {"name", "synctool"},
      {"image", o.image},
      {"imagePullPolicy", "IfNotPresent"},
      {"command", command},
      {"args", arguments},
      {"workingDir", kSpecsMount},
  };
  if (!env_list.empty()) container["env"] = env_list;
  container["resources"] = {{"requests", {{"cpu", "100m"}, {"memory", "256Mi"}}}, {"limits", {{"memory", "1Gi"}}}};
  container["securityContext"] = {{"allowPrivilegeEscalation", false},
                                  {"readOnlyRootFilesystem", true},
                                  {"capabilities", {{"drop", Json::array({"ALL"})}}}};
  container["volumeMounts"] = Json::array({{{"name", "specs"}, {"mountPath", kSpecsMount}, {"readOnly", true}},
                                           {{"name", "state"}, {"mountPath", kStateMount}},
                                           {{"name", "tmp"}, {"mountPath", "/tmp"}}});
  Json pod_spec = {
      {"restartPolicy", "Never"},
      {"automountServiceAccountToken", false},
      {"terminationGracePeriodSeconds", 120},
      {"securityContext",
       {{"runAsNonRoot", true},
        {"runAsUser", 65532},
        {"runAsGroup", 65532},
        {"fsGroup", 65532},
        {"seccompProfile", {{"type", "RuntimeDefault"}}}}},
      {"containers", Json::array({container})},
      {"volumes", Json::array({{{"name", "specs"}, {"configMap", {{"name", o.name + "-specs"}, {"items", items}}}},
                               {{"name", "state"}, {"persistentVolumeClaim", {{"claimName", claim}}}},
                               {{"name", "tmp"}, {"emptyDir", Json::object()}}})},
  };
  Json meta = metadata(o, name, job_labels);
  meta["annotations"] = annotations;
  return Json{
      {"apiVersion", "batch/v1"},
      {"kind", "CronJob"},
      {"metadata", meta},
      {"spec",
       {{"schedule", schedule},
        {"timeZone", "Etc/UTC"},
        {"concurrencyPolicy", "Forbid"},
        {"startingDeadlineSeconds", starting_deadline},
        {"successfulJobsHistoryLimit", 3},
        {"failedJobsHistoryLimit", 5},
        {"jobTemplate",
         {{"metadata", {{"labels", job_labels}}},
          {"spec",
           {{"backoffLimit", 0},
            {"activeDeadlineSeconds", 6 * 3600},
            {"template", {{"metadata", {{"labels", job_labels}}}, {"spec", pod_spec}}}}}}}}}};
}

Json state_claim(const CronOptions& o, const std::string& name, const Json& claim_labels) {
  return Json{{"apiVersion", "v1"},
              {"kind", "PersistentVolumeClaim"},
              {"metadata", metadata(o, name, claim_labels)},
              {"spec",
               {{"accessModes", Json::array({"ReadWriteOnce"})},
                {"resources", {{"requests", {{"storage", o.state_size}}}}}}}};
}

std::string render_kubernetes(const std::vector<CronSync>& syncs, const CronOptions& o) {
  std::vector<Json> docs;
  Json data = Json::object();
  std::map<std::string, std::string> key_of;  // spec file path -> ConfigMap key
  for (const auto& f : o.spec_files) {
    std::string key = f.sync.empty() ? f.path : config_map_key(f.sync);
    key_of[f.path] = key;
    data[key] = f.text;
  }
  Json config_map = {{"apiVersion", "v1"},
                     {"kind", "ConfigMap"},
                     {"metadata", metadata(o, o.name + "-specs", labels(o, "specs"))},
                     {"data", data}};
  docs.push_back(config_map);
  auto items_for = [&](const std::vector<const CronSync*>& members) {
    Json items = Json::array({{{"key", "synctool.toml"}, {"path", "synctool.toml"}}});
    for (const auto& f : o.spec_files)
      for (const auto* m : members)
        if (f.sync == m->name) items.push_back({{"key", key_of[f.path]}, {"path", f.path}});
    return items;
  };

  std::string out = header_line(o, "#");
  out += "# Apply: synctool cron --format kubernetes ... | kubectl apply -f -\n";
  out += "# The specs are in the ConfigMap " + o.name + "-specs (synctool.toml with state_dir = " + kStateMount +
         ");\n# the state is on a PersistentVolumeClaim (ReadWriteOnce) per CronJob.\n";
  if (o.one_job) {
    std::vector<const CronSync*> members;
    for (const auto& s : syncs) members.push_back(&s);
    auto env = union_env(syncs);
    if (!env.empty())
      out += "# Credentials: kubectl create secret generic " + o.secret + " --from-env-file=FILE, where FILE " +
             describe_env(env) + ".\n";
    for (const auto& s : syncs)
      out += "#   " + one_line(s.name) + ": " +
             (util::trim(s.schedule).empty() ? std::string("no schedule, never due") : schedule_words(s)) + "\n";
    Json job_labels = labels(o, "due");
    docs.push_back(state_claim(o, o.name + "-state", labels(o, "state")));
    docs.push_back(cron_job(o, o.name, "* * * * *", 50, due_args(), env,
                            items_for(members), o.name + "-state", job_labels,
                            Json{{"synctool/command", "run --due"}}));
  } else {
    auto env = union_env(syncs);
    if (!env.empty())
      out += "# Credentials: kubectl create secret generic " + o.secret + " --from-env-file=FILE, where FILE " +
             describe_env(env) + ".\n";
    for (const auto& s : syncs) {
      if (util::trim(s.schedule).empty()) {
        out += "# " + one_line(s.name) + " (" + one_line(s.file) + "): no schedule in the spec, no CronJob\n";
        continue;
      }
      std::string name = dns_label(o.name + "-" + s.name, 52);
      Json job_labels = labels(o, "sync");
      job_labels["synctool/sync"] = dns_label(s.name, 63);
      docs.push_back(state_claim(o, name + "-state", labels(o, "state")));
      docs.push_back(cron_job(o, name, *schedule_to_cron(s.schedule, s.name), 300, {"run", s.name}, s.env,
                              items_for({&s}), name + "-state", job_labels,
                              Json{{"synctool/sync", s.name}, {"synctool/schedule", util::trim(s.schedule)}}));
    }
  }
  for (const auto& doc : docs) {
    out += "---\n";
    emit_yaml(out, doc, 0);
  }
  return out;
}

}  // namespace

std::optional<std::string> interval_to_cron(std::int64_t interval_ms, std::string_view sync_name) {
  if (interval_ms <= 0 || interval_ms % 60000 != 0) return std::nullopt;
  const std::int64_t minutes = interval_ms / 60000;
  const std::uint64_t h = util::fnv1a64(sync_name);
  const auto minute = static_cast<int>(h % 60);
  if (minutes == 1) return "* * * * *";
  if (minutes < 60 && 60 % minutes == 0) {
    auto phase = static_cast<int>(h % static_cast<std::uint64_t>(minutes));
    return (phase == 0 ? "*/" : std::to_string(phase) + "-59/") + std::to_string(minutes) + " * * * *";
  }
  if (minutes % 60 != 0) return std::nullopt;
  const std::int64_t hours = minutes / 60;
  if (hours == 1) return std::to_string(minute) + " * * * *";
  if (hours < 24 && 24 % hours == 0) {
    auto phase = static_cast<int>((h / 60) % static_cast<std::uint64_t>(hours));
    return std::to_string(minute) + " " + (phase == 0 ? "*/" : std::to_string(phase) + "-23/") +
           std::to_string(hours) + " * * *";
  }
  const auto hour = static_cast<int>((h / 60) % 24);
  if (hours == 24) return std::to_string(minute) + " " + std::to_string(hour) + " * * *";
  if (hours == 24 * 7)
    return std::to_string(minute) + " " + std::to_string(hour) + " * * " + std::to_string((h / 1440) % 7);
  return std::nullopt;
}

std::optional<std::string> schedule_to_cron(std::string_view schedule, std::string_view sync_name) {
  std::string text = util::trim(schedule);
  if (auto interval = util::parse_duration(text)) return interval_to_cron(*interval, sync_name);
  static const std::map<std::string, std::string> kMacros = {
      {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
      {"@daily", "0 0 * * *"},  {"@midnight", "0 0 * * *"}, {"@hourly", "0 * * * *"}};
  if (auto macro = kMacros.find(text); macro != kMacros.end()) return macro->second;
  auto fields = cron_words(text);
  if (fields.size() != 5) return std::nullopt;
  for (std::size_t i = 0; i < 5; ++i) {
    if (fields[i] == "*/1") fields[i] = "*";
    std::vector<std::string> items;
    const std::string last = std::to_string(kFields[i].max == 7 ? 6 : kFields[i].max);
    for (const auto& item : util::split(fields[i], ',')) {
      auto slash = item.find('/');
      std::string range = item.substr(0, slash);
      if (slash != std::string::npos && range != "*" && range.find('-') == std::string::npos) {
        items.push_back(range + "-" + last + item.substr(slash));  // "5/15": Vixie cron wants "5-59/15"
      } else if (slash != std::string::npos && range == "*" && (i == 2 || i == 4)) {
        // A stepped day field restricts the days (synctool and Kubernetes read it so); Vixie
        // cron would take a leading '*' for "every day" when combining the two day fields.
        items.push_back(std::to_string(kFields[i].min) + "-" + last + item.substr(slash));
      } else {
        items.push_back(item);
      }
    }
    fields[i] = util::join(items, ",");
  }
  // Kubernetes reads day of week 0-6 only: a field naming 7 (Sunday) becomes a plain list.
  if (field_values(fields[4], kFields[4]).contains(7)) fields[4] = cron_list(weekdays(fields[4]));
  return util::join(fields, " ");
}

std::vector<std::string> cron_to_on_calendar(std::string_view cron) {
  auto f = cron_words(cron);
  if (f.size() != 5) return {};
  std::string time = calendar_field(field_values(f[1], kFields[1]), kFields[1]) + ":" +
                     calendar_field(field_values(f[0], kFields[0]), kFields[0]) + ":00";
  std::string month = calendar_field(field_values(f[3], kFields[3]), kFields[3]);
  std::string dom = calendar_field(field_values(f[2], kFields[2]), kFields[2]);
  auto days = weekdays(f[4]);
  std::string dow = days.size() == 7 ? "" : calendar_weekdays(days) + " ";
  // cron: when both day fields are restricted, a day matching either is enough.
  auto restricted = [](const std::string& field) { return field != "*" && field != "*/1"; };
  if (restricted(f[2]) && restricted(f[4]))
    return {"*-" + month + "-" + dom + " " + time + " UTC", dow + "*-" + month + "-* " + time + " UTC"};
  return {dow + "*-" + month + "-" + dom + " " + time + " UTC"};
}

std::string shell_quote(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

std::string dns_label(std::string_view text, std::size_t max_length) {
  std::string label;
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    char lower = static_cast<char>(std::tolower(u));
    bool ok = u < 0x80 && (std::isalnum(u) || c == '-');
    if (ok)
      label += lower;
    else if (!label.empty() && label.back() != '-')
      label += '-';
  }
  while (!label.empty() && label.front() == '-') label.erase(0, 1);
  while (!label.empty() && label.back() == '-') label.pop_back();
  if (label == text && label.size() <= max_length && !label.empty()) return label;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(util::fnv1a64(text) & 0xffffffffU));
  const std::size_t keep = max_length > 9 ? max_length - 9 : 0;
  if (label.size() > keep) label.resize(keep);
  while (!label.empty() && label.back() == '-') label.pop_back();
  return label.empty() ? std::string(buf) : label + "-" + buf;
}

std::string cron_problem(const std::vector<CronSync>& syncs, const CronOptions& options) {
  for (const auto& s : syncs)
    if (has_control(s.name)) return "sync name " + yaml_quoted(s.name) + " holds a control character";
  for (const std::string* path : {&options.binary, &options.working_dir, &options.env_file, &options.config_file})
    if (has_control(*path)) return "path " + yaml_quoted(*path) + " holds a control character";
  if (has_control(options.alert_command)) return "--alert-command holds a control character (write one line)";
  if (options.one_job && options.named_syncs && options.format != CronFormat::kubernetes)
    return "--one-job runs `run --due`, which runs every due sync of the project: name no syncs (on Kubernetes a "
           "group's ConfigMap holds only its syncs, so there --one-job takes names)";
  if (options.one_job || options.format == CronFormat::systemd) return "";
  for (const auto& s : syncs) {
    if (util::trim(s.schedule).empty() || schedule_to_cron(s.schedule, s.name)) continue;
    return s.file + ": sync " + s.name + ": schedule \"" + util::trim(s.schedule) +
           "\" has no exact cron form (an interval fits cron when it divides an hour, a day, or is 7d); "
           "write a cron expression, or use --one-job, where `run --due` every minute keeps any interval";
  }
  if (options.format == CronFormat::crontab && !options.one_job) {
    // Debian's cron reads a command of at most 1000 characters.
    for (const auto& s : syncs) {
      if (util::trim(s.schedule).empty()) continue;
      std::string line = crontab_command(options, {"run", s.name}, s.name);
      if (line.size() > 990)
        return "the crontab line of sync " + s.name + " is " + std::to_string(line.size()) +
               " characters; cron reads at most 1000: use shorter paths or --one-job";
    }
  }
  return "";
}

std::vector<CronFile> render_cron(const std::vector<CronSync>& syncs, const CronOptions& options) {
  switch (options.format) {
    case CronFormat::crontab:
      return {{"crontab", render_crontab(syncs, options)}};
    case CronFormat::systemd:
      return render_systemd(syncs, options);
    case CronFormat::kubernetes:
      return {{"synctool-cron.yaml", render_kubernetes(syncs, options)}};
  }
  return {};
}

}  // namespace synctool::cli
