// Expands command-line PATH arguments into a deterministic list of inputs and reads them.
// Directories are walked recursively in name order; a Maildir contributes cur/ and new/ (never
// tmp/, where deliveries are still being written) and its index files are skipped.
#pragma once

#include <string>
#include <vector>

#include "base/limits.h"
#include "base/result.h"

namespace dmarc::pipeline {

struct InputList {
  std::vector<std::string> files;   // "-" stands for standard input
  std::vector<std::string> errors;  // "PATH: reason" for arguments that do not exist
};

InputList ExpandInputs(const std::vector<std::string>& args);

// Reads a whole input, refusing one larger than limits.max_input_bytes.
Result<std::string> ReadInput(const std::string& path, const Limits& limits);

}  // namespace dmarc::pipeline
