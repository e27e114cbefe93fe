#include <fmt/format.h>
#include <zip.h>

#include <memory>

#include "archive/archive.h"

namespace dmarc::archive {

namespace {

struct ArchiveCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};
struct FileCloser {
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};
using ArchivePtr = std::unique_ptr<zip_t, ArchiveCloser>;
using FilePtr = std::unique_ptr<zip_file_t, FileCloser>;

std::string ZipErrorText(int code) {
  zip_error_t err;
  zip_error_init_with_code(&err, code);
  std::string s = zip_error_strerror(&err);
  zip_error_fini(&err);
  return s;
}

// Reads one entry with the limits applied to what is actually produced (declared sizes in the
// central directory are not trusted). *over_budget tells that the entry wanted more than budget.
Result<std::string> ReadEntry(zip_t* z, zip_uint64_t index, const zip_stat_t& st,
                              std::size_t budget, const Limits& limits, bool* over_budget) {
  if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE) {
    return MakeError("entry is encrypted");
  }
  if ((st.valid & ZIP_STAT_SIZE) && st.size > budget) {
    *over_budget = true;
    return MakeError(
        fmt::format("entry declares {} bytes, over the limit of {} bytes", st.size, budget));
  }
  FilePtr f(zip_fopen_index(z, index, 0));
  if (!f) return MakeError(fmt::format("cannot open entry: {}", zip_strerror(z)));
  std::string data;
  data.resize(std::min<std::size_t>((st.valid & ZIP_STAT_SIZE) ? st.size : 65536, budget) + 1);
  std::size_t produced = 0;
  const std::size_t compressed = (st.valid & ZIP_STAT_COMP_SIZE) ? st.comp_size : 0;
  for (;;) {
    if (produced == data.size()) {
      if (produced > budget) break;
      data.resize(std::min(data.size() * 2 + 65536, budget + 1));
    }
    const zip_int64_t n = zip_fread(f.get(), data.data() + produced, data.size() - produced);
    if (n < 0) {
      return MakeError(fmt::format("corrupt entry: {}", zip_file_strerror(f.get())));
    }
    if (n == 0) break;
    produced += static_cast<std::size_t>(n);
    if (produced > budget) {
      *over_budget = true;
      return MakeError(
          fmt::format("decompressed size exceeds the limit of {} bytes "
                      "(compression bomb?)",
                      budget));
    }
    if (produced > Limits::kRatioGraceBytes &&
        produced / std::max<std::size_t>(compressed, 1) > limits.max_compression_ratio) {
      return MakeError(fmt::format("compression ratio exceeds {}:1 (compression bomb?)",
                                   limits.max_compression_ratio));
    }
  }
  data.resize(produced);
  return data;
}

}  // namespace

Result<std::size_t> ForEachZipEntry(std::string_view in, const Limits& limits,
                                    const ZipVisitor& visit, const ZipProblem& problem) {
  DecompressionBudget budget(limits.max_decompressed_bytes);
  return ForEachZipEntry(in, limits, budget, visit, problem);
}

Result<std::size_t> ForEachZipEntry(std::string_view in, const Limits& limits,
                                    DecompressionBudget& budget, const ZipVisitor& visit,
                                    const ZipProblem& problem) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* src = zip_source_buffer_create(in.data(), in.size(), 0, &error);
  if (!src) {
    std::string msg = zip_error_strerror(&error);
    zip_error_fini(&error);
    return MakeError("cannot read zip: " + msg);
  }
  ArchivePtr z(zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &error));
  if (!z) {
    zip_source_free(src);
    std::string msg = zip_error_strerror(&error);
    zip_error_fini(&error);
    return MakeError("corrupt or truncated zip archive: " + msg);
  }
  zip_error_fini(&error);
  const zip_int64_t n = zip_get_num_entries(z.get(), 0);
  if (n < 0) return MakeError("corrupt zip archive: " + ZipErrorText(ZIP_ER_INCONS));
  if (static_cast<std::size_t>(n) > limits.max_zip_entries) {
    return MakeError(
        fmt::format("zip archive has {} entries, over the limit of {}", n, limits.max_zip_entries));
  }
  // All entries of the archive (and what they hold) share the input's decompression budget.
  std::size_t visited = 0;
  for (zip_uint64_t i = 0; i < static_cast<zip_uint64_t>(n); ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(z.get(), i, 0, &st) != 0) {
      problem(fmt::format("#{}", i), "cannot read entry header");
      continue;
    }
    std::string name = (st.valid & ZIP_STAT_NAME) && st.name ? st.name : fmt::format("#{}", i);
    if (!name.empty() && name.back() == '/') continue;  // a directory
    const std::size_t cap = std::min(limits.max_decompressed_bytes, budget.left());
    bool over_budget = false;
    auto data = ReadEntry(z.get(), i, st, cap, limits, &over_budget);
    if (!data) {
      // An entry over what is left of the input's budget (not over the one-payload limit alone)
      // ends the walk: the input as a whole is over the limit.
      if (over_budget && cap < limits.max_decompressed_bytes) return MakeError(budget.Exhaust());
      problem(name, data.error());
      continue;
    }
    budget.Spend(data->size());
    ++visited;
    visit(ZipEntry{std::move(name), std::move(data).value()});
    if (budget.exhausted()) return MakeError(budget.Exhaust());
  }
  return visited;
}

}  // namespace dmarc::archive
