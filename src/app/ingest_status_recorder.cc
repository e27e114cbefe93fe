#include "app/ingest_status_recorder.h"

#include <spdlog/spdlog.h>

#include <ctime>
#include <utility>

#include "log/log.h"

namespace dmarc::app {

namespace {

// How long a status write waits for another writer (a batch being committed) before it gives up
// until the next one.
constexpr int kStatusBusyTimeoutMs = 2000;

std::int64_t Now() { return static_cast<std::int64_t>(std::time(nullptr)); }

// "imap", "pop3", "graph", "gmail", "maildir", "mbox", "directory": what Source::Describe() starts
// with.
std::string KindOf(const std::string& name) {
  const auto colon = name.find(':');
  return colon == std::string::npos ? "source" : name.substr(0, colon);
}

}  // namespace

IngestStatusRecorder::IngestStatusRecorder(const StoreTarget& target,
                                           std::vector<std::string> secrets)
    : secrets_(std::move(secrets)) {
  StoreTarget t = target;
  t.options.busy_timeout_ms = kStatusBusyTimeoutMs;
  t.options.cache_kib = 1024;
  auto st = t.Open();
  if (st) {
    store_ = std::move(st).value();
  } else {
    spdlog::warn("ingest status: {}; the status of the sources is not recorded", st.error());
  }
}

IngestStatusRecorder::~IngestStatusRecorder() = default;

IngestStatusRecorder::Entry& IngestStatusRecorder::EntryOf(const std::string& name) {
  Entry& e = entries_[name];
  if (e.state.name.empty()) {
    e.state.name = name;
    e.state.kind = KindOf(name);
    e.state.state = store::kSourceIdle;
  }
  return e;
}

void IngestStatusRecorder::Write(Entry& e) {
  if (!store_) return;
  e.state.updated_at = Now();
  auto r = store_->RecordSourceState(e.state, e.pending);
  if (r) {
    e.pending = {};
    warned_ = false;
    return;
  }
  // Once per run of failures: the next write that succeeds adds what is pending.
  if (!warned_) spdlog::warn("ingest status: {}: {}", e.state.name, r.error());
  warned_ = true;
}

void IngestStatusRecorder::PollStart(const collect::Source& source) {
  current_ = source.Describe();
  Entry& e = EntryOf(current_);
  e.state.state = store::kSourcePolling;
  e.state.poll_started_at = Now();
  e.state.next_poll_at.reset();
  e.state.inputs_total = e.state.inputs_done = 0;
  Write(e);
}

void IngestStatusRecorder::OnStart(const collect::Source& source, std::size_t waiting) {
  current_ = source.Describe();
  Entry& e = EntryOf(current_);
  e.state.inputs_total = waiting;
  e.state.inputs_done = 0;
  Write(e);
}

void IngestStatusRecorder::OnBatch(const pipeline::BatchDone& b) {
  Entry& e = EntryOf(current_);
  store::SourceCounts& c = e.pending;
  for (const collect::MailClass k : b.classes) {
    ++(k == collect::MailClass::kInvalid ? c.mails_invalid : c.mails_stored);
  }
  c.aggregate_new += b.stored.new_reports;
  c.aggregate_duplicate += b.stored.duplicate_reports;
  c.failure_new += b.stored.new_failures;
  c.failure_duplicate += b.stored.duplicate_failures;
  c.smtp_tls_new += b.stored.new_smtp_tls;
  c.smtp_tls_duplicate += b.stored.duplicate_smtp_tls;
  c.records += b.stored.new_records;
  c.rejections += b.stored.rejections;
  e.state.inputs_done += b.inputs.size();
  Write(e);
}

void IngestStatusRecorder::PollEnd(const collect::Source& source, const Status& result) {
  Entry& e = EntryOf(source.Describe());
  const std::int64_t now = Now();
  e.state.poll_ended_at = now;
  e.state.mails_left =
      e.state.inputs_total > e.state.inputs_done ? e.state.inputs_total - e.state.inputs_done : 0;
  if (result) {
    e.state.state = store::kSourceIdle;
  } else {
    e.state.state = store::kSourceError;
    e.state.last_error = log::Redact(result.error(), secrets_);
    e.state.last_error_at = now;
  }
  Write(e);
}

void IngestStatusRecorder::NextPoll(std::int64_t seconds) {
  const std::int64_t at = Now() + seconds;
  for (auto& [name, e] : entries_) {
    e.state.next_poll_at = at;
    Write(e);
  }
}

void IngestStatusRecorder::Stopped(bool watching) {
  for (auto& [name, e] : entries_) {
    if (watching) e.state.state = store::kSourceDisabled;
    e.state.next_poll_at.reset();
    Write(e);
  }
}

}  // namespace dmarc::app
