#include "collect/rest_client.h"

#include <fmt/format.h>

#include <array>
#include <chrono>
#include <ctime>

namespace dmarc::collect::rest {

using nlohmann::json;

Sessions MakeSessions() {
  Sessions out;
  for (std::size_t i = 0; i < kInFlight; ++i) out.push_back(std::make_unique<http::Session>());
  return out;
}

Status ForEachInParallel(std::size_t n, Sessions& sessions,
                         const std::function<Status(std::size_t, http::Session&)>& job) {
  std::vector<std::optional<Status>> done(n);
  RunInParallel(n, sessions,
                [&](std::size_t i, http::Session& session) { done[i] = job(i, session); });
  for (auto& d : done) {
    if (!*d) return std::move(*d);
  }
  return Ok();
}

Result<std::vector<MailItem>> NextBatch(std::vector<std::string>& ids, std::size_t& next,
                                        int batch_size, std::size_t group, Sessions& sessions,
                                        const FetchSome& fetch) {
  std::vector<MailItem> batch;
  std::size_t held = 0;
  const auto most = static_cast<std::size_t>(batch_size);
  group = std::max<std::size_t>(group, 1);
  while (next < ids.size() && batch.size() < most && held < kMaxBatchMailBytes) {
    // kInFlight fetches at a time, so that the batch's bytes stay near their bound.
    const std::size_t wave = std::min({kInFlight * group, ids.size() - next, most - batch.size()});
    const std::size_t fetches = (wave + group - 1) / group;
    std::vector<std::optional<Result<std::vector<std::optional<MailItem>>>>> got(fetches);
    std::vector<std::vector<std::string>> asked(fetches);
    for (std::size_t i = 0; i < fetches; ++i) {
      const auto first = ids.begin() + static_cast<std::ptrdiff_t>(next + i * group);
      asked[i].assign(first,
                      first + static_cast<std::ptrdiff_t>(std::min(group, wave - i * group)));
    }
    RunInParallel(fetches, sessions, [&](std::size_t i, http::Session& session) {
      got[i] = fetch(asked[i], session);
    });
    next += wave;
    for (std::size_t i = 0; i < fetches; ++i) {
      auto& some = got[i];
      if (!*some) return MakeError(some->error());
      // Left for later: fetched in a wave of their own.
      const std::size_t taken = std::clamp<std::size_t>((*some)->size(), 1, asked[i].size());
      ids.insert(ids.end(), asked[i].begin() + static_cast<std::ptrdiff_t>(taken), asked[i].end());
      for (auto& mail : **some) {
        if (!mail) continue;  // gone meanwhile
        held += mail->bytes.size();
        batch.push_back(std::move(*mail));
      }
    }
  }
  return batch;
}

std::optional<std::string> FromBase64(const std::string& text) {
  static const std::array<int, 256> kValue = [] {
    std::array<int, 256> v{};
    v.fill(-1);
    const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for (std::size_t i = 0; i < alphabet.size(); ++i) {
      v[static_cast<unsigned char>(alphabet[i])] = static_cast<int>(i);
    }
    v['+'] = v['-'] = 62;
    v['/'] = v['_'] = 63;
    return v;
  }();
  std::string out;
  out.reserve(text.size() / 4 * 3 + 3);
  std::uint32_t bits = 0;
  int held = 0;
  for (const char c : text) {
    if (c == '=') break;
    const int v = kValue[static_cast<unsigned char>(c)];
    if (v < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<std::uint32_t>(v);
    held += 6;
    if (held >= 8) {
      held -= 8;
      out += static_cast<char>((bits >> held) & 0xFF);
    }
  }
  return out;
}

std::optional<std::string> Destination(After after, const std::string& archive_folder,
                                       const std::string& move_to, MailClass mail_class,
                                       std::int64_t now) {
  if (after == After::kKeep) return std::nullopt;
  if (mail_class == MailClass::kInvalid || after == After::kArchive) {
    return archive_folder + "/" + FolderName(mail_class);
  }
  if (after == After::kMove) return ExpandFolderTemplate(move_to, now);
  return std::string();
}

std::string Escape(const std::string& text) {
  const std::string escaped = http::Escape(text);
  std::string out;
  out.reserve(escaped.size());
  for (std::size_t i = 0; i < escaped.size(); ++i) {
    if (escaped.compare(i, 3, "%40") == 0) {
      out += '@';
      i += 2;
    } else {
      out += escaped[i];
    }
  }
  return out;
}

bool Success(long status) { return status >= 200 && status < 300; }

std::string StringField(const json& obj, const char* key) {
  return obj.is_object() && obj.contains(key) && obj[key].is_string() ? obj[key].get<std::string>()
                                                                      : std::string();
}

std::string ApiSaid(const http::Answer& a) {
  const json doc = json::parse(a.body, nullptr, false);
  if (!doc.is_object() || !doc.contains("error") || !doc["error"].is_object()) {
    return a.body.substr(0, 200);
  }
  const json& e = doc["error"];
  const std::string code =
      StringField(e, "code").empty() ? StringField(e, "status") : StringField(e, "code");
  const std::string message = StringField(e, "message");
  return (code + (message.empty() || code.empty() ? "" : ": ") + message).substr(0, 500);
}

std::int64_t RetryDelay(const http::Answer& a, int attempt, std::int64_t max_wait) {
  const auto said = http::RetryAfterSeconds(a.Header("Retry-After"),
                                            std::chrono::duration_cast<std::chrono::seconds>(
                                                std::chrono::system_clock::now().time_since_epoch())
                                                .count());
  const std::int64_t seconds = said ? *said : std::int64_t{1} << std::min(attempt, 6);
  return std::clamp<std::int64_t>(seconds, 0, max_wait);
}

http::Request Client::MakeRequest(const std::string& method, const std::string& url,
                                  const std::string& body) const {
  http::Request r;
  r.method = method;
  r.url = url;
  r.body = body;
  r.headers = {"Accept: application/json"};
  if (!body.empty()) r.headers.emplace_back("Content-Type: application/json");
  r.timeout_seconds = o_.timeout;
  r.max_answer_bytes = kMaxJsonBytes;
  r.ca_file = o_.ca_file;
  return r;
}

bool Client::Throttled(const http::Answer& a) const {
  return a.status == 429 || a.status == 503 || (o_.also_throttled && o_.also_throttled(a));
}

Result<std::string> Client::Token(bool refused) {
  const std::lock_guard lock(token_mu_);
  return token_.Get(refused);
}

Result<http::Answer> Client::Call(http::Request request, http::Session& session) {
  bool refused = false;
  for (int attempt = 0;; ++attempt) {
    auto token = Token(refused);
    if (!token) return MakeError(fmt::format("{}: {}", o_.name, token.error()));
    request.headers.push_back("Authorization: Bearer " + *token);
    auto a = session.Send(request);
    request.headers.pop_back();
    if (!a) {
      return MakeError(
          fmt::format("{}: {} {} failed: {}", o_.name, request.method, request.url, a.error()));
    }
    if (a->status == 401 && !refused) {
      refused = true;
      continue;
    }
    if (!Throttled(*a) || attempt >= o_.max_retries) return a;
    std::this_thread::sleep_for(std::chrono::seconds(RetryDelay(*a, attempt, o_.max_retry_wait)));
  }
}

Error Client::Failed(const std::string& what, const std::string& method, const std::string& url,
                     const http::Answer& a) const {
  return MakeError(fmt::format("{}: {} failed: {} {} answered {}: {}{}", o_.name, what, method, url,
                               a.status, ApiSaid(a), o_.hint ? o_.hint(a) : ""));
}

Result<json> Client::CallJson(const http::Request& request, const std::string& what,
                              http::Session& session) {
  const std::string& method = request.method;
  const std::string& url = request.url;
  auto a = Call(request, session);
  if (!a) return MakeError(a.error());
  if (!Success(a->status)) return Failed(what, method, url, *a);
  if (a->body.empty()) return json();
  json doc = json::parse(a->body, nullptr, false);
  if (doc.is_discarded() || a->truncated) {
    return MakeError(fmt::format("{}: {} failed: {} {} answered {} with no JSON", o_.name, what,
                                 method, url, a->status));
  }
  return doc;
}

Result<std::vector<MailItem>> ListedSource::Next() {
  return NextBatch(ids_, next_, batch_size_, group_, sessions_,
                   [this](const std::vector<std::string>& ids, http::Session& session) {
                     return FetchSome(ids, session);
                   });
}

Result<std::vector<std::optional<MailItem>>> ListedSource::FetchSome(
    const std::vector<std::string>& ids, http::Session& session) {
  std::vector<std::optional<MailItem>> out;
  for (const auto& id : ids) {
    auto mail = Fetch(id, session);
    if (!mail) return MakeError(mail.error());
    out.push_back(std::move(mail).value());
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> ListedSource::Destinations(
    const std::vector<Filing>& filings, After after, const std::string& archive_folder,
    const std::string& move_to) {
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& f : filings) {
    auto to = Destination(after, archive_folder, move_to, f.mail_class, now);
    if (to) {
      out.emplace_back(f.id, std::move(*to));
    } else {
      kept_.insert(f.id);
    }
  }
  return out;
}

MailItem ListedSource::TooLarge(const std::string& id, std::string label) const {
  return MailItem{id,
                  std::move(label),
                  {},
                  fmt::format("mail larger than the limit of {} bytes", max_mail_bytes_)};
}

}  // namespace dmarc::collect::rest
