#include "pipeline/inputs.h"

#include <fmt/format.h>

#include <filesystem>
#include <system_error>

#include "base/files.h"

namespace dmarc::pipeline {

namespace fs = std::filesystem;

InputList ExpandInputs(const std::vector<std::string>& args) {
  InputList list;
  WalkRules rules;
  rules.maildir_aware = true;
  for (const auto& arg : args) {
    if (arg == "-") {
      list.files.push_back(arg);
      continue;
    }
    std::error_code ec;
    const fs::file_status st = fs::status(arg, ec);
    if (ec || !fs::exists(st)) {
      list.errors.push_back(fmt::format("{}: no such file or directory", arg));
    } else if (fs::is_directory(st)) {
      WalkFiles(arg, rules, list.files, list.errors);
    } else {
      list.files.push_back(arg);
      list.named.insert(arg);
    }
  }
  return list;
}

}  // namespace dmarc::pipeline
