// Test helpers: stand-ins for Elasticsearch / OpenSearch / ZincSearch and for Splunk's HTTP
// Event Collector on a free loopback port. No real Elasticsearch or Splunk runs in the tests:
// these servers check every request against the vendors' documented API (the `_bulk` NDJSON
// framing and action lines, index name rules, `_index_template` bodies, HEC token header,
// event objects, acknowledgement channel) and record what does not conform in violations(),
// answering as the real ones do, including their error bodies.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "testing/base64.h"

namespace dmarc::outputs::testing {

using nlohmann::json;

class ServerBase {
 public:
  virtual ~ServerBase() = default;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  std::vector<std::string> violations() {
    std::lock_guard lock(mutex_);
    return violations_;
  }
  // Answers the next requests with these statuses (and a vendor-style error body) first.
  void QueueStatuses(const std::vector<int>& statuses) {
    std::lock_guard lock(mutex_);
    for (int s : statuses) queued_.push_back(s);
  }
  // Every request waits this long before its answer (a server that hangs).
  void set_delay(std::chrono::milliseconds d) { delay_ = d; }
  int requests() const { return requests_; }

 protected:
  void Start() {
    server_.set_tcp_nodelay(true);  // as Elasticsearch (Netty) answers
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  void Stop() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  void Violation(const std::string& what) {
    std::lock_guard lock(mutex_);
    violations_.push_back(what);
  }
  // A queued status, or 0; also applies the delay.
  int Next() {
    ++requests_;
    if (delay_.load().count() > 0) std::this_thread::sleep_for(delay_.load());
    std::lock_guard lock(mutex_);
    if (queued_.empty()) return 0;
    const int s = queued_.front();
    queued_.pop_front();
    return s;
  }

  httplib::Server server_;
  std::mutex mutex_;

 private:
  int port_ = 0;
  std::thread thread_;
  std::vector<std::string> violations_;
  std::deque<int> queued_;
  std::atomic<std::chrono::milliseconds> delay_{std::chrono::milliseconds(0)};
  std::atomic<int> requests_{0};
};

// Index names as Elasticsearch's "Create index API" documents them.
inline bool ValidIndexName(const std::string& name) {
  if (name.empty() || name.size() > 255 || name == "." || name == "..") return false;
  if (name[0] == '-' || name[0] == '_' || name[0] == '+') return false;
  for (char c : name) {
    if (c >= 'A' && c <= 'Z') return false;
    if (std::string_view("\\/*?\"<>| ,#:").find(c) != std::string_view::npos) return false;
  }
  return true;
}

// Elasticsearch / OpenSearch (or ZincSearch with api_prefix "/es").
class FakeElasticsearch : public ServerBase {
 public:
  struct Options {
    std::string user, password;  // basic auth required when set
    std::string api_key;         // "Authorization: ApiKey <api_key>" accepted when set
    std::string api_prefix;      // "/es" for ZincSearch
    // A document whose source makes this return non-zero gets that per-item status.
    std::function<int(const json& source)> item_status;
  };
  explicit FakeElasticsearch(Options o = {}) : o_(std::move(o)) {
    server_.Post(o_.api_prefix + "/_bulk",
                 [this](const httplib::Request& q, httplib::Response& a) { Bulk(q, a); });
    server_.Put(o_.api_prefix + R"(/_index_template/([^/]+))",
                [this](const httplib::Request& q, httplib::Response& a) { Template(q, a); });
    Start();
  }
  ~FakeElasticsearch() override { Stop(); }

  // index -> id -> source
  std::map<std::string, std::map<std::string, json>> indices() {
    std::lock_guard lock(mutex_);
    return indices_;
  }
  std::map<std::string, json> templates() {
    std::lock_guard lock(mutex_);
    return templates_;
  }
  std::vector<std::string> bulk_paths() {
    std::lock_guard lock(mutex_);
    return bulk_paths_;
  }
  std::size_t documents() {
    std::size_t n = 0;
    for (const auto& [name, docs] : indices()) n += docs.size();
    return n;
  }

 private:
  static json ErrorBody(const std::string& type, const std::string& reason, int status) {
    return {{"error",
             {{"root_cause", json::array({{{"type", type}, {"reason", reason}}})},
              {"type", type},
              {"reason", reason}}},
            {"status", status}};
  }
  static void Answer(httplib::Response& a, int status, const json& body) {
    a.status = status;
    a.set_content(body.dump(), "application/json");
  }
  bool Authorized(const httplib::Request& q, httplib::Response& a) {
    const std::string auth = q.get_header_value("Authorization");
    if (o_.user.empty() && o_.api_key.empty()) return true;
    if (!o_.api_key.empty() && auth == "ApiKey " + o_.api_key) return true;
    if (!o_.user.empty()) {
      std::string expected = "Basic " + ::dmarc::testing::Base64(o_.user + ":" + o_.password);
      while (!expected.empty() && (expected.back() == '\n' || expected.back() == '\r')) {
        expected.pop_back();
      }
      if (auth == expected) return true;
    }
    Answer(a, 401,
           ErrorBody("security_exception", "unable to authenticate user for REST request", 401));
    return false;
  }
  bool Queued(httplib::Response& a) {
    const int s = Next();
    if (s == 0) return false;
    const char* type =
        s == 429 ? "es_rejected_execution_exception" : "unavailable_shards_exception";
    Answer(a, s, ErrorBody(type, "injected", s));
    return true;
  }
  void Template(const httplib::Request& q, httplib::Response& a) {
    if (Queued(a) || !Authorized(q, a)) return;
    const std::string name = q.matches[1];
    auto body = json::parse(q.body, nullptr, false);
    if (q.get_header_value("Content-Type") != "application/json") {
      Violation("template " + name + ": Content-Type " + q.get_header_value("Content-Type"));
    }
    if (body.is_discarded() || !body.is_object() || !body.contains("index_patterns") ||
        !body["index_patterns"].is_array() || !body.contains("template") ||
        !body["template"].contains("mappings")) {
      Violation("template " + name + ": not a composable index template body");
      Answer(a, 400, ErrorBody("parse_exception", "bad template", 400));
      return;
    }
    std::lock_guard lock(mutex_);
    templates_[name] = body;
    Answer(a, 200, {{"acknowledged", true}});
  }
  bool DataStream(const std::string& index) {
    std::lock_guard lock(mutex_);
    for (const auto& [name, t] : templates_) {
      if (t.contains("data_stream") && t["index_patterns"].contains(index)) return true;
    }
    return false;
  }
  // One action line and its source: the item's answer.
  json BulkItem(const std::string& action_line, const std::string& source_line);
  void Bulk(const httplib::Request& q, httplib::Response& a);

  Options o_;
  std::map<std::string, std::map<std::string, json>> indices_;
  std::map<std::string, json> templates_;
  std::vector<std::string> bulk_paths_;
};

inline json FakeElasticsearch::BulkItem(const std::string& action_line,
                                        const std::string& source_line) {
  auto action = json::parse(action_line, nullptr, false);
  auto source = json::parse(source_line, nullptr, false);
  if (action.is_discarded() || !action.is_object() || action.size() != 1) {
    Violation("action line is not an object with one action: " + action_line);
    return {{"index", {{"status", 400}, {"error", {{"type", "illegal_argument_exception"}}}}}};
  }
  const std::string op = action.begin().key();
  const json& meta = action.begin().value();
  const std::string index = meta.value("_index", "");
  const std::string id = meta.value("_id", "");
  if (op != "index" && op != "create") Violation("unexpected action " + op);
  if (!ValidIndexName(index)) Violation("invalid index name \"" + index + "\"");
  if (id.empty() || id.size() > 512) Violation("missing or long _id in " + action_line);
  if (source.is_discarded() || !source.is_object()) {
    Violation("source line is not a JSON object: " + source_line.substr(0, 200));
    return {{op, {{"status", 400}, {"error", {{"type", "mapper_parsing_exception"}}}}}};
  }
  const bool stream = DataStream(index);
  if (stream && op != "create") Violation("data stream " + index + " takes create only");
  if (stream && !source.contains("@timestamp")) Violation("data stream doc without @timestamp");
  if (o_.item_status) {
    if (const int s = o_.item_status(source)) {
      const char* type = s == 400 ? "mapper_parsing_exception" : "es_rejected_execution_exception";
      return {{op,
               {{"_index", index},
                {"_id", id},
                {"status", s},
                {"error", {{"type", type}, {"reason", "injected for " + id}}}}}};
    }
  }
  std::lock_guard lock(mutex_);
  auto& docs = indices_[index];
  if (op == "create" && docs.contains(id)) {
    return {{op,
             {{"_index", index},
              {"_id", id},
              {"status", 409},
              {"error",
               {{"type", "version_conflict_engine_exception"},
                {"reason", "document already exists"}}}}}};
  }
  const bool existed = docs.contains(id);
  docs[id] = std::move(source);
  return {{op,
           {{"_index", index},
            {"_id", id},
            {"status", existed ? 200 : 201},
            {"result", existed ? "updated" : "created"}}}};
}

inline void FakeElasticsearch::Bulk(const httplib::Request& q, httplib::Response& a) {
  {
    std::lock_guard lock(mutex_);
    bulk_paths_.push_back(
        q.path + (q.params.empty() ? "" : "?filter_path=" + q.get_param_value("filter_path")));
  }
  if (Queued(a) || !Authorized(q, a)) return;
  const std::string type = q.get_header_value("Content-Type");
  if (type != "application/x-ndjson" && type != "application/json") {
    Violation("bulk Content-Type " + type);
  }
  if (q.body.empty() || q.body.back() != '\n') {
    Violation("bulk body does not end with a newline");
    Answer(a, 400,
           ErrorBody("illegal_argument_exception",
                     "The bulk request must be terminated by a newline [\\n]", 400));
    return;
  }
  std::vector<std::string> lines;
  std::istringstream in(q.body);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  if (lines.size() % 2 != 0) Violation("bulk body has an action without a source");
  json items = json::array();
  bool errors = false;
  for (std::size_t i = 0; i + 1 < lines.size(); i += 2) {
    json item = BulkItem(lines[i], lines[i + 1]);
    const int status = item.begin().value().value("status", 0);
    errors = errors || status >= 300;
    items.push_back(std::move(item));
  }
  Answer(a, 200, {{"took", 3}, {"errors", errors}, {"items", std::move(items)}});
}
struct FakeSplunkHecOptions {
  std::string token = "hec-token";
  bool ack = false;   // indexer acknowledgement on: a channel is required, ackIds answered
  int ack_after = 2;  // an ackId is true from this many ack polls on (-1: never)
};

// Splunk's HTTP Event Collector: /services/collector/event and /services/collector/ack.
class FakeSplunkHec : public ServerBase {
 public:
  using Options = FakeSplunkHecOptions;
  explicit FakeSplunkHec(Options o = {}) : o_(std::move(o)) {
    server_.Post("/services/collector/event",
                 [this](const httplib::Request& q, httplib::Response& a) { Event(q, a); });
    server_.Post("/services/collector/ack",
                 [this](const httplib::Request& q, httplib::Response& a) { Ack(q, a); });
    Start();
  }
  ~FakeSplunkHec() override { Stop(); }
  std::vector<json> events() {
    std::lock_guard lock(mutex_);
    return events_;
  }
  std::vector<std::string> channels() {
    std::lock_guard lock(mutex_);
    return channels_;
  }

 private:
  static void Answer(httplib::Response& a, int status, const std::string& text, int code) {
    a.status = status;
    a.set_content(json({{"text", text}, {"code", code}}).dump(), "application/json");
  }
  bool Authorized(const httplib::Request& q, httplib::Response& a) {
    const std::string auth = q.get_header_value("Authorization");
    if (auth.empty()) {
      Answer(a, 401, "Token is required", 2);
      return false;
    }
    if (auth != "Splunk " + o_.token) {
      Answer(a, 403, "Invalid token", 4);
      return false;
    }
    return true;
  }
  bool Queued(httplib::Response& a) {
    const int s = Next();
    if (s == 0) return false;
    if (s == 503) {
      Answer(a, 503, "Server is busy", 9);
    } else {
      Answer(a, s, "injected", 8);
    }
    return true;
  }
  // The body: event objects one after another (whitespace between them allowed).
  bool Events(const std::string& body, std::vector<json>& out, httplib::Response& a) {
    std::istringstream in(body);
    while ((in >> std::ws) && in.peek() != EOF) {
      json e;
      try {
        in >> e;
      } catch (const json::exception&) {
        Violation("HEC body is not a sequence of JSON objects");
        Answer(a, 400, "Invalid data format", 6);
        return false;
      }
      if (!e.is_object() || !e.contains("event")) {
        Violation("HEC event object without \"event\"");
        Answer(a, 400, "Event field is required", 12);
        return false;
      }
      if (e["event"].is_null() ||
          (e["event"].is_string() && e["event"].get<std::string>().empty())) {
        Answer(a, 400, "Event field cannot be blank", 13);
        return false;
      }
      if (e.contains("time") && !e["time"].is_number()) Violation("HEC time is not a number");
      if (!e.value("sourcetype", json("")).is_string()) Violation("sourcetype not a string");
      out.push_back(std::move(e));
    }
    if (out.empty()) {
      Answer(a, 400, "No data", 5);
      return false;
    }
    return true;
  }
  void Event(const httplib::Request& q, httplib::Response& a) {
    if (Queued(a) || !Authorized(q, a)) return;
    const std::string channel = q.get_header_value("X-Splunk-Request-Channel");
    if (o_.ack && channel.empty()) {
      Answer(a, 400, "Data channel is missing", 10);
      return;
    }
    std::vector<json> got;
    if (!Events(q.body, got, a)) return;
    std::lock_guard lock(mutex_);
    for (auto& e : got) events_.push_back(std::move(e));
    if (!channel.empty()) channels_.push_back(channel);
    if (!o_.ack) {
      Answer(a, 200, "Success", 0);
      return;
    }
    const int id = next_ack_++;
    polls_[id] = 0;
    a.status = 200;
    a.set_content(json({{"text", "Success"}, {"code", 0}, {"ackId", id}}).dump(),
                  "application/json");
  }
  void Ack(const httplib::Request& q, httplib::Response& a) {
    if (!Authorized(q, a)) return;
    if (q.get_header_value("X-Splunk-Request-Channel").empty()) {
      Answer(a, 400, "Data channel is missing", 10);
      return;
    }
    auto body = json::parse(q.body, nullptr, false);
    if (body.is_discarded() || !body.contains("acks") || !body["acks"].is_array()) {
      Violation("ack body is not {\"acks\": [...]}");
      Answer(a, 400, "Invalid data format", 6);
      return;
    }
    json acks = json::object();
    std::lock_guard lock(mutex_);
    for (const auto& id : body["acks"]) {
      const int n = id.get<int>();
      const int polls = ++polls_[n];
      acks[std::to_string(n)] = o_.ack_after >= 0 && polls >= o_.ack_after;
    }
    a.status = 200;
    a.set_content(json({{"acks", acks}}).dump(), "application/json");
  }

  Options o_;
  std::vector<json> events_;
  std::vector<std::string> channels_;
  std::map<int, int> polls_;
  int next_ack_ = 0;
};

}  // namespace dmarc::outputs::testing
