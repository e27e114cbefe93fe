// The front end, bundled from web/ at build time and embedded in the binary (no runtime files).
#pragma once

#include <string_view>

namespace dmarc::web {

struct Asset {
  std::string_view path;  // "/index.html", "/app.js", ...
  std::string_view content_type;
  std::string_view data;
};

// The embedded file at path, or nullptr.
const Asset* FindAsset(std::string_view path);

}  // namespace dmarc::web
