// libFuzzer target: mail and mbox parsing (GMime) into decoded parts.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mime/mime.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  dmarc::Limits limits;
  limits.max_mime_parts = 64;
  limits.max_mbox_messages = 64;
  (void)dmarc::mime::ParseMail(in, limits);
  (void)dmarc::mime::ForEachMboxMail(in, limits, [](std::size_t, auto&&, std::string_view) {});
  return 0;
}
