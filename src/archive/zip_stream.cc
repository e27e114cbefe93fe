// The one zip walk of the project: ForEachZipEntryStreamed. ForEachZipEntry (zip.cc) collects
// each entry's chunks.
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

// Opens the archive over the bytes in memory (nothing is copied); the error says why not.
Result<ArchivePtr> OpenArchive(std::string_view in) {
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
  return z;
}

// What one entry came to: read whole, or a reason for problem(); an error (the input's budget
// is exhausted, or the consumer's own error) ends the walk.
struct EntryOutcome {
  bool read = false;
  std::string problem;
};

// The walk over one archive. Limits apply to the bytes actually produced: the sizes declared in
// the central directory are checked first, to refuse early, but never trusted.
class ZipWalk {
 public:
  ZipWalk(zip_t* z, const Limits& limits, DecompressionBudget& budget,
          const ZipStreamVisitor& visit)
      : z_(z), limits_(limits), budget_(budget), visit_(visit) {}

  Result<EntryOutcome> Entry(zip_uint64_t index, const zip_stat_t& st, const std::string& name);

 private:
  // Whether `fresh` more bytes, making `total` for the entry, may be taken: "" when they may,
  // else the entry's problem; *walk_ends tells that they are over the input's budget instead.
  // An entry over the one-payload limit is a problem of its own unless the budget was already
  // the smaller bound when the entry began (as if the entry were read whole, then judged).
  std::string SizeViolation(std::size_t total, std::size_t fresh, bool* walk_ends) const {
    const std::size_t max = limits_.max_decompressed_bytes;
    const bool over_budget = fresh > budget_.left();
    *walk_ends = over_budget && (total <= max || left_at_entry_ < max);
    if (*walk_ends || total <= max) return {};
    return fmt::format("decompressed size exceeds the limit of {} bytes (compression bomb?)", max);
  }
  Result<EntryOutcome> Stream(zip_file_t* f, std::size_t compressed);

  zip_t* z_;
  const Limits& limits_;
  DecompressionBudget& budget_;
  const ZipStreamVisitor& visit_;
  ChunkBuffer buffer_;
  std::size_t left_at_entry_ = 0;  // budget_.left() when the entry began
};

Result<EntryOutcome> ZipWalk::Entry(zip_uint64_t index, const zip_stat_t& st,
                                    const std::string& name) {
  if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE) {
    return EntryOutcome{false, "entry is encrypted"};
  }
  left_at_entry_ = budget_.left();
  if (st.valid & ZIP_STAT_SIZE) {
    bool walk_ends = false;
    const auto declared = static_cast<std::size_t>(st.size);
    const std::string why = SizeViolation(declared, declared, &walk_ends);
    if (walk_ends) return MakeError(budget_.Exhaust());
    if (!why.empty()) {
      return EntryOutcome{false, fmt::format("entry declares {} bytes, over the limit of {} bytes",
                                             st.size, limits_.max_decompressed_bytes)};
    }
  }
  if (!visit_.begin(name)) return EntryOutcome{};
  FilePtr f(zip_fopen_index(z_, index, 0));
  if (!f) return EntryOutcome{false, fmt::format("cannot open entry: {}", zip_strerror(z_))};
  return Stream(f.get(), (st.valid & ZIP_STAT_COMP_SIZE) ? st.comp_size : 0);
}

// Hands the entry's bytes to visit_.chunk as they are inflated, checking each piece first.
Result<EntryOutcome> ZipWalk::Stream(zip_file_t* f, std::size_t compressed) {
  std::size_t produced = 0;
  for (;;) {
    const zip_int64_t n = zip_fread(f, buffer_.data(), buffer_.size());
    if (n < 0) return EntryOutcome{false, fmt::format("corrupt entry: {}", zip_file_strerror(f))};
    if (n == 0) return EntryOutcome{true, {}};
    const auto fresh = static_cast<std::size_t>(n);
    produced += fresh;
    bool walk_ends = false;
    std::string why = SizeViolation(produced, fresh, &walk_ends);
    if (walk_ends) return MakeError(budget_.Exhaust());
    if (why.empty() && produced > Limits::kRatioGraceBytes &&
        produced / std::max<std::size_t>(compressed, 1) > limits_.max_compression_ratio) {
      why = fmt::format("compression ratio exceeds {}:1 (compression bomb?)",
                        limits_.max_compression_ratio);
    }
    if (!why.empty()) return EntryOutcome{false, std::move(why)};
    budget_.Spend(fresh);
    DMARC_TRY(visit_.chunk(std::string_view(buffer_.data(), fresh)));
    // What the consumer unpacks from the chunk spends from the same budget.
    if (budget_.exhausted()) return MakeError(budget_.Exhaust());
  }
}

}  // namespace

Result<std::size_t> ForEachZipEntryStreamed(std::string_view in, const Limits& limits,
                                            DecompressionBudget& budget,
                                            const ZipStreamVisitor& visit,
                                            const ZipProblem& problem) {
  ArchivePtr z;
  DMARC_TRY_ASSIGN(z, OpenArchive(in));
  const zip_int64_t n = zip_get_num_entries(z.get(), 0);
  if (n < 0) return MakeError("corrupt zip archive: " + ZipErrorText(ZIP_ER_INCONS));
  if (static_cast<std::size_t>(n) > limits.max_zip_entries) {
    return MakeError(
        fmt::format("zip archive has {} entries, over the limit of {}", n, limits.max_zip_entries));
  }
  // All entries of the archive (and what they hold) share the input's decompression budget.
  ZipWalk walk(z.get(), limits, budget, visit);
  std::size_t visited = 0;
  for (zip_uint64_t i = 0; i < static_cast<zip_uint64_t>(n); ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(z.get(), i, 0, &st) != 0) {
      problem(fmt::format("#{}", i), "cannot read entry header");
      continue;
    }
    const std::string name =
        (st.valid & ZIP_STAT_NAME) && st.name ? st.name : fmt::format("#{}", i);
    if (!name.empty() && name.back() == '/') continue;  // a directory
    EntryOutcome outcome;
    DMARC_TRY_ASSIGN(outcome, walk.Entry(i, st, name));
    if (!outcome.problem.empty()) {
      problem(name, outcome.problem);
      continue;
    }
    if (!outcome.read) continue;  // skipped by begin()
    ++visited;
    visit.end(name);
    if (budget.exhausted()) return MakeError(budget.Exhaust());
  }
  return visited;
}

}  // namespace dmarc::archive
