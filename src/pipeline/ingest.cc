#include "pipeline/ingest.h"

#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <future>
#include <memory>
#include <new>

#include "base/files.h"
#include "model/heap_bytes.h"
#include "pipeline/classify.h"
#include "pipeline/ordered_parallel.h"
#include "pipeline/stream_store.h"

namespace dmarc::pipeline {

namespace {

// import: paths handed out at a time (read ahead while a batch commits), and inputs per batch
// at most.
constexpr std::size_t kPathsPerList = 16384;
constexpr std::size_t kFilesPerBatch = 1000;

// `import`'s files as a source: handed out by path (each worker reads its own), never moved.
class FileList : public collect::Source {
 public:
  explicit FileList(const std::vector<std::string>& paths) : paths_(paths) {}
  std::string Describe() const override { return "files"; }
  Result<std::size_t> Open() override { return paths_.size(); }
  Result<std::vector<collect::MailItem>> Next() override {
    std::vector<collect::MailItem> batch;
    for (; next_ < paths_.size() && batch.size() < kPathsPerList; ++next_) {
      batch.push_back({paths_[next_], paths_[next_], {}, std::nullopt});
    }
    return batch;
  }
  Status File(const std::vector<collect::Filing>&) override { return Ok(); }

 private:
  const std::vector<std::string>& paths_;
  std::size_t next_ = 0;
};

// What an input weighs in a batch (batch_records): its records; a failure or SMTP TLS report
// about as much as a few records.
std::size_t Weight(const InputResult& in) {
  std::size_t n = 10 * (in.extracted.failures.size() + in.extracted.smtp_tls.size());
  for (const auto& f : in.extracted.reports) n += f.aggregate.records.size();
  return n + in.extracted.streamed_records;
}

// Into a store whose commits run elsewhere, the workers extracting the next batch run at a
// lower priority than the commit: with the server on the same machine, its one backend per
// connection is the import's critical path, and workers at equal priority would take its core
// (measured on 2 cores: 30-32,000 records/s with the overlap at equal priority, 42,000 with the
// workers lowered, 36,000 without the overlap). A server elsewhere loses nothing by it.
void LowerThisThreadsPriority() {
  thread_local bool lowered = false;
  if (lowered) return;
  lowered = true;
  // Linux: a thread's nice value is its own. Failing to lower it changes nothing else.
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 10);
}

}  // namespace

InputResult ExtractBuffer(std::string_view bytes, const std::string& label,
                          const ExtractOptions& options) {
  InputResult out;
  try {
    out.extracted = ExtractReports(bytes, label, options);
  } catch (const std::bad_alloc&) {
    // The limits keep an input far below any sane memory cap; should one still exhaust it, the
    // input is rejected (and its mail filed) instead of ending the process, which would only
    // read the same mail again on the next run.
    out.extracted = Extracted{};
    const std::size_t keep = options.keep_rejected ? options.limits().max_rejected_bytes : 0;
    out.extracted.rejections.push_back(
        RejectItem(label, "out of memory while extracting this input: the whole input is rejected",
                   bytes, std::min(bytes.size(), keep), options.keep_sample));
  }
  return out;
}

namespace {

// What an input read in pieces is read by at a time.
constexpr std::size_t kReadPieceBytes = 1u << 20;

// With streaming on, a file larger than stream_bytes is read in pieces, never held whole; so is a
// pipe (standard input, a FIFO named by the user), whose size is known only at its end. Anything
// else (and what cannot be looked at: ReadInput says why) is read whole.
bool ReadsInPieces(const std::string& path, PathOrigin origin, const ExtractOptions& options) {
  if (options.stream_bytes == 0 || !options.stream_sink) return false;
  if (path == "-") return true;
  std::error_code ec;
  const std::filesystem::file_status st = origin == PathOrigin::kNamedByUser
                                              ? std::filesystem::status(path, ec)
                                              : std::filesystem::symlink_status(path, ec);
  if (ec) return false;
  if (std::filesystem::is_regular_file(st)) {
    const std::uintmax_t size = std::filesystem::file_size(path, ec);
    return !ec && size > options.stream_bytes;
  }
  return origin == PathOrigin::kNamedByUser && std::filesystem::is_fifo(st);
}

InputResult ExtractInPieces(const std::string& path, const std::string& label, PathOrigin origin,
                            const ExtractOptions& options) {
  InputResult out;
  try {
    out.extracted = ExtractReportsInPieces(
        [&](const std::function<Status(std::string_view)>& piece) {
          return ReadFileChunks(path, origin, options.limits(), kReadPieceBytes, piece);
        },
        label, options);
  } catch (const std::bad_alloc&) {
    out.extracted = Extracted{};
    out.extracted.rejections.push_back(
        RejectItem(label, "out of memory while extracting this input: the whole input is rejected",
                   {}, 0, options.keep_sample));
  }
  return out;
}

}  // namespace

InputResult ExtractInput(const std::string& path, const ExtractOptions& options) {
  const std::string label = path == "-" ? "<stdin>" : path;
  const bool named = options.named_inputs.count(path) > 0;
  const PathOrigin origin = named ? PathOrigin::kNamedByUser : PathOrigin::kFoundInFolder;
  if (ReadsInPieces(path, origin, options)) return ExtractInPieces(path, label, origin, options);
  auto bytes = ReadInput(path, options.limits(), origin);
  if (!bytes) {
    InputResult out;
    out.extracted.rejections.push_back(
        RejectItem(label, bytes.error(), {}, 0, options.keep_sample));
    return out;
  }
  return ExtractBuffer(*bytes, label, options);
}

std::size_t HeldBytes(const InputResult& input) {
  // An aggregate report is weighed by what its model holds (model::HeapBytes: its records take
  // 1-2 times their XML); a failure or SMTP TLS report by its payload, twice (the sample's
  // headers and body, or the policies, and their strings); the rest is what the input keeps as
  // it is.
  constexpr std::size_t kModelBytesPerPayloadByte = 2;
  const Extracted& e = input.extracted;
  std::size_t n = static_cast<std::size_t>(e.payload_bytes) * kModelBytesPerPayloadByte;
  for (const auto& r : e.reports) {
    n += sizeof(r) + model::HeapBytes(r.aggregate) + r.raw_xml_packed.size() + r.origin.size();
  }
  for (const auto& r : e.rejections) {
    n += r.raw.size() + r.origin.size() + r.reason.size() + r.sha256.size();
  }
  for (const auto& s : e.streamed) {
    if (const auto* waiting = dynamic_cast<const StoredStream*>(s.sink.get())) {
      n += waiting->HeldBytes();
    }
  }
  return n;
}

struct Ingest::InFlight {
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  std::vector<std::string> ids;  // the source's handle of each input
  std::vector<InputResult> results;
  std::future<Result<store::BatchResult>> stored;
  enrich::LookupStats enriched;  // written by the store thread until `stored` is ready
};

Ingest::Ingest(store::ReportStore& st, const IngestOptions& options, IngestObserver& observer)
    : store_(st), options_(options), observer_(observer) {
  options_.extract.keep_raw_xml = true;   // the store keeps each report's XML (dashboard, export)
  options_.extract.keep_rejected = true;  // and each rejected item's first bytes
  // A report the store already has is not stored again: its XML is not compressed either.
  options_.extract.already_stored = st.AggregateStoredCheck();
  // A report too large to hold is parsed as a stream: its records and XML wait in spools (in
  // temporary files past a few MiB) until the store reads them (pipeline/stream_store.h).
  if (options_.extract.stream_bytes > 0) {
    options_.extract.stream_sink = [this](const std::string&) {
      StoredStream::Options o;
      o.enricher = options_.enricher;
      o.keep_raw_xml = options_.extract.keep_raw_xml;
      o.already_stored = options_.extract.already_stored;
      return std::make_unique<StoredStream>(std::move(o));
    };
  }
  gate_ = std::make_unique<ParseGate>(options_.extract.limits().max_batch_bytes);
  options_.extract.gate = gate_.get();
}

Status Ingest::Drain(collect::Source& source, const std::atomic<bool>& stop) {
  return Run(source, stop, false);
}

Status Ingest::Files(const std::vector<std::string>& paths) {
  FileList files(paths);
  const std::atomic<bool> never{false};
  store_error_.reset();
  Status s = Run(files, never, true);
  if (!s && store_error_) return *store_error_;
  return s;
}

// The one ingest loop: batches from the source are extracted on all cores, in input order; a
// batch goes to the store thread once extracted (or once it weighs batch_records), and the batch
// before it is filed once its commit returned. The store is used by one thread at a time.
//
// Files (import) into a local store are read from a local disk in no time and committed by this
// process's own cores: a second batch extracted whole beside the commit would double what is
// held (+38-47 % peak for 16 % speed on small reports, see docs/benchmarks.md). The commit runs in
// the emitting thread instead, and the workers read ahead meanwhile only as far as RunOrdered lets
// them (one batch of files, bounded by bytes as well). Mail sources overlap, to hide the network
// behind the commit, unless the batch is heavy: then a second one beside it is what the byte bound
// is for, and no report is parsed meanwhile either (the whole gate is taken once the parses in
// progress end). Into a store whose commits run elsewhere (a database server), every source
// overlaps, heavy batches too: the server's work is half the import's CPU, and two batches are the
// most ever held.
//
// A batch is cut once its inputs hold half of max_batch_bytes (HeldBytes: what their reports'
// model takes), and the results extracted meanwhile, waiting in order, weigh at most the other
// half: the batch being committed and the next one together are what max_batch_bytes bounds.
Status Ingest::Run(collect::Source& source, const std::atomic<bool>& stop, bool items_are_paths) {
  auto waiting = source.Open();
  if (!waiting) return MakeError(waiting.error());
  if (*waiting == 0) return Ok();
  observer_.OnStart(source, *waiting);
  std::unique_ptr<InFlight> previous;
  Status status = Ok();
  const bool overlap = !items_are_paths || store_.CommitsElsewhere();
  const std::size_t batch_bytes =
      std::max<std::size_t>(1, options_.extract.limits().max_batch_bytes / 2);
  // heavy: the batch holds batch_bytes or more.
  auto commit = [&](std::unique_ptr<InFlight> current, bool heavy) {
    if (previous) {
      status = Finish(*previous, source);
      previous.reset();
      if (!status) return false;
    }
    previous = std::move(current);
    previous->stored = std::async(std::launch::async, [this, f = previous.get()] {
      return StoreResults(store_, f->results, options_.enricher, &f->enriched);
    });
    if (overlap && (!heavy || store_.CommitsElsewhere())) return true;
    const ParseGate::Pass quiet =
        heavy ? gate_->Enter(options_.extract.limits().max_batch_bytes) : ParseGate::Pass();
    status = Finish(*previous, source);
    previous.reset();
    return static_cast<bool>(status);
  };
  const unsigned jobs = std::max(1u, options_.jobs);
  while (!stop) {
    auto batch = source.Next();
    if (!batch) {
      status = MakeError(batch.error());
      break;
    }
    if (batch->empty()) break;
    auto current = std::make_unique<InFlight>();
    std::size_t weight = 0, held = 0;
    bool ok = true;
    RunOrdered<InputResult>(
        batch->size(), jobs,
        [&](std::size_t i) {
          if (store_.CommitsElsewhere()) LowerThisThreadsPriority();
          InputResult r = ExtractItem((*batch)[i], items_are_paths);
          r.held_bytes = HeldBytes(r);
          return r;
        },
        [&](std::size_t i, InputResult&& r) {
          observer_.OnInput(r);
          weight += Weight(r);
          held += r.held_bytes;
          current->ids.push_back((*batch)[i].id);
          current->results.push_back(std::move(r));
          if (ok && (weight >= options_.batch_records ||
                     (items_are_paths && current->results.size() >= kFilesPerBatch) ||
                     held >= batch_bytes)) {
            ok = commit(std::move(current), held >= batch_bytes);
            current = std::make_unique<InFlight>();
            weight = held = 0;
          }
        },
        // Results waiting for an earlier one (a big input, or a commit blocking the emitting
        // thread) are bounded by bytes, not by count.
        [](const InputResult& r) { return r.held_bytes; }, batch_bytes,
        // Files: while a batch commits, the workers read ahead at most one batch more.
        items_are_paths ? kFilesPerBatch : kOrderedMaxPending);
    if (!ok || (!current->results.empty() && !commit(std::move(current), held >= batch_bytes)))
      break;
  }
  if (previous) {
    Status last = Finish(*previous, source);
    if (status) status = last;
  }
  observer_.OnEnd();
  return status;
}

InputResult Ingest::ExtractItem(collect::MailItem& item, bool is_path) const {
  if (item.error) {
    InputResult r;
    r.extracted.rejections.push_back(
        RejectItem(item.label, *item.error, {}, 0, options_.extract.keep_sample));
    return r;
  }
  InputResult r;
  if (is_path) {
    r = ExtractInput(item.id, options_.extract);
  } else {
    r = ExtractBuffer(item.bytes, item.label, options_.extract);
    // The mail's bytes are not needed any more (filing uses its id): a batch holds its
    // extracted reports, not its mails as well.
    std::string().swap(item.bytes);
  }
  EnrichOffline(r);
  return r;
}

// Enrichment without DNS needs nothing of the store (no DNS cache to consult): it runs here, on
// the workers, in parallel, instead of on the store's thread, which is import's bottleneck.
// Duplicates are enriched too (the store tells them apart only later): a small waste next to
// what the writer gains.
void Ingest::EnrichOffline(InputResult& r) const {
  enrich::Enricher* e = options_.enricher;
  if (!e || !e->options().enabled || !e->options().offline) return;
  std::vector<model::AggregateReport*> reports;
  std::vector<model::FailureReport*> failures;
  for (auto& f : r.extracted.reports) reports.push_back(&f.aggregate);
  for (auto& f : r.extracted.failures) failures.push_back(&f.report);
  r.enrichment =
      e->EnrichReports(reports, nullptr, static_cast<std::int64_t>(std::time(nullptr)), failures);
  r.enriched = true;
}

// Waits for the batch's commit, then files its inputs.
Status Ingest::Finish(InFlight& f, collect::Source& source) {
  auto stored = f.stored.get();
  if (!stored) {
    store_error_ = stored.error_value();
    return MakeError(
        fmt::format("{}: store failed, the mails of this batch stay where they are: {}",
                    store_.Describe(), stored.error()));
  }
  std::vector<collect::MailClass> classes;
  std::vector<collect::Filing> filings;
  classes.reserve(f.results.size());
  filings.reserve(f.results.size());
  for (std::size_t i = 0; i < f.results.size(); ++i) {
    classes.push_back(Classify(f.results[i].extracted));
    filings.push_back({f.ids[i], classes.back()});
  }
  Status filed = Ok();
  if (options_.before_filing) {
    if (Status held = options_.before_filing(); !held) {
      filed =
          MakeError(fmt::format("{}: reports stored, the mails of this batch stay where they "
                                "are: {}",
                                source.Describe(), held.error()));
    }
  }
  if (filed) {
    if (Status done = source.File(filings); !done) {
      filed = MakeError(fmt::format("{}: reports stored, but filing the mails failed: {}",
                                    source.Describe(), done.error()));
    }
  }
  // The reports are stored either way: counted, and their outputs and lookups woken.
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - f.start).count();
  observer_.OnBatch({f.results, classes, *stored, f.enriched, seconds, static_cast<bool>(filed)});
  return filed;
}

}  // namespace dmarc::pipeline
