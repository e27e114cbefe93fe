#include "web/html_report.h"

#include <fmt/format.h>
#include <sodium.h>

#include <algorithm>
#include <ctime>
#include <vector>

#include "base/time.h"
#include "web/api.h"
#include "web/assets.h"

namespace dmarc::web {

namespace {

// The most rows of each list the report embeds.
constexpr std::size_t kEmbeddedRows = 50000;

// application/x-www-form-urlencoded, as the browser's URLSearchParams writes it.
std::string FormEncode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '*' || c == '-' || c == '.' || c == '_') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

// The key the front end looks answers up by: path?sorted parameters.
std::string AnswerKey(const std::string& path, Params params) {
  std::vector<std::pair<std::string, std::string>> sorted(params.begin(), params.end());
  std::sort(sorted.begin(), sorted.end());
  std::string key = path + "?";
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    if (i) key += '&';
    key += FormEncode(sorted[i].first) + "=" + FormEncode(sorted[i].second);
  }
  return key;
}

std::string Sha256Base64(std::string_view text) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  char b64[sodium_base64_ENCODED_LEN(crypto_hash_sha256_BYTES, sodium_base64_VARIANT_ORIGINAL)];
  sodium_bin2base64(b64, sizeof b64, digest, sizeof digest, sodium_base64_VARIANT_ORIGINAL);
  return b64;
}

// Text inside <script> or <style> must not close the element early.
std::string NoClosingTag(std::string text, std::string_view tag) {
  const std::string needle = fmt::format("</{}", tag);
  for (std::size_t pos = 0; (pos = text.find(needle, pos)) != std::string::npos;) {
    text.replace(pos, 2, "<\\/");
  }
  return text;
}

// The advisor's answer for the report's domain (the Enforcement page): 30 days to the last day
// of the report (or to now), keyed as the page asks for it.
Result<bool> EmbedAdvice(Api& api, const HtmlReportOptions& options, nlohmann::json& answers) {
  Params advise = {{"domain", options.domain}, {"days", "30"}};
  if (!options.to.empty()) advise.emplace("until", options.to);
  const ApiAnswer a = api.Get("/api/advise", advise);
  if (a.status != 200) {
    return MakeError(fmt::format(
        "advise: {}",
        nlohmann::json::parse(a.body, nullptr, false).value("error", std::string("query failed"))));
  }
  answers[AnswerKey("advise", advise)] = nlohmann::json::parse(a.body);
  return true;
}

}  // namespace

Result<std::string> BuildHtmlReport(store::ReportStore& store, store::DashboardQueries& queries,
                                    const HtmlReportOptions& options) {
  if (sodium_init() < 0) return MakeError("libsodium failed to initialise");
  const Asset* js = FindAsset("/app.js");
  const Asset* css = FindAsset("/app.css");
  if (!js || !css) return MakeError("the front end is not embedded in this build");
  Params filters;
  if (!options.domain.empty()) filters.emplace("domain", options.domain);
  if (!options.from.empty()) filters.emplace("from", options.from);
  if (!options.to.empty()) filters.emplace("to", options.to);

  // Lists are embedded whole (up to kEmbeddedRows rows each; the page says "N of M" when a list
  // has more): the page pages and searches them itself, and looks them up without paging
  // parameters.
  ApiOptions api_options;
  api_options.max_limit = kEmbeddedRows;
  api_options.forwarders = options.forwarders;
  Api api(store, queries, api_options);
  nlohmann::json answers = nlohmann::json::object();
  auto ask = [&](const std::string& path, Params extra) -> Result<bool> {
    Params params = filters;
    params.insert(extra.begin(), extra.end());
    Params asked = params;
    asked.emplace("limit", std::to_string(kEmbeddedRows));
    ApiAnswer a = api.Get("/api/" + path, asked);
    if (a.status != 200) {
      return MakeError(fmt::format("{}: {}", path,
                                   nlohmann::json::parse(a.body, nullptr, false)
                                       .value("error", std::string("query failed"))));
    }
    answers[AnswerKey(path, params)] = nlohmann::json::parse(a.body);
    return true;
  };
  for (const char* path : {"overview", "stats", "domains"}) {
    if (auto r = ask(path, {}); !r) return MakeError(r.error());
  }
  // Why a column of names may be empty (no filter: the whole store's state when made).
  const ApiAnswer enrichment = api.Get("/api/enrichment", {});
  if (enrichment.status == 200) {
    answers[AnswerKey("enrichment", {})] = nlohmann::json::parse(enrichment.body);
  }
  for (const char* group : {"service", "base_domain", "ptr", "ip", "asn", "country"}) {
    if (auto r = ask("sources", {{"group", group}}); !r) {
      return MakeError(r.error());
    }
  }
  if (!options.domain.empty()) {
    if (auto r = EmbedAdvice(api, options, answers); !r) return MakeError(r.error());
  }
  nlohmann::json data = {
      {"filters",
       nlohmann::json(std::map<std::string, std::string>(filters.begin(), filters.end()))},
      {"generated", FormatUtc(static_cast<std::int64_t>(std::time(nullptr))) + " UTC"},
      {"answers", std::move(answers)}};
  std::string data_text = DumpJson(data);
  // '<' only occurs inside JSON strings, where \u003c means the same: no tag can form.
  for (std::size_t pos = 0; (pos = data_text.find('<', pos)) != std::string::npos;) {
    data_text.replace(pos, 1, "\\u003c");
  }
  const std::string script = NoClosingTag(std::string(js->data), "script");
  const std::string style = NoClosingTag(std::string(css->data), "style");
  // Only this script and this style may run: a strict policy by hash, no network at all.
  const std::string csp = fmt::format(
      "default-src 'none'; script-src 'sha256-{}'; style-src 'sha256-{}'; img-src data:; "
      "base-uri 'none'; form-action 'none'",
      Sha256Base64(script), Sha256Base64(style));
  return fmt::format(
      "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>dmarc-report</title>\n<style>{}</style>\n</head>\n<body>\n"
      "<div id=\"app\"></div>\n"
      "<script type=\"application/json\" id=\"dmarc-data\">{}</script>\n"
      "<script>{}</script>\n</body>\n</html>\n",
      csp, style, data_text, script);
}

}  // namespace dmarc::web
