// The output types: `type = "..."` of an [output.NAME] table → the factory that makes it.
// Each type's factory (Make...Output in its own header) is listed once in registry.cc's table;
// tests and embedders may add more with Register.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "outputs/output.h"

namespace dmarc::outputs {

using Factory = std::function<Result<std::unique_ptr<Output>>(const OutputConfig&)>;

// Adds (or replaces) the factory of `type`. Not thread-safe: call before outputs are made.
void Register(const std::string& type, Factory factory);

// The known types, sorted.
std::vector<std::string> KnownTypes();

// The output of config.type, made by its factory (which checks its keys); an unknown type is an
// error naming the known ones ("output.NAME.type: ...").
Result<std::unique_ptr<Output>> MakeOutput(const OutputConfig& config);

}  // namespace dmarc::outputs
