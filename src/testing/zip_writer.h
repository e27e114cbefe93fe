// Test and benchmark helper: zip archives written with libzip into memory (the product only
// reads them). Link PkgConfig::LIBZIP.
#pragma once

#include <zip.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace dmarc::testing {

// An archive of these (name, data) entries, deflated, in order. Entry times are fixed so that the
// same entries give the same bytes.
inline std::string ZipOf(const std::vector<std::pair<std::string, std::string>>& entries) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* buffer = zip_source_buffer_create(nullptr, 0, 0, &error);
  zip_t* archive = buffer ? zip_open_from_source(buffer, ZIP_TRUNCATE, &error) : nullptr;
  if (!archive) {
    std::fprintf(stderr, "libzip: %s\n", zip_error_strerror(&error));
    std::exit(2);
  }
  zip_error_fini(&error);
  zip_source_keep(buffer);  // read the result back after zip_close()
  for (const auto& [name, data] : entries) {
    zip_source_t* entry = zip_source_buffer(archive, data.data(), data.size(), 0);
    const zip_int64_t index = zip_file_add(archive, name.c_str(), entry, ZIP_FL_ENC_UTF_8);
    if (index < 0 || zip_set_file_compression(archive, index, ZIP_CM_DEFLATE, 6) != 0 ||
        zip_file_set_dostime(archive, index, 0x0000, 0x5821, 0) != 0) {
      std::fprintf(stderr, "libzip: %s\n", zip_strerror(archive));
      std::exit(2);
    }
  }
  if (zip_close(archive) != 0) {
    std::fprintf(stderr, "libzip: %s\n", zip_strerror(archive));
    std::exit(2);
  }
  std::string out;
  if (zip_source_open(buffer) == 0) {
    zip_source_seek(buffer, 0, SEEK_END);
    out.resize(static_cast<std::size_t>(zip_source_tell(buffer)));
    zip_source_seek(buffer, 0, SEEK_SET);
    zip_source_read(buffer, out.data(), out.size());
    zip_source_close(buffer);
  }
  zip_source_free(buffer);
  return out;
}

}  // namespace dmarc::testing
