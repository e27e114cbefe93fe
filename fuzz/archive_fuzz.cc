// libFuzzer target: container recognition and decompression (gzip, zip) under small limits.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "archive/archive.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  dmarc::Limits limits;
  limits.max_decompressed_bytes = 8 * 1024 * 1024;
  limits.max_zip_entries = 64;
  (void)dmarc::archive::Sniff(in);
  (void)dmarc::archive::Gunzip(in, limits);
  (void)dmarc::archive::ForEachZipEntry(
      in, limits, [](dmarc::archive::ZipEntry&& e) { (void)dmarc::archive::Sniff(e.data); },
      [](const std::string&, const std::string&) {});
  return 0;
}
