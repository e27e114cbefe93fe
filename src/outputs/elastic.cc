#include "outputs/elastic.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <optional>

#include "outputs/elastic_docs.h"
#include "outputs/http.h"
#include "outputs/options.h"

namespace dmarc::outputs {

namespace {

using elastic::IndexNaming;

struct Settings {
  std::string base_url;  // with ZincSearch's "/es" when the URL had no path
  HttpOptions http;
  std::string api_key;  // Authorization: ApiKey ...
  IndexNaming naming;
  bool install_templates = true;
  int shards = 0;     // 0: the cluster's default
  int replicas = -1;  // -1: the cluster's default
  std::size_t max_docs = 5000;
  std::size_t max_bytes = 8U << 20U;
};

// One document of a bulk request: which item it came from (for error messages).
struct DocRef {
  std::size_t item = 0;
  std::size_t n = 0;
};

// The worst of two outcomes: a retryable error beats an invalid document, so the engine sends
// the batch again rather than dropping it.
int Severity(ErrorKind kind) { return kind == ErrorKind::kInvalid ? 1 : 2; }

ErrorKind KindOfStatus(long status) {
  if (status == 400) return ErrorKind::kInvalid;
  if (status == 401 || status == 403) return ErrorKind::kAuth;
  if (status == 408 || status == 429 || status >= 500) return ErrorKind::kIo;
  return ErrorKind::kOther;
}

class ElasticOutput : public Output {
 public:
  ElasticOutput(std::string name, std::string type, Settings s)
      : name_(std::move(name)), type_(std::move(type)), s_(std::move(s)), http_(s_.http) {}
  const std::string& Name() const override { return name_; }
  Result<bool> Prepare() override;
  Status Deliver(std::span<const Item> items) override;

 private:
  std::vector<std::string> Headers(const char* content_type) const;
  Status Send(const std::string& body, const std::vector<DocRef>& refs,
              std::span<const Item> items);
  Status ItemErrors(const nlohmann::json& answer, const std::vector<DocRef>& refs,
                    std::span<const Item> items) const;
  Error Fail(ErrorKind kind, const std::string& what) const {
    return MakeError(kind, fmt::format("{} output {}: {}", type_, name_, what));
  }

  std::string name_, type_;
  Settings s_;
  HttpClient http_;
};

std::vector<std::string> ElasticOutput::Headers(const char* content_type) const {
  std::vector<std::string> h = {std::string("Content-Type: ") + content_type,
                                "Accept: application/json"};
  if (!s_.api_key.empty()) h.push_back("Authorization: ApiKey " + s_.api_key);
  return h;
}

Result<bool> ElasticOutput::Prepare() {
  if (!s_.install_templates) return true;
  for (const auto kind : {ReportKind::kAggregate, ReportKind::kFailure, ReportKind::kSmtpTls}) {
    const std::string name = elastic::IndexBase(kind, s_.naming);
    const std::string url = s_.base_url + "/_index_template/" + name;
    const std::string body = elastic::IndexTemplate(kind, s_.naming, s_.shards, s_.replicas).dump();
    auto r = http_.Send("PUT", url, Headers("application/json"), body);
    if (!r) return Fail(ErrorKind::kIo, r.error());
    if (r->status < 200 || r->status > 299) {
      return Fail(KindOfStatus(r->status),
                  fmt::format("installing index template {} answered {}: {}", name, r->status,
                              Excerpt(r->body)));
    }
  }
  return true;
}
std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

void AppendAction(const Settings& s, const Item& item, std::size_t n, std::string& out) {
  out += s.naming.data_streams ? R"({"create":{"_index":)" : R"({"index":{"_index":)";
  out += '"';
  out += elastic::IndexName(item.kind, elastic::DocumentTime(item, n), s.naming);
  out += R"(","_id":")";
  out += elastic::DocumentId(item.key, n);
  out += "\"}}\n";
}

Status ElasticOutput::Deliver(std::span<const Item> items) {
  std::string body;
  body.reserve(std::min<std::size_t>(s_.max_bytes + (64U << 10U), 64U << 20U));
  std::vector<DocRef> refs;
  std::optional<Error> worst;
  auto flush = [&]() -> bool {
    if (refs.empty()) return true;
    auto sent = Send(body, refs, items);
    body.clear();
    refs.clear();
    if (sent) return true;
    if (!worst || Severity(sent.error_kind()) > Severity(worst->kind)) {
      worst = std::move(sent).error_value();
    }
    return worst->kind == ErrorKind::kInvalid;  // go on past invalid documents only
  };
  for (std::size_t i = 0; i < items.size(); ++i) {
    const std::size_t count = elastic::DocumentCount(items[i]);
    for (std::size_t n = 0; n < count; ++n) {
      AppendAction(s_, items[i], n, body);
      elastic::AppendDocument(items[i], n, s_.naming.data_streams, body);
      body += '\n';
      refs.push_back({i, n});
      if ((refs.size() >= s_.max_docs || body.size() >= s_.max_bytes) && !flush()) {
        return *worst;
      }
    }
  }
  if (!flush()) return *worst;
  if (worst) return *worst;
  return Ok();
}

Status ElasticOutput::Send(const std::string& body, const std::vector<DocRef>& refs,
                           std::span<const Item> items) {
  // Only what tells success from failure comes back (the bulk API answers in request order).
  const std::string url = s_.base_url + "/_bulk?filter_path=errors,items.*.status,items.*.error";
  auto r = http_.Send("POST", url, Headers("application/x-ndjson"), body);
  if (!r) return Fail(ErrorKind::kIo, r.error());
  if (r->status < 200 || r->status > 299) {
    return Fail(KindOfStatus(r->status),
                fmt::format("POST {} answered {}: {}", url, r->status, Excerpt(r->body)));
  }
  // The common case without parsing the whole answer.
  if (r->body.substr(0, 64).find(R"("errors":false)") != std::string::npos) return Ok();
  auto answer = nlohmann::json::parse(r->body, nullptr, false);
  if (answer.is_discarded() || !answer.is_object() || !answer.contains("errors")) {
    return Fail(ErrorKind::kIo,
                fmt::format("POST {}: not a bulk answer: {}", url, Excerpt(r->body)));
  }
  if (answer["errors"] == false) return Ok();
  return ItemErrors(answer, refs, items);
}

Status ElasticOutput::ItemErrors(const nlohmann::json& answer, const std::vector<DocRef>& refs,
                                 std::span<const Item> items) const {
  const auto& list = answer.value("items", nlohmann::json::array());
  if (!list.is_array() || list.size() != refs.size()) {
    return Fail(ErrorKind::kIo, fmt::format("the bulk answer lists {} items for {} documents",
                                            list.is_array() ? list.size() : 0, refs.size()));
  }
  std::optional<Error> worst;
  std::size_t failed = 0;
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (!list[i].is_object() || list[i].empty()) continue;
    const auto& result = list[i].begin().value();
    const long status = result.value("status", 0L);
    if (status >= 200 && status <= 299) continue;
    // A data stream refuses a second "create" of an id: that document is there already.
    if (status == 409 && s_.naming.data_streams) continue;
    ++failed;
    const ErrorKind kind = KindOfStatus(status);
    if (worst && Severity(kind) <= Severity(worst->kind)) continue;
    const auto& error = result.value("error", nlohmann::json::object());
    const std::string reason = error.is_object()
                                   ? error.value("type", "") + ": " + error.value("reason", "")
                                   : error.dump();
    const DocRef& ref = refs[i];
    worst = Fail(kind, fmt::format("document {} of report {} refused ({}): {}", ref.n,
                                   items[ref.item].key, status, Excerpt(reason)));
  }
  if (!worst) return Ok();
  worst->message += fmt::format(" ({} of {} documents refused)", failed, refs.size());
  return *worst;
}

Result<Settings> ReadSettings(const OutputConfig& config) {
  OptionReader o(config,
                 WithHttpKeys({"api_key_file", "index_prefix", "index_suffix", "monthly_indexes",
                               "data_streams", "install_templates", "number_of_shards",
                               "number_of_replicas", "max_batch_docs", "max_batch_bytes"}));
  Settings s;
  s.http = o.Http(s.base_url);
  const bool zinc = config.type == "zincsearch";
  // ZincSearch's Elasticsearch-compatible API lives under /es.
  if (zinc && !s.base_url.empty() &&
      s.base_url.find('/', s.base_url.find("://") + 3) == std::string::npos) {
    s.base_url += "/es";
  }
  s.api_key = o.Secret("api_key_file");
  if (!s.api_key.empty() && !s.http.user.empty()) {
    o.Fail("api_key_file", "use either an API key or user and password_file");
  }
  s.naming.prefix = o.String("index_prefix");
  s.naming.suffix = o.String("index_suffix");
  for (const auto* key : {"index_prefix", "index_suffix"}) {
    const std::string v = o.String(key);
    if (v.find_first_of("\\/*?\"<>| ,#:") != std::string::npos || v != Lower(v)) {
      o.Fail(key, "index names are lower case, without \\ / * ? \" < > | , # : or space");
    }
  }
  s.naming.monthly = o.Bool("monthly_indexes", false);
  s.naming.data_streams = o.Bool("data_streams", false);
  s.install_templates = o.Bool("install_templates", !zinc);
  s.shards = static_cast<int>(o.Int("number_of_shards", 0, 0, 1024));
  s.replicas = static_cast<int>(o.Int("number_of_replicas", -1, -1, 1024));
  s.max_docs = static_cast<std::size_t>(o.Int("max_batch_docs", 5000, 1, 100000));
  s.max_bytes = static_cast<std::size_t>(o.Int("max_batch_bytes", 8 << 20, 4096, 512 << 20));
  DMARC_TRY(o.Check());
  return s;
}

}  // namespace

Result<std::unique_ptr<Output>> MakeElasticsearchOutput(const OutputConfig& config) {
  if (config.type != "elasticsearch" && config.type != "opensearch" &&
      config.type != "zincsearch") {
    return MakeError(ErrorKind::kInvalid,
                     fmt::format("output.{}.type: \"{}\" is not elasticsearch, opensearch or "
                                 "zincsearch",
                                 config.name, config.type));
  }
  auto settings = ReadSettings(config);
  if (!settings) return std::move(settings).error_value();
  return std::unique_ptr<Output>(
      std::make_unique<ElasticOutput>(config.name, config.type, std::move(*settings)));
}

}  // namespace dmarc::outputs
