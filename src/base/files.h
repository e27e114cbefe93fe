// Files on disk: reading one whole input under a size limit, and the one directory walker (used
// for `parse`/`import` arguments and for `fetch`'s Maildir and drop folders, each with its rules).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "base/limits.h"
#include "base/result.h"

namespace dmarc {

// Reads a whole input ("-" is standard input), refusing one larger than limits.max_input_bytes.
Result<std::string> ReadInput(const std::string& path, const Limits& limits);

// What a walk leaves out. Whatever the rules, symbolic links to directories are not followed and
// every directory's entries are taken in name order.
struct WalkRules {
  // Names starting with a dot (files still being written into a drop folder, then renamed).
  bool skip_hidden = false;
  // In a Maildir (cur/, new/ and tmp/ all present): tmp/, where deliveries are still being
  // written, and the index files of mail servers (dovecot*, courier*, subscriptions, ...).
  bool maildir_aware = false;
  // Directories right under the root that are not walked (a drop folder's processed/, invalid/).
  std::vector<std::string> skip_top_level;
  // Levels below the root walked; a deeper directory is an error when deep_is_error, else left
  // out silently.
  int max_depth = 64;
  bool deep_is_error = true;
};

// Appends the regular files under `dir` to `files`, and "DIR: reason" for each directory that
// cannot be read (or is too deep) to `errors`.
void WalkFiles(const std::filesystem::path& dir, const WalkRules& rules,
               std::vector<std::string>& files, std::vector<std::string>& errors);

}  // namespace dmarc
