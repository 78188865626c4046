// sample-contacts: writes deterministic sample contacts (HubSpot seed, Mailchimp seed, CSV) and
// prints their summary. The same options always give byte-identical files.
#include <charconv>
#include <cstdlib>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

#include "sample_contacts.hpp"

namespace {

using synctool::emulators::SampleContactsOptions;

constexpr const char* kUsage =
    "usage: sample-contacts [--count N] [--seed S] [--in-mailchimp 0.25] [--mailchimp-only N]\n"
    "                       [--list-name NAME] [--list-id ID] [--company-optional] [--clean]\n"
    "                       [--hubspot FILE] [--mailchimp FILE] [--csv FILE] [--summary]\n"
    "  --count N           HubSpot contacts (default 2000)\n"
    "  --seed S            generator seed, unsigned 64-bit (default 7)\n"
    "  --in-mailchimp X    share of contacts with a valid email already in the audience, 0..1 (default 0.25)\n"
    "  --mailchimp-only N  audience members that are not HubSpot contacts (default 40)\n"
    "  --list-name NAME    audience name (default main-audience)\n"
    "  --list-id ID        audience id (default a1b2c3d4e5)\n"
    "  --company-optional  COMPANY is not a required merge field\n"
    "  --clean             no dirty contacts (benchmarks)\n"
    "  --hubspot FILE      write the HubSpot emulator seed (JSON)\n"
    "  --mailchimp FILE    write the Mailchimp emulator seed (JSON)\n"
    "  --csv FILE          write the contacts as CSV\n"
    "  --summary           print the summary JSON on stdout\n";

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <class T>
T parse_number(const std::string& flag, const std::string& v) {
  T out{};
  const char* end = v.data() + v.size();
  const auto [ptr, ec] = std::from_chars(v.data(), end, out);
  if (v.empty() || ec != std::errc() || ptr != end) {
    std::string msg = flag;
    msg += ": not a valid number: '";
    msg += v;
    msg += "'";
    throw UsageError(msg);
  }
  return out;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    std::string msg = "cannot write ";
    msg += path;
    throw std::runtime_error(msg);
  }
}

}  // namespace

int main(int argc, char** argv) {
  namespace emu = synctool::emulators;
  SampleContactsOptions options;
  std::optional<std::string> hubspot_path, mailchimp_path, csv_path;
  bool print_summary = false;
  try {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      std::optional<std::string> inline_value;
      if (arg.starts_with("--")) {
        const auto eq = arg.find('=');
        if (eq != std::string::npos) {
          inline_value = arg.substr(eq + 1);
          arg.resize(eq);
        }
      }
      auto value = [&]() -> std::string {
        if (inline_value) return *inline_value;
        if (i + 1 >= argc) {
          std::string msg = arg;
          msg += ": missing value";
          throw UsageError(msg);
        }
        return argv[++i];
      };
      auto no_value = [&] {
        if (inline_value) {
          std::string msg = arg;
          msg += ": takes no value";
          throw UsageError(msg);
        }
      };
      if (arg == "--help" || arg == "-h") {
        std::cout << kUsage;
        return 0;
      } else if (arg == "--count") {
        options.count = parse_number<std::size_t>(arg, value());
      } else if (arg == "--seed") {
        options.seed = parse_number<std::uint64_t>(arg, value());
      } else if (arg == "--in-mailchimp") {
        const double share = parse_number<double>(arg, value());
        if (!(share >= 0.0 && share <= 1.0)) throw UsageError("--in-mailchimp: expected a share between 0 and 1");
        options.in_mailchimp = share;
      } else if (arg == "--mailchimp-only") {
        options.mailchimp_only = parse_number<std::size_t>(arg, value());
      } else if (arg == "--list-name") {
        options.list_name = value();
        if (options.list_name.empty()) throw UsageError("--list-name: must not be empty");
      } else if (arg == "--list-id") {
        options.list_id = value();
        if (options.list_id.empty()) throw UsageError("--list-id: must not be empty");
      } else if (arg == "--company-optional") {
        no_value();
        options.company_required = false;
      } else if (arg == "--clean") {
        no_value();
        options.dirty = false;
      } else if (arg == "--hubspot") {
        hubspot_path = value();
      } else if (arg == "--mailchimp") {
        mailchimp_path = value();
      } else if (arg == "--csv") {
        csv_path = value();
      } else if (arg == "--summary") {
        no_value();
        print_summary = true;
      } else {
        std::string msg = "unknown argument: ";
        msg += arg;
        throw UsageError(msg);
      }
    }
    if (!hubspot_path && !mailchimp_path && !csv_path && !print_summary)
      throw UsageError("nothing to do: give --hubspot, --mailchimp, --csv or --summary");
  } catch (const UsageError& e) {
    std::cerr << "sample-contacts: " << e.what() << "\n" << kUsage;
    return 2;
  }

  try {
    const emu::SampleData data = emu::make_sample_contacts(options);
    // Pretty-printed for readable demo files; compact for large ones (benchmark).
    const int indent = options.count > 5000 ? -1 : 1;
    if (hubspot_path) write_file(*hubspot_path, data.hubspot_seed.dump(indent) + "\n");
    if (mailchimp_path) write_file(*mailchimp_path, data.mailchimp_seed.dump(indent) + "\n");
    if (csv_path) write_file(*csv_path, emu::to_csv(data));
    if (print_summary) std::cout << emu::summary(data).dump(1) << "\n";
    std::cout.flush();
    // Freeing a hundred thousand JSON trees one node at a time is a sizeable share of a large
    // run; the process ends here anyway, so skip it (std::exit flushes and closes the streams).
    std::exit(std::cout ? 0 : 1);
  } catch (const std::exception& e) {
    std::cerr << "sample-contacts: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
