#include "app/fetch_command.h"

#include <fmt/format.h>
#include <malloc.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <ctime>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "app/background_enrichment.h"
#include "app/cli.h"
#include "app/delegated_tokens.h"
#include "app/enrichment.h"
#include "app/ingest_status_recorder.h"
#include "app/output_delivery.h"
#include "app/progress.h"
#include "app/service_commands.h"
#include "app/smtp_receiver.h"
#include "app/store_target.h"
#include "base/files.h"
#include "base/signals.h"
#include "collect/source.h"
#include "config/config.h"
#include "log/log.h"
#include "metrics/metrics.h"
#include "pipeline/ingest.h"
#include "store/store.h"

namespace dmarc::app {

namespace {

std::atomic<bool> g_stop{false};

}  // namespace

// Only async-signal-safe calls here: write(2) and _exit(2).
void SayStoppingOrExit(int sig, bool already_stopping) {
  if (already_stopping) {
    static const char kNow[] = "dmarc-report: second signal, exiting now\n";
    (void)!::write(STDERR_FILENO, kNow, sizeof kNow - 1);
    ::_exit(128 + sig);
  }
  static const char kStopping[] =
      "dmarc-report: stopping (pending DNS lookups cancelled; what is not stored stays in the "
      "mailbox); a second signal exits at once\n";
  (void)!::write(STDERR_FILENO, kStopping, sizeof kStopping - 1);
}

namespace {

extern "C" void StopFetching(int sig) { SayStoppingOrExit(sig, g_stop.exchange(true)); }

struct Totals {
  std::size_t mails = 0;
  std::size_t by_class[4] = {};  // indexed by MailClass
  std::size_t new_reports = 0, duplicates = 0, new_records = 0;

  void Add(const Totals& o) {
    mails += o.mails;
    for (int i = 0; i < 4; ++i) by_class[i] += o.by_class[i];
    new_reports += o.new_reports;
    duplicates += o.duplicates;
    new_records += o.new_records;
  }
  std::string Describe() const {
    using collect::MailClass;
    return fmt::format(
        "{} mail(s): {} aggregate, {} forensic, {} SMTP TLS, {} invalid; {} new report(s) ({} "
        "records), {} duplicate(s)",
        mails, by_class[static_cast<int>(MailClass::kAggregate)],
        by_class[static_cast<int>(MailClass::kForensic)],
        by_class[static_cast<int>(MailClass::kSmtpTls)],
        by_class[static_cast<int>(MailClass::kInvalid)], new_reports, new_records, duplicates);
  }
};

void CountBatch(const std::string& source, const Totals& t, const store::BatchResult& stored,
                const enrich::LookupStats& enriched) {
  auto& m = metrics::Program();
  m.dns_lookups.Add({}, static_cast<double>(enriched.queried));
  m.dns_cache_hits.Add({}, static_cast<double>(enriched.cache_hits));
  m.mails_fetched.Add({source}, static_cast<double>(t.mails));
  m.reports.Add({"aggregate"}, static_cast<double>(t.new_reports));
  m.duplicates.Add({"aggregate"}, static_cast<double>(t.duplicates));
  m.rejected.Add({source}, static_cast<double>(stored.rejections));
}

// What fetch shows of the ingest: a progress bar (on a terminal, without --watch), a warning per
// rejection, the metrics, and log lines per batch (--watch) or every few seconds.
class FetchObserver : public pipeline::IngestObserver {
 public:
  FetchObserver(const FetchCommandOptions& options, Totals& totals)
      : options_(options), totals_(totals) {}

  void OnStart(const collect::Source& source, std::size_t waiting) override {
    source_ = source.Describe();
    waiting_ = waiting;
    done_ = 0;
    bar_ = options_.progress && !options_.quiet && !options_.watch;
    progress_.emplace(waiting, bar_, "mails", "mails");
    start_ = last_log_ = std::chrono::steady_clock::now();
  }

  void OnBatch(const pipeline::BatchDone& b) override {
    Totals t;
    t.mails = b.inputs.size();
    t.new_reports = b.stored.new_reports;
    t.duplicates = b.stored.duplicate_reports;
    t.new_records = b.stored.new_records;
    for (std::size_t i = 0; i < b.inputs.size(); ++i) {
      const collect::MailClass c = b.classes[i];
      ++t.by_class[static_cast<int>(c)];
      const auto& rejections = b.inputs[i].extracted.rejections;
      if (!rejections.empty()) progress_->Finish();
      for (const auto& r : rejections) {
        spdlog::warn("{}: {}{}", r.origin, r.reason,
                     c == collect::MailClass::kInvalid && b.filed ? " (filed as Invalid)" : "");
      }
    }
    totals_.Add(t);
    CountBatch(source_, t, b.stored, b.enriched);
    PrintWarnings(b.enriched);
    if (background_ && b.enriched.not_asked > 0) background_->Wake();
    if (delivery_ && b.stored.new_reports + b.stored.new_failures + b.stored.new_smtp_tls > 0) {
      delivery_->Nudge();
    }
    done_ += b.inputs.size();
    progress_->Update(done_, done_);
    const auto now = std::chrono::steady_clock::now();
    // One line per batch when watching; otherwise, without a bar, one every few seconds.
    if (options_.watch) {
      spdlog::info("{}: {} ({:.0f} mails/s)", source_, t.Describe(),
                   b.seconds > 0 ? static_cast<double>(t.mails) / b.seconds : 0.0);
    } else if (!bar_ && !options_.quiet && now - last_log_ > std::chrono::seconds(5)) {
      last_log_ = now;
      const double all = std::chrono::duration<double>(now - start_).count();
      spdlog::info("{}: {}/{} mails, {:.0f} mails/s", source_, done_, waiting_,
                   all > 0 ? static_cast<double>(done_) / all : 0.0);
    }
  }

  void OnEnd() override { progress_.reset(); }
  // Where the names a batch was stored without are looked up (store first, enrich after).
  void SetBackground(BackgroundEnrichment* b) { background_ = b; }
  // Who delivers the outbox, woken after each batch.
  void SetDelivery(OutputDelivery* d) { delivery_ = d; }

 private:
  const FetchCommandOptions& options_;
  Totals& totals_;
  std::string source_;
  std::optional<Progress> progress_;
  std::size_t waiting_ = 0, done_ = 0;
  bool bar_ = false;
  std::chrono::steady_clock::time_point start_, last_log_;
  BackgroundEnrichment* background_ = nullptr;
  OutputDelivery* delivery_ = nullptr;
};

// What a long-running fetch needs of the process before its first connection.
void PrepareProcess(bool signal_handlers) {
  // Threads allocate in their own malloc arenas, each keeping its freed memory; with batches
  // parsed on workers while another is committed, two arenas hold the peak near one batch pair.
  mallopt(M_ARENA_MAX, 2);
  // A server that closes the connection must give an error, not end the process.
  std::signal(SIGPIPE, SIG_IGN);
  if (signal_handlers) {
    OnStopSignal(SIGINT, StopFetching);
    OnStopSignal(SIGTERM, StopFetching);
  }
}

// One round: every source drained into the store in turn (until a stop is asked for); a source
// that fails is logged, counted in the metrics and closed. Returns the count of failed sources.
int DrainSources(std::vector<std::unique_ptr<collect::Source>>& sources, pipeline::Ingest& ingest,
                 IngestStatusRecorder& status) {
  int failed = 0;
  for (auto& source : sources) {
    if (g_stop) break;
    status.PollStart(*source);
    Status s = ingest.Drain(*source, g_stop);
    status.PollEnd(*source, s);
    if (s) {
      metrics::Program().last_fetch.Set({source->Describe()},
                                        static_cast<double>(std::time(nullptr)));
    } else {
      metrics::Program().fetch_errors.Add({source->Describe()});
      ++failed;
      spdlog::error("{}", s.error());
      source->Close();
    }
  }
  return failed;
}

// Waits up to `seconds` between rounds: on the source (IMAP IDLE) when it is the only one and no
// [smtp] receiver spools beside it; else until the time is up, a stop, or a mail is spooled.
Status WaitForMail(std::vector<std::unique_ptr<collect::Source>>& sources,
                   const config::Config& config) {
  const std::int64_t seconds = config.fetch.watch_interval;
  if (sources.size() == 1 && !config.smtp) return sources.front()->Wait(seconds, g_stop);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (!g_stop && !MailArrivedFlag().exchange(false) &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Ok();
}

// Drains the sources once, or, watching, until a stop: waits between rounds (IMAP IDLE for a single
// source) and reconnects with backoff after a failure. Closes them at the end. Returns the count
// of source failures.
int PollSources(std::vector<std::unique_ptr<collect::Source>>& sources, pipeline::Ingest& ingest,
                IngestStatusRecorder& status, const config::Config& config, bool watch) {
  int failures = 0;
  std::int64_t backoff = 0;
  while (!g_stop) {
    const int failed = DrainSources(sources, ingest, status);
    failures += failed;
    if (!watch) break;
    if (failed) {
      // Reconnect with backoff: 1 s, 2 s, 4 s ... up to fetch.max_backoff.
      backoff = std::min<std::int64_t>(backoff ? backoff * 2 : 1, config.fetch.max_backoff);
      spdlog::info("retrying in {} s", backoff);
      status.NextPoll(backoff);
      Status waited = sources.front()->collect::Source::Wait(backoff, g_stop);
      (void)waited;
      continue;
    }
    backoff = 0;
    status.NextPoll(config.fetch.watch_interval);
    // One source can be waited on (IMAP IDLE); with several, every one is polled in turn.
    Status waited = WaitForMail(sources, config);
    if (!waited) {
      spdlog::error("{}", waited.error());
      sources.front()->Close();
    }
  }
  for (auto& source : sources) source->Close();
  return failures;
}

// The outputs of the configuration ([output.NAME]) for this store: each new report queued for
// them in its batch's transaction, delivered on a thread of their own when watching (else at the
// end), and the mails of a batch held until the required ones delivered it. Null without outputs;
// false when one cannot be made (its error logged).
bool StartOutputs(const config::Config& config, const FetchCommandOptions& options,
                  store::ReportStore& db, pipeline::IngestOptions& ingest_options,
                  std::unique_ptr<OutputDelivery>& delivery) {
  if (config.outputs.empty()) return true;
  auto d = OutputDelivery::Start(config.outputs, TargetOf(config.store), options.watch);
  if (!d) {
    spdlog::error("{}: {}", config.file, d.error());
    return false;
  }
  delivery = std::move(d).value();
  db.SetOutboxOutputs(delivery->Names());
  ingest_options.before_filing = delivery->RequiredGate(g_stop);
  return true;
}

}  // namespace

int RunFetch(const FetchCommandOptions& options) {
  auto logger = spdlog::stderr_logger_mt("fetch");
  logger->set_pattern("%Y-%m-%dT%H:%M:%SZ %l %v", spdlog::pattern_time_type::utc);
  spdlog::set_default_logger(logger);
  spdlog::set_level(options.quiet ? spdlog::level::warn : spdlog::level::info);

  auto config = LoadConfigAndLogging(options.config, nullptr);
  if (!config) return 2;
  if (options.quiet) spdlog::set_level(spdlog::level::warn);
  // With --watch, the [smtp] receiver spools beside the loop, as in `run`.
  std::unique_ptr<smtp::Server> receiver;
  if (options.watch && !UpdateSmtpReceiver(receiver, *config, nullptr)) return 2;
  const int rc = RunFetchLoop(*config, options);
  if (receiver) receiver->Stop();
  return rc;
}

std::atomic<bool>& FetchStopFlag() { return g_stop; }

std::unique_ptr<collect::Source> MakeSmtpSpoolSource(const config::Config& c,
                                                     std::size_t max_mail_bytes) {
  collect::MaildirOptions spool;
  spool.path = SmtpSpoolOf(c);
  spool.after = c.smtp->after;
  spool.archive_folder = c.smtp->archive_folder;
  spool.archive_invalid = true;
  // The receiver makes the spool; fetch alone may be first to look at it.
  for (const char* sub : {"tmp", "new", "cur"}) {
    if (Status made = CreatePrivateDirectories(std::filesystem::path(spool.path) / sub); !made) {
      spdlog::warn("{}", made.error());
    }
  }
  return collect::MakeMaildirSource(spool, max_mail_bytes);
}

std::vector<std::unique_ptr<collect::Source>> MakeSources(const config::Config& c,
                                                          const Limits& limits) {
  const std::size_t max = limits.max_input_bytes;
  std::vector<std::unique_ptr<collect::Source>> out;
  if (c.imap) {
    collect::ImapOptions imap = *c.imap;
    if (!imap.oauth2_device_url.empty()) {
      imap.keeper = MakeTokenKeeper(c.store, imap.token_key_file, ImapTokenOwner(imap));
    }
    out.push_back(collect::MakeImapSource(imap, max));
  }
  if (c.pop3) {
    // POP3 keeps its state file beside a SQLite store's file; with a PostgreSQL store, in data/
    // unless [pop3] state_file says where.
    auto path = store::SqlitePathFromUrl(c.store.url);
    const std::string dir = path ? std::filesystem::path(*path).parent_path().string() : "data";
    out.push_back(collect::MakePop3Source(*c.pop3, dir.empty() ? "." : dir, max));
  }
  if (c.graph) {
    collect::GraphOptions graph = *c.graph;
    // Signed in with `login`: the refresh token is read from, and a rotated one kept in, the store.
    if (graph.auth == "device_code") {
      graph.keeper = MakeTokenKeeper(c.store, graph.token_key_file, GraphTokenOwner(graph));
    }
    out.push_back(collect::MakeGraphSource(graph, max));
  }
  if (c.gmail) out.push_back(collect::MakeGmailSource(*c.gmail, max));
  if (c.maildir) out.push_back(collect::MakeMaildirSource(*c.maildir, max));
  if (c.mbox) out.push_back(collect::MakeMboxSource(c.mbox->path, max));
  if (c.directory) out.push_back(collect::MakeDirectorySource(c.directory->path, max));
  if (c.smtp) out.push_back(MakeSmtpSpoolSource(c, max));
  return out;
}

std::optional<config::Config> LoadConfigAndLogging(const std::string& path,
                                                   const char* default_text) {
  auto config =
      path.empty() && default_text
          ? config::LoadConfigText(default_text, "built-in default", config::ProcessEnvironment())
          : config::LoadConfig(path, config::ProcessEnvironment());
  if (!config) {
    spdlog::error("{}", config.error());
    return std::nullopt;
  }
  // The [log] table takes over: its sinks, with every configured secret kept out of the lines.
  if (auto logged = log::Setup(config->log, config->secrets); !logged) {
    spdlog::error("{}: {}", config->file, logged.error());
    return std::nullopt;
  }
  for (const auto& w : config->warnings) spdlog::warn("{}", w);
  return std::move(config).value();
}

int RunFetchLoop(const config::Config& config, const FetchCommandOptions& options) {
  // The check check-config makes: a missing Maildir or drop folder is refused before anything.
  if (auto sources = CheckSourcesConfig(config); !sources) {
    spdlog::error("{}: {}", config.file, sources.error());
    return 2;
  }
  // Batches of mail are small: a smaller page cache than import's keeps memory low for a
  // long-running --watch, at no measurable cost in speed.
  store::OpenOptions open_options = StoreOpenOptions(config.store);
  open_options.cache_kib = 16 * 1024;
  auto db = store::OpenStore(config.store.url, open_options);
  if (!db) {
    spdlog::error("{}", db.error());
    return 2;
  }
  PrepareProcess(options.signal_handlers);
  // Fetched reports are enriched like imported ones (DNS answers cached in the store). A watch
  // stores first and enriches after: each batch gets the cached names and the local databases'
  // fields at once, a thread of its own asks DNS for the rest.
  const bool background = options.watch && config.enrich.enabled && !config.enrich.offline;
  enrich::Options inline_enrich = config.enrich;
  inline_enrich.dns_deferred = background;
  bool enrich_failed = false;
  const auto enricher = MakeEnricher(inline_enrich, &enrich_failed);
  if (enrich_failed) return 2;
  // A stop (a signal, a reload) cancels the lookups in flight: the batch is stored without the
  // names not found yet, at once (`dmarc-report enrich` fills them in later).
  if (enricher) enricher->SetCancel(&g_stop);
  pipeline::IngestOptions ingest_options;
  ingest_options.extract.aggregate.limits = options.limits;
  ingest_options.extract.stream_bytes = options.limits.stream_bytes;
  ingest_options.extract.keep_sample = config.failure.keep_sample;
  ingest_options.jobs =
      config.fetch.jobs ? config.fetch.jobs : std::max(1u, std::thread::hardware_concurrency());
  ingest_options.enricher = enricher.get();
  std::unique_ptr<OutputDelivery> delivery;
  if (!StartOutputs(config, options, **db, ingest_options, delivery)) return 2;
  Totals totals;
  FetchObserver observer(options, totals);
  observer.SetDelivery(delivery.get());
  std::unique_ptr<BackgroundEnrichment> enrichment;
  if (background) {
    enrichment = std::make_unique<BackgroundEnrichment>(TargetOf(config.store), config.enrich);
    observer.SetBackground(enrichment.get());
  }
  IngestStatusRecorder status(TargetOf(config.store), config.secrets);  // `dmarc-report status`
  ObserverPair observers(observer, status);
  pipeline::Ingest ingest(**db, ingest_options, observers);
  auto sources = MakeSources(config, options.limits);
  const auto start = std::chrono::steady_clock::now();
  const int failures = PollSources(sources, ingest, status, config, options.watch);
  status.Stopped(options.watch);
  if (delivery && !delivery->Finish(g_stop)) {
    spdlog::warn("outputs: reports are still waiting to be delivered (dmarc-report outputs)");
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!options.quiet || failures) {
    fmt::print(stderr, "fetch: {} in {}{}\n", totals.Describe(), FormatDuration(seconds),
               failures ? fmt::format(", {} source error(s)", failures) : "");
  }
  // With --watch, errors the loop recovered from are in the log; stopping by signal is success.
  return failures && !options.watch ? 1 : 0;
}

// ---- The command line of `fetch`. ----

namespace {

FetchCommandOptions& FetchState() {
  static FetchCommandOptions state;
  return state;
}

}  // namespace

void AddFetchOptions(CLI::App& cmd) {
  FetchCommandOptions& fetch = FetchState();
  cmd.add_option("-c,--config", fetch.config,
                 "TOML configuration, keys also from DMARC_REPORT_* variables (default: "
                 "$DMARC_REPORT_CONFIG, or /etc/dmarc-report/dmarc-report.toml when it exists)");
  cmd.add_flag("--watch", fetch.watch, "Keep running, collecting mail as it arrives");
  cmd.add_flag("-q,--quiet", fetch.quiet, "Only warnings and errors");
  AddLimitOptions(cmd, fetch.limits);
}

int RunFetchCommand() {
  FetchCommandOptions& fetch = FetchState();
  if (fetch.config.empty()) fetch.config = config::DefaultConfigPath(config::ProcessEnvironment());
  return RunFetch(fetch);
}

}  // namespace dmarc::app
