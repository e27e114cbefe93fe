#include "app/smtp_receiver.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <filesystem>

#include "metrics/metrics.h"
#include "store/store.h"

namespace dmarc::app {

std::string SmtpSpoolOf(const config::Config& c) {
  if (!c.smtp) return "";
  if (!c.smtp->spool.empty()) return c.smtp->spool;
  auto db = store::SqlitePathFromUrl(c.store.url);
  const std::filesystem::path dir =
      db ? std::filesystem::path(*db).parent_path() : std::filesystem::path("data");
  return (dir.empty() ? std::filesystem::path("smtp-spool") : dir / "smtp-spool").string();
}

std::atomic<bool>& MailArrivedFlag() {
  static std::atomic<bool> arrived{false};
  return arrived;
}

Result<std::unique_ptr<smtp::Server>> StartSmtpReceiver(const config::Config& c) {
  if (!c.smtp) return std::unique_ptr<smtp::Server>();
  smtp::Options o = *c.smtp;
  o.spool = SmtpSpoolOf(c);
  auto server = smtp::Server::Start(o, [](smtp::Event e) {
    const bool accepted = e == smtp::Event::kAccepted;
    metrics::Program().smtp.Add({accepted ? "accepted" : "refused"});
    if (accepted) MailArrivedFlag() = true;
  });
  if (!server) return MakeError(fmt::format("[smtp]: {}", server.error()));
  spdlog::info("smtp: receiving on {} for {} into {}", (*server)->Address(),
               fmt::join(o.accept, ", "), o.spool);
  return server;
}

bool UpdateSmtpReceiver(std::unique_ptr<smtp::Server>& current, const config::Config& c,
                        const config::Config* previous) {
  if (current && previous && previous->smtp == c.smtp) return true;
  if (current) current->Stop();
  current.reset();
  auto started = StartSmtpReceiver(c);
  if (started) {
    current = std::move(started).value();
    return true;
  }
  spdlog::error("{}", started.error());
  if (previous && previous->smtp) {
    if (auto again = StartSmtpReceiver(*previous); again && *again) {
      current = std::move(again).value();
      spdlog::warn("reload: the SMTP receiver keeps its previous settings");
    }
  }
  return false;
}

}  // namespace dmarc::app
