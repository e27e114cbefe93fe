#include "outputs/kafka.h"

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstring>
#include <utility>

#include "base/time.h"
#include "outputs/options.h"
#include "sinks/json_text.h"
#include "sinks/report_json.h"

namespace dmarc::outputs {
namespace {

void AppendField(std::string& out, std::string_view key, const model::OptString& v) {
  sinks::AppendJsonString(out, key);
  out += ':';
  if (v) {
    sinks::AppendJsonString(out, *v);
  } else {
    out += "null";
  }
  out += ',';
}

std::string ParsedmarcDate(std::int64_t t) {
  std::string s = sinks::FormatRfc3339(t);
  if (!s.empty() && s.back() == 'Z') s.pop_back();
  return s;
}

// `{"org_name":...,"policy_published":{...},` : what every record message of a report starts with.
std::string AggregatePrefix(const model::AggregateReport& r) {
  const auto& m = r.report_metadata;
  const auto& p = r.policy_published;
  std::string out = "{";
  AppendField(out, "xml_schema", r.xml_schema);
  AppendField(out, "org_name", m.org_name);
  AppendField(out, "org_email", m.org_email);
  AppendField(out, "org_extra_contact_info", m.org_extra_contact_info);
  AppendField(out, "report_id", m.report_id);
  out += "\"date_range\":[";
  sinks::AppendJsonString(out, ParsedmarcDate(m.begin));
  out += ',';
  sinks::AppendJsonString(out, ParsedmarcDate(m.end));
  out += "],\"policy_published\":{";
  AppendField(out, "domain", p.domain);
  AppendField(out, "adkim", p.adkim);
  AppendField(out, "aspf", p.aspf);
  AppendField(out, "p", p.p);
  AppendField(out, "sp", p.sp);
  AppendField(out, "pct", p.pct);
  AppendField(out, "fo", p.fo);
  AppendField(out, "np", p.np);
  AppendField(out, "testing", p.testing);
  AppendField(out, "discovery_method", p.discovery_method);
  out.back() = '}';
  out += ',';
  return out;
}

void Member(std::string& out, std::string_view key) {
  out += '"';
  out += key;  // the keys below need no escaping
  out += "\":";
}

void Str(std::string& out, std::string_view key, std::string_view v) {
  Member(out, key);
  sinks::AppendJsonString(out, v);
  out += ',';
}

void OptStr(std::string& out, std::string_view key, const model::OptString& v) {
  Member(out, key);
  if (v) {
    sinks::AppendJsonString(out, *v);
  } else {
    out += "null";
  }
  out += ',';
}

void Time(std::string& out, std::string_view key, std::int64_t t) {
  char buf[19];
  FormatUtc(t, buf);
  Member(out, key);
  out += '"';
  out.append(buf, sizeof buf);
  out += "\",";
}

// Replaces the trailing ',' of the last member with `close`.
void Close(std::string& out, char close) {
  if (out.back() == ',') {
    out.back() = close;
  } else {
    out += close;
  }
}

// parsedmarc's record object (sinks::AppendAggregateJsonRecord) without the whitespace, its
// members appended to an object already open (KafkaMessages_test checks both agree).
void AppendCompactRecord(std::string& out, const model::Record& r) {
  const auto& s = r.source;
  out += "\"source\":{";
  Str(out, "ip_address", s.ip_address);
  OptStr(out, "country", s.country);
  OptStr(out, "reverse_dns", s.reverse_dns);
  OptStr(out, "base_domain", s.base_domain);
  OptStr(out, "name", s.name);
  OptStr(out, "type", s.type);
  Member(out, "asn");
  out += s.asn ? std::to_string(*s.asn) : "null";
  out += ',';
  OptStr(out, "as_name", s.as_name);
  OptStr(out, "as_domain", s.as_domain);
  Close(out, '}');
  out += ",\"count\":" + std::to_string(r.count);
  out += ",\"alignment\":{\"spf\":";
  out += r.alignment.spf ? "true" : "false";
  out += ",\"dkim\":";
  out += r.alignment.dkim ? "true" : "false";
  out += ",\"dmarc\":";
  out += r.alignment.dmarc ? "true" : "false";
  out += "},\"policy_evaluated\":{";
  Str(out, "disposition", r.policy_evaluated.disposition);
  Str(out, "dkim", r.policy_evaluated.dkim);
  Str(out, "spf", r.policy_evaluated.spf);
  out += "\"policy_override_reasons\":[";
  for (const auto& o : r.policy_evaluated.policy_override_reasons) {
    out += '{';
    OptStr(out, "type", o.type);
    OptStr(out, "comment", o.comment);
    Close(out, '}');
    out += ',';
  }
  Close(out, ']');
  out += "},\"identifiers\":{";
  Str(out, "header_from", r.identifiers.header_from);
  OptStr(out, "envelope_from", r.identifiers.envelope_from);
  OptStr(out, "envelope_to", r.identifiers.envelope_to);
  Close(out, '}');
  out += ",\"auth_results\":{\"dkim\":[";
  for (const auto& d : r.dkim) {
    out += '{';
    Str(out, "domain", d.domain);
    Str(out, "selector", d.selector);
    Str(out, "result", d.result);
    OptStr(out, "human_result", d.human_result);
    Close(out, '}');
    out += ',';
  }
  Close(out, ']');
  out += ",\"spf\":[";
  for (const auto& x : r.spf) {
    out += '{';
    Str(out, "domain", x.domain);
    Str(out, "scope", x.scope);
    Str(out, "result", x.result);
    OptStr(out, "human_result", x.human_result);
    Close(out, '}');
    out += ',';
  }
  Close(out, ']');
  out += "},\"normalized_timespan\":";
  out += r.normalized_timespan ? "true," : "false,";
  Time(out, "interval_begin", r.interval_begin);
  Time(out, "interval_end", r.interval_end);
  Close(out, '}');
}

void AggregateMessages(const model::AggregateReport& r, std::vector<KafkaMessage>& out) {
  const std::string prefix = AggregatePrefix(r);
  out.reserve(out.size() + r.records.size());
  for (std::size_t i = 0; i < r.records.size(); ++i) {
    KafkaMessage msg;
    msg.index = i;
    msg.value.reserve(prefix.size() + 1024);
    msg.value = prefix;
    AppendCompactRecord(msg.value, r.records[i]);
    out.push_back(std::move(msg));
  }
}

void SmtpTlsMessages(const model::SmtpTlsReport& r, std::vector<KafkaMessage>& out) {
  nlohmann::ordered_json report = sinks::SmtpTlsToJson(r);
  nlohmann::ordered_json policies = std::move(report["policies"]);
  report.erase("policies");
  for (std::size_t i = 0; i < policies.size(); ++i) {
    nlohmann::ordered_json msg = report;
    for (auto& [k, v] : policies[i].items()) msg[k] = std::move(v);
    out.push_back(
        KafkaMessage{msg.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), i});
  }
}

constexpr int kKinds = 3;

int KindIndex(ReportKind k) { return static_cast<int>(k); }

struct KafkaSettings {
  std::string name;
  std::string brokers;
  std::vector<std::pair<std::string, std::string>> conf;  // librdkafka properties
  std::array<std::string, kKinds> topics;
  int timeout_ms = 30000;
  std::size_t message_max_bytes = 1000000;
};

ErrorKind KindOf(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
      return ErrorKind::kInvalid;
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
      return ErrorKind::kAuth;
    default:
      return ErrorKind::kIo;
  }
}

class KafkaOutput : public Output {
 public:
  explicit KafkaOutput(KafkaSettings s) : s_(std::move(s)) {}
  ~KafkaOutput() override { Close(false); }
  KafkaOutput(const KafkaOutput&) = delete;
  KafkaOutput& operator=(const KafkaOutput&) = delete;

  const std::string& Name() const override { return s_.name; }
  Result<bool> Prepare() override;
  Status Deliver(std::span<const Item> items) override;

 private:
  Status Connect();
  void Close(bool purge);
  Status Produce(const Item& item, const KafkaMessage& msg,
                 std::chrono::steady_clock::time_point deadline);
  Status Fail(Error e) {
    Close(true);
    return e;
  }
  static void OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque);
  static void OnLog(const rd_kafka_t* rk, int level, const char* fac, const char* buf);

  KafkaSettings s_;
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_topic_t* topics_[kKinds] = {};
  // The batch being delivered: messages not yet acknowledged, the first failure.
  std::size_t pending_ = 0;
  rd_kafka_resp_err_t first_error_ = RD_KAFKA_RESP_ERR_NO_ERROR;
};

void KafkaOutput::OnDelivery(rd_kafka_t* /*rk*/, const rd_kafka_message_t* m, void* opaque) {
  auto* self = static_cast<KafkaOutput*>(opaque);
  if (self->pending_ > 0) --self->pending_;
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR && self->first_error_ == RD_KAFKA_RESP_ERR_NO_ERROR) {
    self->first_error_ = m->err;
  }
}

void KafkaOutput::OnLog(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  // syslog levels: 0..3 errors, 4 warnings, the rest is detail.
  if (level <= 3) {
    spdlog::error("kafka {}: {}: {}", rd_kafka_name(rk), fac, buf);
  } else if (level == 4) {
    spdlog::warn("kafka {}: {}: {}", rd_kafka_name(rk), fac, buf);
  } else {
    spdlog::debug("kafka {}: {}: {}", rd_kafka_name(rk), fac, buf);
  }
}

Status KafkaOutput::Connect() {
  char err[512] = {};
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [k, v] : s_.conf) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      // The property's name only: its value may be a secret.
      return MakeError(ErrorKind::kInvalid,
                       "output." + s_.name + ": librdkafka refuses " + k + ": " + err);
    }
  }
  rd_kafka_conf_set_dr_msg_cb(conf, &KafkaOutput::OnDelivery);
  rd_kafka_conf_set_log_cb(conf, &KafkaOutput::OnLog);
  rd_kafka_conf_set_opaque(conf, this);
  rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    return MakeError(ErrorKind::kInvalid, "output." + s_.name + ": kafka producer: " + err);
  }
  for (int i = 0; i < kKinds; ++i)
    topics_[i] = rd_kafka_topic_new(rk_, s_.topics[i].c_str(), nullptr);
  return Ok();
}

void KafkaOutput::Close(bool purge) {
  if (rk_ == nullptr) return;
  if (purge) {
    // Nothing of a failed batch may be sent later behind the engine's back: the engine sends the
    // batch again, in order.
    rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(rk_, 0);
  }
  rd_kafka_flush(rk_, purge ? 100 : 5000);
  for (auto*& t : topics_) {
    if (t != nullptr) rd_kafka_topic_destroy(t);
    t = nullptr;
  }
  rd_kafka_destroy(rk_);
  rk_ = nullptr;
}

Result<bool> KafkaOutput::Prepare() {
  if (rk_ == nullptr) DMARC_TRY(Connect());
  // The cluster answers (a metadata request), so a wrong address shows before the first batch.
  const struct rd_kafka_metadata* md = nullptr;
  const rd_kafka_resp_err_t err =
      rd_kafka_metadata(rk_, 0, nullptr, &md, std::min(s_.timeout_ms, 10000));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    Close(true);
    return MakeError(KindOf(err), "kafka " + s_.brokers + ": " + rd_kafka_err2str(err));
  }
  rd_kafka_metadata_destroy(md);
  return true;
}

Status KafkaOutput::Produce(const Item& item, const KafkaMessage& msg,
                            std::chrono::steady_clock::time_point deadline) {
  // The key is the report's key; the header says which of its messages this is, so a consumer
  // can drop a duplicate (a batch sent again after a crash) by key and index.
  const std::string index = std::to_string(msg.index);
  rd_kafka_vu_t vu[4] = {};
  vu[0].vtype = RD_KAFKA_VTYPE_RKT;
  vu[0].u.rkt = topics_[KindIndex(item.kind)];
  vu[1].vtype = RD_KAFKA_VTYPE_KEY;
  vu[1].u.mem = {const_cast<char*>(item.key.data()), item.key.size()};  // NOLINT: copied
  // No copy of the value: Deliver keeps it alive until every message is acknowledged or purged.
  vu[2].vtype = RD_KAFKA_VTYPE_VALUE;
  vu[2].u.mem = {const_cast<char*>(msg.value.data()), msg.value.size()};  // NOLINT: not written
  vu[3].vtype = RD_KAFKA_VTYPE_HEADER;
  vu[3].u.header = {"record_index", index.data(), static_cast<ssize_t>(index.size())};
  for (;;) {
    rd_kafka_error_t* error = rd_kafka_produceva(rk_, vu, 4);
    if (error == nullptr) {
      ++pending_;
      return Ok();
    }
    const rd_kafka_resp_err_t err = rd_kafka_error_code(error);
    rd_kafka_error_destroy(error);
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || std::chrono::steady_clock::now() > deadline) {
      return MakeError(KindOf(err), "kafka " + s_.brokers + ": report " + item.key + ": " +
                                        rd_kafka_err2str(err));
    }
    rd_kafka_poll(rk_, 10);  // room in the queue as acknowledgements arrive
  }
}

Status KafkaOutput::Deliver(std::span<const Item> items) {
  if (rk_ == nullptr) DMARC_TRY(Connect());
  std::vector<std::vector<KafkaMessage>> messages;
  messages.reserve(items.size());
  std::size_t total = 0;
  for (const Item& item : items) {
    messages.push_back(KafkaMessages(item));
    for (const auto& m : messages.back()) {
      if (m.value.size() + item.key.size() + 128 > s_.message_max_bytes) {
        return MakeError(ErrorKind::kInvalid, "kafka: report " + item.key + ": a message of " +
                                                  std::to_string(m.value.size()) +
                                                  " bytes exceeds output." + s_.name +
                                                  ".message_max_bytes");
      }
    }
    total += messages.back().size();
  }
  pending_ = 0;
  first_error_ = RD_KAFKA_RESP_ERR_NO_ERROR;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(s_.timeout_ms);
  for (std::size_t i = 0; i < items.size(); ++i) {
    for (const auto& m : messages[i]) {
      if (Status st = Produce(items[i], m, deadline); !st) {
        return Fail(std::move(st).error_value());
      }
    }
  }
  rd_kafka_flush(rk_, s_.timeout_ms + 5000);
  char fatal[256] = {};
  if (const auto fe = rd_kafka_fatal_error(rk_, fatal, sizeof fatal);
      fe != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Fail(MakeError(ErrorKind::kIo, "kafka " + s_.brokers + ": producer failed: " + fatal));
  }
  if (first_error_ != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Fail(MakeError(KindOf(first_error_),
                          "kafka " + s_.brokers + ": " + rd_kafka_err2str(first_error_)));
  }
  if (pending_ > 0) {
    return Fail(MakeError(ErrorKind::kIo, "kafka " + s_.brokers + ": " + std::to_string(pending_) +
                                              " of " + std::to_string(total) +
                                              " messages not acknowledged in time"));
  }
  return Ok();
}

bool ValidTopic(const std::string& t) {
  if (t.empty() || t.size() > 249 || t == "." || t == "..") return false;
  return std::all_of(t.begin(), t.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '_' || c == '-';
  });
}

void ReadSecurity(OptionReader& r, KafkaSettings& s) {
  const std::string proto =
      r.OneOf("security_protocol", "plaintext", {"plaintext", "ssl", "sasl_plaintext", "sasl_ssl"});
  s.conf.emplace_back("security.protocol", proto);
  const bool sasl = proto.rfind("sasl", 0) == 0, tls = proto.find("ssl") != std::string::npos;
  if (sasl) {
    s.conf.emplace_back("sasl.mechanisms", r.OneOf("sasl_mechanism", "PLAIN",
                                                   {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}));
    const std::string user = r.String("username", "");
    if (user.empty()) r.Fail("username", "required with security_protocol = " + proto);
    s.conf.emplace_back("sasl.username", user);
    const std::string password = r.Secret("password_file");
    if (password.empty()) r.Fail("password_file", "required with security_protocol = " + proto);
    s.conf.emplace_back("sasl.password", password);
  } else {
    for (const char* k : {"sasl_mechanism", "username", "password_file"}) {
      if (r.Has(k)) r.Fail(k, "needs security_protocol sasl_plaintext or sasl_ssl");
    }
  }
  const std::pair<const char*, const char*> files[] = {
      {"ssl_ca_file", "ssl.ca.location"},
      {"ssl_certificate_file", "ssl.certificate.location"},
      {"ssl_key_file", "ssl.key.location"}};
  for (const auto& [key, property] : files) {
    if (!r.Has(key)) continue;
    if (!tls) r.Fail(key, "needs security_protocol ssl or sasl_ssl");
    s.conf.emplace_back(property, r.ExistingFile(key));
  }
}

Result<KafkaSettings> ReadKafkaSettings(const OutputConfig& config) {
  OptionReader r(config, {"brokers", "aggregate_topic", "failure_topic", "smtp_tls_topic",
                          "client_id", "timeout", "message_max_bytes", "compression", "linger_ms",
                          "security_protocol", "sasl_mechanism", "username", "password_file",
                          "ssl_ca_file", "ssl_certificate_file", "ssl_key_file"});
  KafkaSettings s;
  s.name = config.name;
  s.brokers = r.String("brokers", "");
  if (s.brokers.empty()) r.Fail("brokers", "required (host:port, comma-separated)");
  const char* topic_keys[kKinds] = {"aggregate_topic", "failure_topic", "smtp_tls_topic"};
  const char* topic_defaults[kKinds] = {"dmarc_aggregate", "dmarc_failure", "smtp_tls"};
  for (int i = 0; i < kKinds; ++i) {
    s.topics[i] = r.String(topic_keys[i], topic_defaults[i]);
    if (!ValidTopic(s.topics[i])) r.Fail(topic_keys[i], "not a Kafka topic name");
  }
  s.timeout_ms = static_cast<int>(r.Int("timeout", 30, 1, 3600) * 1000);
  s.message_max_bytes =
      static_cast<std::size_t>(r.Int("message_max_bytes", 1000000, 10000, 1000000000));
  s.conf = {{"bootstrap.servers", s.brokers},
            {"client.id", r.String("client_id", "dmarc-report")},
            {"enable.idempotence", "true"},
            {"acks", "all"},
            {"message.timeout.ms", std::to_string(s.timeout_ms)},
            {"message.max.bytes", std::to_string(s.message_max_bytes)},
            {"linger.ms", std::to_string(r.Int("linger_ms", 5, 0, 10000))},
            {"compression.codec",
             r.OneOf("compression", "none", {"none", "gzip", "snappy", "lz4", "zstd"})},
            {"queue.buffering.max.messages", "1000000"}};
  ReadSecurity(r, s);
  DMARC_TRY(r.Check());
  return s;
}

}  // namespace

Result<std::unique_ptr<Output>> MakeKafkaOutput(const OutputConfig& config) {
  KafkaSettings s;
  DMARC_TRY_ASSIGN(s, ReadKafkaSettings(config));
  return std::unique_ptr<Output>(std::make_unique<KafkaOutput>(std::move(s)));
}

std::vector<KafkaMessage> KafkaMessages(const Item& item) {
  std::vector<KafkaMessage> out;
  if (item.aggregate != nullptr) {
    AggregateMessages(*item.aggregate, out);
  } else if (item.failure != nullptr) {
    out.push_back(KafkaMessage{sinks::FailureToJson(*item.failure)
                                   .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                               0});
  } else if (item.smtp_tls != nullptr) {
    SmtpTlsMessages(*item.smtp_tls, out);
  }
  return out;
}

}  // namespace dmarc::outputs
