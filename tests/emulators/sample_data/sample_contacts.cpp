// Deterministic sample contacts: see sample_contacts.hpp.
#include "sample_contacts.hpp"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <span>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace synctool::emulators {
namespace {

using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Randomness: splitmix64 with self-written range mapping, so every machine gives the same output.

class Rng {
 public:
  Rng(std::uint64_t seed, std::uint64_t stream) : state_(seed ^ (stream * 0xD1B54A32D192ED03ULL)) { next(); }

  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n); the modulo bias (n / 2^64) is negligible for the sizes used here.
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : next() % n; }
  // Uniform in [lo, hi].
  std::int64_t between(std::int64_t lo, std::int64_t hi) {
    return lo + static_cast<std::int64_t>(below(static_cast<std::uint64_t>(hi - lo) + 1));
  }
  // Uniform in [0, 1) with 53 bits.
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  bool chance(double p) { return unit() < p; }
  template <class T>
  const T& pick(std::span<const T> items) {
    return items[below(items.size())];
  }
  template <class T>
  void shuffle(std::vector<T>& v) {
    for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[below(i)]);
  }

 private:
  std::uint64_t state_;
};

// Independent streams, so that e.g. a different audience share does not change the names.
enum Stream : std::uint64_t { kFlawStream = 1, kPeopleStream, kAudienceStream, kExtraStream };

// ---------------------------------------------------------------------------------------------
// Embedded data.

constexpr const char* kEnglishFirst[] = {"James", "Mary", "Robert", "Patricia", "Michael", "Jennifer", "William", "Linda",
                                         "David", "Sarah", "Ann", "John", "Zoë", "Chloë", "Bob", "Emily", "Mary-Kate", "Liam"};
constexpr const char* kEnglishLast[] = {"Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "O'Brien",
                                        "O'Connor", "Lee", "Taylor", "Anderson", "Wilson", "Thompson", "Clarke", "Smith-Jones",
                                        "Fitzgerald", "McAllister"};
constexpr const char* kSpanishFirst[] = {"José", "María", "Juan", "Sofía", "Alejandro", "Lucía", "Andrés", "Martín",
                                         "Valentina", "Camila", "Iñaki", "Ramón", "Ana Sofía"};
constexpr const char* kSpanishLast[] = {"García", "Martínez", "López", "Hernández", "González", "Pérez", "Rodríguez",
                                        "Sánchez", "Muñoz", "Gómez", "Núñez", "De la Cruz", "Ibáñez"};
constexpr const char* kGermanFirst[] = {"Jürgen", "Günther", "Anna", "Lena", "Lukas", "Jörg", "Mia", "Felix",
                                        "Sören", "Käthe", "Maximilian", "Hannah"};
constexpr const char* kGermanLast[] = {"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner",
                                       "Becker", "Schäfer", "Köhler", "Groß", "Bäcker-Hoffmann"};
constexpr const char* kFrenchFirst[] = {"François", "Chloé", "Amélie", "Hélène", "Jean-Luc", "Léa", "Noël",
                                        "Céline", "Gaël", "Zoé", "Étienne", "Loïc"};
constexpr const char* kFrenchLast[] = {"Dubois", "Lefèvre", "Moreau", "Girard", "Rousseau", "Fontaine", "Chevalier",
                                       "Bénard", "Lefebvre", "Côté", "Mercier", "D'Arcy"};
constexpr const char* kNordicFirst[] = {"Søren", "Åsa", "Björn", "Ingrid", "Lars", "Sigrún", "Mikael", "Freja",
                                        "Ørjan", "Elin"};
constexpr const char* kNordicLast[] = {"Andersen", "Nielsen", "Johansson", "Lindqvist", "Åberg", "Sørensen",
                                       "Halvorsen", "Björklund", "Ólafsson", "Eriksson"};
constexpr const char* kVietnameseFirst[] = {"Anh", "Minh", "Thảo", "Đức", "Huyền", "Phương", "Quang", "Linh",
                                            "Tuấn", "Hương"};
constexpr const char* kVietnameseLast[] = {"Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ",
                                           "Đặng"};
constexpr const char* kCentralFirst[] = {"Łukasz", "Zofia", "Wojciech", "Agnieszka", "Jiří", "Tomáš", "Ayşe",
                                         "Mehmet", "Oğuz", "Gökhan", "Zsófia", "Dávid"};
constexpr const char* kCentralLast[] = {"Kowalski", "Wiśniewska", "Nowak", "Dvořák", "Novák", "Kowalczyk",
                                        "Wójcik", "Yılmaz", "Çelik", "Şahin", "Öztürk", "Szűcs"};
constexpr const char* kAsianFirst[] = {"Priya", "Arjun", "Wei", "Mei", "Hiroshi", "Yuki", "Ji-woo", "Min-jun",
                                       "Aisha", "Omar", "Chidi", "Ngozi"};
constexpr const char* kAsianLast[] = {"Patel", "Sharma", "Singh", "Wang", "Li", "Zhang", "Tanaka", "Satō", "Kim",
                                      "Park", "Al-Sayed", "Okafor", "Adeyemi"};
constexpr const char* kSouthernFirst[] = {"Siobhán", "Seán", "Giulia", "Marco", "Niccolò", "Chiara", "Daan",
                                          "Sanne", "João", "Conceição"};
constexpr const char* kSouthernLast[] = {"Rossi", "Bianchi", "Ferrari", "Esposito", "D'Angelo", "De Luca",
                                         "van der Berg", "de Vries", "Gonçalves", "Ní Bhriain"};

constexpr const char* kGenericFreeMail[] = {"gmail.com", "outlook.com", "yahoo.com", "hotmail.com", "icloud.com",
                                            "proton.me", "aol.com"};
constexpr const char* kEnglishFreeMail[] = {"yahoo.co.uk", "btinternet.com", "comcast.net"};
constexpr const char* kSpanishFreeMail[] = {"telefonica.net", "yahoo.es"};
constexpr const char* kGermanFreeMail[] = {"gmx.de", "web.de", "t-online.de"};
constexpr const char* kFrenchFreeMail[] = {"orange.fr", "free.fr", "laposte.net"};
constexpr const char* kNordicFreeMail[] = {"telia.se", "online.no"};
constexpr const char* kVietnameseFreeMail[] = {"yahoo.com.vn"};
constexpr const char* kCentralFreeMail[] = {"wp.pl", "seznam.cz", "freemail.hu"};
constexpr const char* kAsianFreeMail[] = {"rediffmail.com", "qq.com", "naver.com"};
constexpr const char* kSouthernFreeMail[] = {"libero.it", "eircom.net", "sapo.pt"};

struct Region {
  std::span<const char* const> first;
  std::span<const char* const> last;
  std::span<const char* const> free_mail;
  unsigned weight;
};

const Region kRegions[] = {
    {kEnglishFirst, kEnglishLast, kEnglishFreeMail, 34}, {kSpanishFirst, kSpanishLast, kSpanishFreeMail, 12},
    {kGermanFirst, kGermanLast, kGermanFreeMail, 10},    {kFrenchFirst, kFrenchLast, kFrenchFreeMail, 9},
    {kNordicFirst, kNordicLast, kNordicFreeMail, 6},     {kVietnameseFirst, kVietnameseLast, kVietnameseFreeMail, 7},
    {kCentralFirst, kCentralLast, kCentralFreeMail, 8},  {kAsianFirst, kAsianLast, kAsianFreeMail, 9},
    {kSouthernFirst, kSouthernLast, kSouthernFreeMail, 5},
};

struct Company {
  const char* name;
  const char* domain;
};

constexpr Company kCompanies[] = {
    {"Acme, Inc.", "acme.com"},
    {"Smith & Sons", "smithandsons.co.uk"},
    {"Café Müller GmbH", "cafe-mueller.de"},
    {"Globex Corporation", "globex.com"},
    {"Initech", "initech.com"},
    {"Umbrella Holdings, Ltd.", "umbrella-holdings.co.uk"},
    {"Stark Industries", "starkindustries.com"},
    {"Wayne Enterprises", "wayne-ent.com"},
    {"Johnson & Johansson AB", "jj-ab.se"},
    {"Société Générale des Eaux", "sge-eaux.fr"},
    {"Nordlicht Software AG", "nordlicht.ch"},
    {"Østergaard & Co.", "ostergaard.dk"},
    {"Hoàng Long Trading Co., Ltd.", "hoanglong.vn"},
    {"Panadería García, S.L.", "panaderiagarcia.es"},
    {"Müller-Lüdenscheidt KG", "mueller-luedenscheidt.de"},
    {"O'Reilly Logistics", "oreilly-logistics.ie"},
    {"Tanaka Precision K.K.", "tanaka-precision.jp"},
    {"Blue Harbor Analytics", "blueharbor.io"},
    {"Redwood & Pine LLP", "redwoodpine.com"},
    {"Brightside Health, Inc.", "brightsidehealth.com"},
    {"Northwind Traders", "northwind.com"},
    {"Contoso Ltd.", "contoso.com"},
    {"Fabrikam, Inc.", "fabrikam.com"},
    {"Tailspin Toys", "tailspintoys.com"},
    {"Wide World Importers", "wideworldimporters.com"},
    {"Adventure Works Cycles", "adventure-works.com"},
    {"Litware, Inc.", "litware.com"},
    {"Proseware", "proseware.com"},
    {"Lamna Healthcare Company", "lamna.com"},
    {"Woodgrove Bank", "woodgrovebank.com"},
    {"Coho Winery", "cohowinery.com"},
    {"Fourth Coffee", "fourthcoffee.com"},
    {"Trey Research", "treyresearch.net"},
    {"Alpine Ski House", "alpineskihouse.com"},
    {"Kowalski i Synowie Sp. z o.o.", "kowalski-synowie.pl"},
    {"Dvořák Strojírny s.r.o.", "dvorak-strojirny.cz"},
    {"Yılmaz Tekstil A.Ş.", "yilmaztekstil.com.tr"},
    {"Bäckerei Schäfer", "baeckerei-schaefer.de"},
    {"Les Délices de Léa SARL", "delicesdelea.fr"},
    {"Rossi & Bianchi S.p.A.", "rossibianchi.it"},
    {"Van der Berg Bouw B.V.", "vdberg-bouw.nl"},
    {"Patel Pharma Pvt. Ltd.", "patelpharma.in"},
    {"Seoul Semiconductor Partners", "ssp.kr"},
    {"Okafor & Adeyemi Legal", "okafor-adeyemi.ng"},
    {"Joe's \"Famous\" Diner, LLC", "joesfamousdiner.com"},
    {"Pied Piper", "piedpiper.com"},
    {"Hooli", "hooli.xyz"},
    {"Vandelay Industries", "vandelay.com"},
    {"Dunder Mifflin Paper Co.", "dundermifflin.com"},
    {"Soylent Corp.", "soylent.com"},
    {"Cyberdyne Systems", "cyberdyne.ai"},
    {"Massive Dynamic", "massivedynamic.com"},
    {"Gringotts & Partners", "gringotts.co.uk"},
    {"Sørensen Marine ApS", "sorensen-marine.dk"},
    {"Ólafsson Fisheries ehf.", "olafsson.is"},
    {"Huỳnh Phát Technology JSC", "huynhphat.vn"},
    {"Aurora Borealis Oy", "aurora.fi"},
    {"Straße & Weg Planung GmbH", "strasse-weg.de"},
};

// Reserved top-level domains (the address keeps its company label: ann.lee@acme.invalid) and
// the domains reserved for examples (ann.lee@example.com): Mailchimp refuses both as fake.
constexpr const char* kReservedDomains[] = {"invalid", "test", "example", "localhost",
                                            "example.com", "example.org", "example.net"};

// ---------------------------------------------------------------------------------------------
// ASCII folding for email local parts: "José" -> "jose", "O'Brien" -> "obrien", "Nguyễn" -> "nguyen".

// U+00C0..U+00FF; 'A' = "ae", 'T' = "th", 'S' = "ss", '_' = dropped.
constexpr std::string_view kLatin1 = "aaaaaaAceeeeiiiidnooooo_ouuuuyTSaaaaaaAceeeeiiiidnooooo_ouuuuyTy";
// U+0100..U+017F; 'J' = "ij", 'O' = "oe".
constexpr std::string_view kLatinExtA =
    "aaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiiiJJjjkkkllllllllllnnnnnnnnnooooooOOrrrrrrssssssssttttttuuuuuuuuuuuu"
    "wwyyyzzzzzzs";
static_assert(kLatin1.size() == 64);
static_assert(kLatinExtA.size() == 128);

void fold_code_point(char32_t cp, std::string& out) {
  auto expand = [&out](char c) {
    switch (c) {
      case 'A': out += "ae"; break;
      case 'T': out += "th"; break;
      case 'S': out += "ss"; break;
      case 'J': out += "ij"; break;
      case 'O': out += "oe"; break;
      case '_': break;
      default: out += c;
    }
  };
  if (cp < 0x80) {
    const char c = static_cast<char>(cp);
    if (c >= 'A' && c <= 'Z') out += static_cast<char>(c - 'A' + 'a');
    else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') out += c;
    // Apostrophes, spaces, dots and everything else are dropped.
  } else if (cp >= 0xC0 && cp <= 0xFF) {
    expand(kLatin1[cp - 0xC0]);
  } else if (cp >= 0x100 && cp <= 0x17F) {
    expand(kLatinExtA[cp - 0x100]);
  } else if (cp == 0x1A0 || cp == 0x1A1) {
    out += 'o';  // Ơ ơ
  } else if (cp == 0x1AF || cp == 0x1B0) {
    out += 'u';  // Ư ư
  } else if (cp >= 0x1EA0 && cp <= 0x1EF9) {  // Vietnamese letters with two marks
    if (cp <= 0x1EB7) out += 'a';
    else if (cp <= 0x1EC7) out += 'e';
    else if (cp <= 0x1ECB) out += 'i';
    else if (cp <= 0x1EE3) out += 'o';
    else if (cp <= 0x1EF1) out += 'u';
    else out += 'y';
  }
  // Anything else (combining marks, typographic apostrophes, other scripts) is dropped.
}

// Lower-case ASCII letters, digits and inner single hyphens.
std::string ascii_fold(std::string_view s) {
  std::string raw;
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = 1;
    char32_t cp = c;
    if (c >= 0xF0) len = 4, cp = c & 0x07;
    else if (c >= 0xE0) len = 3, cp = c & 0x0F;
    else if (c >= 0xC0) len = 2, cp = c & 0x1F;
    else if (c >= 0x80) len = 0;  // stray continuation byte
    if (len == 0 || i + len > s.size()) {
      ++i;
      continue;
    }
    for (std::size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    fold_code_point(cp, raw);
    i += len;
  }
  std::string out;
  for (char c : raw) {
    if (c == '-' && (out.empty() || out.back() == '-')) continue;
    out += c;
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

char upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Capital letter at the start of every run of letters: "ann.lee" -> "Ann.Lee".
std::string title_case(std::string s) {
  bool start = true;
  for (char& c : s) {
    if (is_alpha(c)) {
      if (start) c = upper(c);
      start = false;
    } else {
      start = true;
    }
  }
  return s;
}

std::string upper_all(std::string s) {
  for (char& c : s) c = upper(c);
  return s;
}

// ---------------------------------------------------------------------------------------------
// Time: proleptic Gregorian calendar (Howard Hinnant's algorithms), UTC only.

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct Civil {
  std::int64_t year;
  unsigned month, day, hour, minute, second;
};

Civil civil_from_seconds(std::int64_t t) {
  std::int64_t z = t >= 0 ? t / 86400 : (t - 86399) / 86400;
  const auto secs = static_cast<unsigned>(t - z * 86400);
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2);
  return {y, m, d, secs / 3600, secs / 60 % 60, secs % 60};
}

std::int64_t epoch_seconds(std::int64_t y, unsigned m, unsigned d) { return days_from_civil(y, m, d) * 86400; }

void put_digits(std::string& out, std::int64_t v, int width) {
  char buf[20];
  int n = 0;
  auto u = static_cast<std::uint64_t>(v < 0 ? -v : v);
  do {
    buf[n++] = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u != 0 && n < 20);
  if (v < 0) out += '-';
  for (int i = n; i < width; ++i) out += '0';
  while (n > 0) out += buf[--n];
}

// "2025-03-04T05:06:07" (years 0..9999 in this generator's range)
void put_date_time(std::string& out, std::int64_t seconds) {
  const Civil c = civil_from_seconds(seconds);
  put_digits(out, c.year, 4);
  out += '-';
  put_digits(out, c.month, 2);
  out += '-';
  put_digits(out, c.day, 2);
  out += 'T';
  put_digits(out, c.hour, 2);
  out += ':';
  put_digits(out, c.minute, 2);
  out += ':';
  put_digits(out, c.second, 2);
}

// "2025-03-04T05:06:07.089Z" (non-negative epoch milliseconds)
std::string iso_millis(std::int64_t ms) {
  std::string out;
  out.reserve(24);
  put_date_time(out, ms / 1000);
  out += '.';
  put_digits(out, ms % 1000, 3);
  out += 'Z';
  return out;
}

// "2024-09-12T08:15:30+00:00"
std::string iso_offset(std::int64_t s) {
  std::string out;
  out.reserve(25);
  put_date_time(out, s);
  out += "+00:00";
  return out;
}

// ---------------------------------------------------------------------------------------------
// People and emails.

struct Person {
  const Region* region;
  const char* first;  // display names
  const char* last;
  const Company* company;
  const std::string* fn;  // ASCII-folded
  const std::string* ln;
};

const Region& pick_region(Rng& rng) {
  unsigned total = 0;
  for (const Region& r : kRegions) total += r.weight;
  auto x = static_cast<unsigned>(rng.below(total));
  for (const Region& r : kRegions) {
    if (x < r.weight) return r;
    x -= r.weight;
  }
  return kRegions[0];
}

// The folded forms of the embedded names, computed once (thread-safe static; lookups only).
const std::string& folded(const char* name) {
  static const std::unordered_map<const char*, std::string> cache = [] {
    std::unordered_map<const char*, std::string> m;
    for (const Region& r : kRegions) {
      for (const char* n : r.first) m.emplace(n, ascii_fold(n));
      for (const char* n : r.last) m.emplace(n, ascii_fold(n));
    }
    for (auto& [n, f] : m)
      if (f.empty()) f = "x";
    return m;
  }();
  return cache.at(name);
}

Person make_person(Rng& rng) {
  Person p;
  p.region = &pick_region(rng);
  p.first = rng.pick(p.region->first);
  p.last = rng.pick(p.region->last);
  p.company = &rng.pick(std::span<const Company>(kCompanies));
  p.fn = &folded(p.first);
  p.ln = &folded(p.last);
  return p;
}

std::string first_label(const std::string& domain) { return domain.substr(0, domain.find('.')); }

// The email addresses in use, lower-cased: HubSpot requires uniqueness ignoring case, the
// audience requires it too.
class EmailBook {
 public:
  explicit EmailBook(std::size_t expected) { used_.reserve(expected); }
  // build(n) gives the n-th candidate (n = 1, 2, ...); the first one not in use is taken.
  template <class Build>
  std::string claim(Build build) {
    for (int n = 1;; ++n) {
      std::string candidate = build(n);
      if (used_.insert(lower(candidate)).second) return candidate;
    }
  }

 private:
  std::unordered_set<std::string> used_;
};

std::string suffix(int n) { return n <= 1 ? std::string() : std::to_string(n); }

std::string join_email(const std::string& local, const std::string& domain) {
  std::string e = local;
  e += '@';
  e += domain;
  return e;
}

// A valid, lower-case address derived from the name, in one of several realistic patterns.
std::string valid_email(Rng& rng, const Person& p, EmailBook& book) {
  const std::string& fn = *p.fn;
  const std::string& ln = *p.ln;
  const std::string fi(1, fn[0]);
  std::string local;
  std::string domain;
  if (rng.chance(0.55)) {  // work address
    domain = p.company->domain;
    const auto r = rng.below(100);
    if (r < 50) local = fn + "." + ln;
    else if (r < 75) local = fi + ln;
    else if (r < 85) local = fn;
    else if (r < 92) local = fn + "_" + ln;
    else local = ln + "." + fn;
  } else {
    domain = rng.chance(0.7) ? rng.pick(std::span<const char* const>(kGenericFreeMail)) : rng.pick(p.region->free_mail);
    const auto r = rng.below(100);
    const std::string nn = std::to_string(rng.between(1, 99));
    if (r < 25) local = fn + "." + ln;
    else if (r < 40) local = fi + ln;
    else if (r < 55) local = fn + "_" + ln + nn;
    else if (r < 70) local = fn + ln + nn;
    else if (r < 80) local = fn + "." + ln.substr(0, 1);
    else if (r < 90) local = ln + fi + nn;
    else local = fn + "." + ln + std::to_string(rng.between(1960, 2004));
  }
  return book.claim([&](int n) { return join_email(local + suffix(n), domain); });
}

// An address HubSpot accepts (one @, not first, no whitespace, the domain has a dot not at its
// start and does not end with one) but Mailchimp refuses.
std::string invalid_email(Rng& rng, const Person& p, EmailBook& book) {
  const std::string domain =
      rng.chance(0.5) ? std::string(p.company->domain) : std::string(rng.pick(std::span<const char* const>(kGenericFreeMail)));
  const std::string label = first_label(domain);
  const auto kind = rng.below(6);
  const std::string reserved = rng.pick(std::span<const char* const>(kReservedDomains));
  const std::string reserved_domain = reserved.find('.') != std::string::npos ? reserved : label + "." + reserved;
  return book.claim([&](int n) {
    const std::string fn = *p.fn + suffix(n);
    const std::string& ln = *p.ln;
    switch (kind) {
      case 0: return join_email(fn + ".." + ln, domain);                 // john..smith@gmail.com
      case 1: return join_email(fn + "." + ln, reserved_domain);  // ann.lee@acme.invalid, ann.lee@example.com
      case 2: return join_email(fn.substr(0, 1) + ln + suffix(n), label + "." + domain.substr(domain.rfind('.') + 1, 1));  // bob@mail.c
      case 3: return join_email(fn + ".", domain);                         // john.@gmail.com
      case 4: return join_email("." + fn + ln, domain);                  // .johnsmith@gmail.com
      default: return join_email(fn + "." + ln, label + ".c0m");         // typo: digit in the TLD
    }
  });
}

// "ann.lee@acme.com" -> "Ann.Lee@Acme.COM" and similar; always differs from the input.
std::string mixed_case(Rng& rng, const std::string& email) {
  const auto at = email.find('@');
  const std::string local = email.substr(0, at);
  const std::string domain = email.substr(at + 1);
  const auto dot = domain.rfind('.');
  switch (rng.below(4)) {
    case 0: return join_email(title_case(local), title_case(domain.substr(0, dot)) + upper_all(domain.substr(dot)));
    case 1: return join_email(title_case(local), domain);
    case 2: return upper_all(email);
    default: return join_email(title_case(local), title_case(domain));
  }
}

// Exact counts of each value at random positions: counts[i] of values[i], the rest `fill`.
template <class T>
std::vector<T> spread(Rng& rng, std::size_t n, std::initializer_list<std::pair<T, double>> shares, T fill) {
  std::vector<T> out;
  out.reserve(n);
  for (const auto& [value, share] : shares) {
    const auto k = static_cast<std::size_t>(std::llround(static_cast<double>(n) * share));
    for (std::size_t i = 0; i < k && out.size() < n; ++i) out.push_back(value);
  }
  while (out.size() < n) out.push_back(fill);
  rng.shuffle(out);
  return out;
}

std::string different(Rng& rng, std::span<const char* const> pool, const std::string& current) {
  for (int tries = 0; tries < 100; ++tries) {
    std::string v = rng.pick(pool);
    if (v != current) return v;
  }
  return current + " Sr.";
}

std::span<const char* const> company_names() {
  static const std::vector<const char*> names = [] {
    std::vector<const char*> v;
    for (const Company& co : kCompanies) v.push_back(co.name);
    return v;
  }();
  return names;
}

json merge_field(const char* tag, const char* name, const char* type, bool required) {
  return json{{"tag", tag}, {"name", name}, {"type", type}, {"required", required}};
}

json member_json(const std::string& email, const std::string& status, const std::string& fname,
                 const std::string& lname, const std::string& company, std::int64_t last_changed) {
  json fields = json::object();
  auto& f = fields.get_ref<json::object_t&>();
  f.emplace("FNAME", fname);
  f.emplace("LNAME", lname);
  f.emplace("COMPANY", company);
  json member = json::object();
  auto& m = member.get_ref<json::object_t&>();
  m.emplace("email_address", email);
  m.emplace("status", status);
  m.emplace("merge_fields", std::move(fields));
  m.emplace("last_changed", iso_offset(last_changed));
  return member;
}

void csv_field(std::string& out, const std::string& v) {
  if (v.find_first_of(",\"\r\n") == std::string::npos) {
    out += v;
    return;
  }
  out += '"';
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

}  // namespace

const char* to_string(ContactFlaw flaw) {
  switch (flaw) {
    case ContactFlaw::none: return "none";
    case ContactFlaw::mixed_case_email: return "mixed_case_email";
    case ContactFlaw::missing_first_name: return "missing_first_name";
    case ContactFlaw::missing_last_name: return "missing_last_name";
    case ContactFlaw::missing_company: return "missing_company";
    case ContactFlaw::invalid_email: return "invalid_email";
    case ContactFlaw::no_email: return "no_email";
  }
  return "none";
}

SampleData make_sample_contacts(const SampleContactsOptions& options) {
  const std::size_t n = options.count;
  const double share = std::clamp(std::isnan(options.in_mailchimp) ? 0.0 : options.in_mailchimp, 0.0, 1.0);

  Rng flaw_rng(options.seed, kFlawStream);
  Rng people_rng(options.seed, kPeopleStream);
  Rng audience_rng(options.seed, kAudienceStream);
  Rng extra_rng(options.seed, kExtraStream);

  using F = ContactFlaw;
  std::vector<F> flaws = options.dirty ? spread<F>(flaw_rng, n,
                                                   {{F::mixed_case_email, 0.12},
                                                    {F::missing_first_name, 0.03},
                                                    {F::missing_last_name, 0.03},
                                                    {F::missing_company, 0.03},
                                                    {F::invalid_email, 0.02},
                                                    {F::no_email, 0.01}},
                                                   F::none)
                                       : std::vector<F>(n, F::none);

  const std::int64_t updated_from = epoch_seconds(2025, 1, 1) * 1000;
  const std::int64_t updated_to = epoch_seconds(2026, 11, 1) * 1000 - 1;
  const std::int64_t day_ms = 86'400'000;

  SampleData data;
  data.contacts.reserve(n);
  std::vector<Person> people;
  people.reserve(n);
  EmailBook book(n + options.mailchimp_only);
  for (std::size_t i = 0; i < n; ++i) {
    Person p = make_person(people_rng);
    SampleContact c;
    c.id = std::to_string(1001 + i);
    c.flaw = flaws[i];
    c.firstname = c.flaw == F::missing_first_name ? "" : p.first;
    c.lastname = c.flaw == F::missing_last_name ? "" : p.last;
    c.company = c.flaw == F::missing_company ? "" : p.company->name;
    switch (c.flaw) {
      case F::no_email: break;
      case F::invalid_email: c.email = invalid_email(people_rng, p, book); break;
      case F::mixed_case_email: c.email = mixed_case(people_rng, valid_email(people_rng, p, book)); break;
      default: c.email = valid_email(people_rng, p, book);
    }
    const std::int64_t updated = people_rng.between(updated_from, updated_to);
    const std::int64_t age = people_rng.between(day_ms / 24, 3 * 365 * day_ms);
    c.updated_at = iso_millis(updated);
    c.created_at = iso_millis(updated - age);
    data.contacts.push_back(std::move(c));
    people.push_back(std::move(p));
  }

  // The audience: which contacts it shares, with which status, and which members are stale.
  std::vector<std::size_t> eligible;
  for (std::size_t i = 0; i < n; ++i)
    if (flaws[i] != F::invalid_email && flaws[i] != F::no_email) eligible.push_back(i);
  audience_rng.shuffle(eligible);
  eligible.resize(static_cast<std::size_t>(std::llround(static_cast<double>(eligible.size()) * share)));
  std::sort(eligible.begin(), eligible.end());
  const std::size_t k = eligible.size();
  const std::vector<std::string> statuses =
      spread<std::string>(audience_rng, k, {{"unsubscribed", 0.06}, {"cleaned", 0.02}}, "subscribed");
  const std::vector<char> stale = spread<char>(audience_rng, k, {{1, 0.20}}, 0);

  const std::int64_t changed_from = epoch_seconds(2024, 6, 1);
  const std::int64_t changed_to = epoch_seconds(2025, 6, 1) - 1;

  json members = json::array();
  for (std::size_t j = 0; j < k; ++j) {
    SampleContact& c = data.contacts[eligible[j]];
    const Person& p = people[eligible[j]];
    std::string fname = c.firstname;
    std::string lname = c.lastname;
    std::string company = c.company;
    // A required COMPANY cannot be empty in the audience: the member keeps the former company.
    if (company.empty() && options.company_required) company = p.company->name;
    if (stale[j]) {
      const auto r = audience_rng.below(100);
      if (r < 40) {
        lname = different(audience_rng, p.region->last, lname);  // e.g. a former (maiden) name
      } else if (r < 80) {
        company = different(audience_rng, company_names(), company);  // a former employer
      } else if (r < 90) {
        fname = different(audience_rng, p.region->first, fname);
      } else {
        lname = different(audience_rng, p.region->last, lname);
        company = different(audience_rng, company_names(), company);
      }
    }
    c.in_mailchimp = true;
    c.mailchimp_email = lower(c.email);
    c.mailchimp_status = statuses[j];
    c.mailchimp_stale = fname != c.firstname || lname != c.lastname || company != c.company;
    members.push_back(member_json(c.mailchimp_email, c.mailchimp_status, fname, lname, company,
                                  audience_rng.between(changed_from, changed_to)));
  }

  // Members that are not HubSpot contacts.
  const std::vector<std::string> extra_statuses = spread<std::string>(
      extra_rng, options.mailchimp_only, {{"unsubscribed", 0.20}, {"cleaned", 0.10}}, "subscribed");
  for (std::size_t j = 0; j < options.mailchimp_only; ++j) {
    const Person p = make_person(extra_rng);
    const std::string email = valid_email(extra_rng, p, book);
    members.push_back(member_json(email, extra_statuses[j], p.first, p.last, p.company->name,
                                  extra_rng.between(changed_from, changed_to)));
  }

  // Seeds.
  json hubspot_contacts = json::array();
  auto& hubspot_array = hubspot_contacts.get_ref<json::array_t&>();
  hubspot_array.reserve(n);
  for (const SampleContact& c : data.contacts) {
    json props = json::object();
    auto& pm = props.get_ref<json::object_t&>();
    if (!c.email.empty()) pm.emplace("email", c.email);
    if (!c.firstname.empty()) pm.emplace("firstname", c.firstname);
    if (!c.lastname.empty()) pm.emplace("lastname", c.lastname);
    if (!c.company.empty()) pm.emplace("company", c.company);
    json record = json::object();
    auto& rm = record.get_ref<json::object_t&>();
    rm.emplace("id", c.id);
    rm.emplace("properties", std::move(props));
    rm.emplace("createdAt", c.created_at);
    rm.emplace("updatedAt", c.updated_at);
    hubspot_array.push_back(std::move(record));
  }
  data.hubspot_seed = json{{"objects", json{{"contacts", std::move(hubspot_contacts)}}}};

  json list = json::object();
  list["id"] = options.list_id;
  list["name"] = options.list_name;
  list["merge_fields"] = json::array({merge_field("FNAME", "First Name", "text", false),
                                      merge_field("LNAME", "Last Name", "text", false),
                                      merge_field("COMPANY", "Company", "text", options.company_required),
                                      merge_field("PHONE", "Phone Number", "phone", false)});
  list["members"] = std::move(members);
  data.mailchimp_seed = json{{"lists", json::array({std::move(list)})}};
  return data;
}

std::string to_csv(const SampleData& data) {
  std::string out = "id,email,firstname,lastname,company,updated_at\n";
  for (const SampleContact& c : data.contacts) {
    for (const std::string* field : {&c.id, &c.email, &c.firstname, &c.lastname, &c.company}) {
      csv_field(out, *field);
      out += ',';
    }
    csv_field(out, c.updated_at);
    out += '\n';
  }
  return out;
}

json summary(const SampleData& data) {
  json flaws = json::object();
  for (ContactFlaw f : {ContactFlaw::mixed_case_email, ContactFlaw::missing_first_name, ContactFlaw::missing_last_name,
                        ContactFlaw::missing_company, ContactFlaw::invalid_email, ContactFlaw::no_email})
    flaws[to_string(f)] = 0;
  std::size_t in_mailchimp = 0, stale = 0, unsubscribed = 0, cleaned = 0;
  for (const SampleContact& c : data.contacts) {
    if (c.flaw != ContactFlaw::none) flaws[to_string(c.flaw)] = flaws[to_string(c.flaw)].get<std::size_t>() + 1;
    if (!c.in_mailchimp) continue;
    ++in_mailchimp;
    if (c.mailchimp_stale) ++stale;
    if (c.mailchimp_status == "unsubscribed") ++unsubscribed;
    if (c.mailchimp_status == "cleaned") ++cleaned;
  }
  std::size_t members = 0;
  if (data.mailchimp_seed.is_object() && data.mailchimp_seed.contains("lists"))
    for (const json& list : data.mailchimp_seed["lists"])
      if (list.contains("members")) members += list["members"].size();
  return json{{"contacts", data.contacts.size()},
              {"flaws", std::move(flaws)},
              {"in_mailchimp", in_mailchimp},
              {"stale", stale},
              {"unsubscribed", unsubscribed},
              {"cleaned", cleaned},
              {"mailchimp_only", members >= in_mailchimp ? members - in_mailchimp : 0}};
}

}  // namespace synctool::emulators
