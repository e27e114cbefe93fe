// Expands command-line PATH arguments into a deterministic list of inputs (ReadInput in
// base/files.h reads them). Directories are walked recursively in name order; a Maildir
// contributes cur/ and new/ (never tmp/, where deliveries are still being written) and its index
// files are skipped.
#pragma once

#include <set>
#include <string>
#include <vector>

namespace dmarc::pipeline {

struct InputList {
  std::vector<std::string> files;   // "-" stands for standard input
  std::vector<std::string> errors;  // "PATH: reason" for arguments that do not exist
  // The arguments that are files (not folders): a user's own argument is read even when it is a
  // symbolic link or a pipe; what is found inside a folder is read only when it is a regular
  // file, not a link (ExtractOptions::named_inputs).
  std::set<std::string> named;
};

InputList ExpandInputs(const std::vector<std::string>& args);

}  // namespace dmarc::pipeline
