#include <fmt/format.h>

#include <algorithm>
#include <cstdint>

#include "archive/archive.h"
#include "store/store.h"

namespace dmarc::store {

Result<std::string> UnpackRawXml(std::string_view encoding, std::string_view bytes,
                                 std::int64_t size) {
  // What the store wrote: bounded by its recorded size, whatever the ratio.
  const auto max_bytes = static_cast<std::size_t>(std::max<std::int64_t>(size, 0));
  if (encoding == "zstd") return archive::Unzstd(bytes, max_bytes);
  if (encoding == "gzip") {
    Limits limits;
    limits.max_decompressed_bytes = max_bytes;
    limits.max_compression_ratio = SIZE_MAX;
    auto xml = archive::Gunzip(bytes, limits);
    if (!xml) return MakeError(xml.error());
    return std::move(xml->data);
  }
  return MakeError(fmt::format("unknown encoding \"{}\"", encoding));
}

}  // namespace dmarc::store
