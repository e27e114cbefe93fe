// The contract between the delivery engine (outbox, retries, `dmarc-report outputs`) and each
// output type (Elasticsearch, Splunk, Kafka, syslog, webhook ...): see docs/outputs.md.
//
// The engine reads the reports to deliver back from the store (in the order they were stored)
// and hands them to an output a batch at a time. An output turns them into its own documents or
// events and sends them; it returns only when every item was accepted by the receiver, or with an
// error that says whether trying again later may succeed. Outputs must be idempotent: the engine
// sends a batch again after a crash or an error, so a document's identity comes from the report
// (`Item::key`), never from a counter or the clock.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "base/result.h"
#include "model/aggregate.h"
#include "model/failure.h"
#include "model/smtp_tls.h"

namespace dmarc::outputs {

enum class ReportKind { kAggregate, kFailure, kSmtpTls };

// One stored report to deliver. Exactly one of the pointers is set (not owned; valid during
// Deliver only).
struct Item {
  ReportKind kind = ReportKind::kAggregate;
  // Stable across re-sends and restarts: the store's identity of the report (for an aggregate
  // report: org name, report id and policy domain; see docs/outputs.md), usable in document ids.
  std::string key;
  const model::AggregateReport* aggregate = nullptr;
  const model::FailureReport* failure = nullptr;
  const model::SmtpTlsReport* smtp_tls = nullptr;
};

// One [output.NAME] table of the configuration (or DMARC_REPORT_OUTPUT_<NAME>_<KEY> variables):
// the keys every output has, and the type's own keys as text (a TOML number or boolean as
// written: "30", "true"; a list of strings joined with ","). Each type has a factory
//   Result<std::unique_ptr<Output>> MakeXxxOutput(const OutputConfig&);
// that refuses an unknown or malformed key naming it ("output.es.url: ..."), reads its secrets
// from the *_file keys (password_file, token_file, api_key_file) and never logs them.
struct OutputConfig {
  std::string name;       // NAME
  std::string type;       // "elasticsearch", "opensearch", "zincsearch", "splunk_hec", ...
  bool required = false;  // hold the mail unacknowledged until delivered
  std::map<std::string, std::string> options;  // the other keys
};

class Output {
 public:
  virtual ~Output() = default;
  // The [output.NAME] name.
  virtual const std::string& Name() const = 0;
  // Called before the first delivery and again after an error (e.g. installs index templates).
  virtual Result<bool> Prepare() { return true; }
  // Delivers the items, in order. Success: the receiver accepted all of them. An error's message
  // names the receiver (never a secret); its kind says whether to try again later: kInvalid
  // means this batch will never be accepted (e.g. a mapping error: the engine records it and
  // moves on), every other kind is retried with backoff (kIo: unreachable, 429/503, a timeout;
  // kAuth: credentials refused).
  virtual Status Deliver(std::span<const Item> items) = 0;
};

}  // namespace dmarc::outputs
