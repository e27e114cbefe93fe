// The built-in SMTP receiver ([smtp]) as `run` and `fetch --watch` start it: its spool is a
// Maildir that the fetch loop drains, woken as soon as a mail is spooled.
#pragma once

#include <memory>
#include <string>

#include "config/config.h"
#include "smtp/smtp.h"

namespace dmarc::app {

// Where [smtp] spools: smtp.spool, else "smtp-spool" beside a SQLite store, else data/smtp-spool.
std::string SmtpSpoolOf(const config::Config& c);

// Set by the receiver after each spooled mail; the fetch loop's wait returns when it is set (and
// clears it).
std::atomic<bool>& MailArrivedFlag();

// The receiver a configuration asks for; null without [smtp]. Errors name the table.
Result<std::unique_ptr<smtp::Server>> StartSmtpReceiver(const config::Config& c);

// After a (re)load: the running receiver stays when [smtp] did not change; otherwise it stops
// and the new one starts (a new one that fails is logged, and the previous settings tried
// again). False when the configuration asks for a receiver that does not run.
bool UpdateSmtpReceiver(std::unique_ptr<smtp::Server>& current, const config::Config& c,
                        const config::Config* previous);

}  // namespace dmarc::app
