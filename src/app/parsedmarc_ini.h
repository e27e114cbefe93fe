// `dmarc-report check-config --from-parsedmarc FILE`: reads a parsedmarc configuration (INI, as
// Python's configparser reads it) and writes the equivalent dmarc-report TOML. Every option of
// the file is accounted for: mapped onto a key, or written as a comment that names it and says
// why it has no equivalent (and, when its behaviour is lost, a warning). docs/migrating-from-
// parsedmarc.md has the whole table.
//
// The INI file is hostile input: its size and line length are bounded, it must be UTF-8, and
// what it names is only ever written as an escaped TOML string (values) or with its control
// characters escaped (option names in comments and warnings). Secrets (passwords) are never
// copied: the TOML names a password_file the user creates (ConvertOptions::secrets_dir).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace dmarc::app {

inline constexpr std::size_t kMaxIniBytes = 1024 * 1024;  // a parsedmarc.ini is a few KiB
inline constexpr std::size_t kMaxIniLineBytes = 8192;
inline constexpr std::size_t kMaxIniValueBytes = 64 * 1024;  // after continuation/interpolation

struct IniOption {
  std::string key;    // lower-cased, as configparser's optionxform does
  std::string value;  // trimmed, continuation lines joined with '\n', %% and %(name)s resolved
  int line = 0;
};

struct IniSection {
  std::string name;  // case kept (configparser's section names are case-sensitive)
  int line = 0;
  std::vector<IniOption> options;
};

struct IniFile {
  std::vector<IniSection> sections;  // in file order; [DEFAULT] too, when present
};

// configparser's rules: "[section]" headers, "key = value" or "key: value", full-line comments
// starting with '#' or ';', indented continuation lines, no option before the first section,
// no section or option twice, BasicInterpolation (%% and %(name)s). `name` prefixes every error:
// "NAME:LINE: what is wrong".
Result<IniFile> ParseIni(std::string_view text, const std::string& name);

// configparser's getboolean: 1/yes/true/on and 0/no/false/off, any case.
std::optional<bool> ParseIniBool(std::string_view value);

// A TOML basic string, quotes included, with ", \ and every control character escaped.
std::string TomlString(std::string_view s);

struct ConvertOptions {
  // Where the TOML's password files are expected (created by the user, mode 600).
  std::string secrets_dir = "/etc/dmarc-report";
};

struct ParsedmarcConversion {
  std::string toml;
  // One line per option whose behaviour dmarc-report does not reproduce, per secret to put in
  // a file, per unknown option: "NAME:LINE: [section] key: ...".
  std::vector<std::string> warnings;
};

// Errors: a syntax error, or a value parsedmarc itself would refuse (a port that is not a
// number, a boolean that is not one), each "NAME:LINE: ...".
Result<ParsedmarcConversion> ConvertParsedmarcIni(std::string_view text, const std::string& name,
                                                  const ConvertOptions& options);
// Reads the file (at most kMaxIniBytes) and converts it.
Result<ParsedmarcConversion> ConvertParsedmarcIniFile(const std::string& path,
                                                      const ConvertOptions& options);

// `check-config --from-parsedmarc INI`: the TOML on standard output, each warning on standard
// error ("warning: ..."); 0 when converted (warnings or not), 1 when the file cannot be read or
// is not a valid parsedmarc file (each error on standard error).
int RunFromParsedmarc(const std::string& ini, const ConvertOptions& options);

}  // namespace dmarc::app
