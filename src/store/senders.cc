// The sender inventory (senders.h): records grouped into senders in one pass over the domain's
// aggregate reports, joined with the stored statuses.
#include "store/senders.h"

#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <unordered_map>
#include <utility>

#include "base/text.h"
#include "store/dashboard.h"
#include "store/sender_index.h"

namespace dmarc::store {

namespace {

constexpr std::int64_t kDay = 86400;
constexpr std::int64_t kTrendDays = 30;

// DKIM signing domains and SPF (envelope) domains of services that sign or bounce with their
// own domain, and the service's name and type as services.tsv names them. Matched on the domain
// or a parent of it.
struct AuthDomainService {
  std::string_view domain;
  const char* name;
  const char* type;
};
constexpr std::array<AuthDomainService, 24> kAuthDomains{{
    {"mcsv.net", "Mailchimp", "Marketing"},
    {"mcdlv.net", "Mailchimp", "Marketing"},
    {"rsgsv.net", "Mailchimp", "Marketing"},
    {"mandrillapp.com", "Mailchimp Transactional", "Email Delivery"},
    {"sendgrid.net", "SendGrid", "Email Delivery"},
    {"sendgrid.info", "SendGrid", "Email Delivery"},
    {"amazonses.com", "Amazon SES", "Email Delivery"},
    {"mailgun.org", "Mailgun", "Email Delivery"},
    {"mailgun.net", "Mailgun", "Email Delivery"},
    {"sparkpostmail.com", "SparkPost", "Email Delivery"},
    {"mtasv.net", "Postmark", "Email Delivery"},
    {"postmarkapp.com", "Postmark", "Email Delivery"},
    {"gappssmtp.com", "Google Workspace", "Email Provider"},
    {"onmicrosoft.com", "Microsoft 365", "Email Provider"},
    {"mktomail.com", "Adobe Marketo Engage", "Marketing"},
    {"exacttarget.com", "Salesforce Marketing Cloud", "Marketing"},
    {"salesforce.com", "Salesforce", "SaaS"},
    {"hubspotemail.net", "HubSpot", "Marketing"},
    {"hs-mail.com", "HubSpot", "Marketing"},
    {"zendesk.com", "Zendesk", "SaaS"},
    {"mailjet.com", "Mailjet", "Email Delivery"},
    {"sendinblue.com", "Brevo", "Marketing"},
    {"brevosend.com", "Brevo", "Marketing"},
    {"klaviyomail.com", "Klaviyo", "Marketing"},
}};

const AuthDomainService* FindAuthDomain(std::string_view domain) {
  while (!domain.empty()) {
    for (const auto& s : kAuthDomains) {
      if (EqualsIgnoreCase(domain, s.domain)) {
        return &s;
      }
    }
    const auto dot = domain.find('.');
    if (dot == std::string_view::npos) break;
    domain.remove_prefix(dot + 1);
  }
  return nullptr;
}

bool Matches(const Sender& s, const InventoryOptions& opts) {
  if (!opts.status.empty() && s.status != opts.status) return false;
  if (opts.search.empty()) return true;
  for (const std::string* t : {&s.key, &s.kind, &s.type}) {
    if (SearchMatches(*t, opts.search)) return true;
  }
  for (const auto* list : {&s.ips, &s.dkim_domains, &s.spf_domains, &s.dkim_selectors}) {
    for (const auto& v : *list) {
      if (SearchMatches(v, opts.search)) return true;
    }
  }
  return false;
}

}  // namespace

bool IsSenderStatus(std::string_view status) {
  return status == "approved" || status == "unapproved" || status == "forwarder" ||
         status == "unknown";
}

const char* ServiceOfAuthDomain(std::string_view domain) {
  const AuthDomainService* s = FindAuthDomain(domain);
  return s ? s->name : nullptr;
}

SenderIdentity IdentifySender(const model::Record& r) {
  if (r.source.name && !r.source.name->empty()) {
    return {*r.source.name, "service", r.source.type.value_or("")};
  }
  for (const auto& d : r.dkim) {
    if (const auto* s = FindAuthDomain(d.domain)) return {s->name, "service", s->type};
  }
  for (const auto& f : r.spf) {
    if (const auto* s = FindAuthDomain(f.domain)) return {s->name, "service", s->type};
  }
  if (r.source.base_domain && !r.source.base_domain->empty()) {
    return {*r.source.base_domain, "base_domain", ""};
  }
  if (r.source.asn) return {"AS" + std::to_string(*r.source.asn), "asn", ""};
  return {"unknown", "unknown", ""};
}

std::string SuggestedStatus(std::uint64_t messages, std::uint64_t dkim_aligned,
                            std::uint64_t forwarder_messages) {
  if (messages == 0) return "unknown";
  if (static_cast<double>(dkim_aligned) >=
      kSuggestApprovedDkimRate * static_cast<double>(messages)) {
    return "approved";
  }
  return forwarder_messages * 2 > messages ? "forwarder" : "unknown";
}

Result<std::size_t> ForEachSenderRecord(
    ReportStore& store, const std::string& domain, const SenderRecordVisitor& visit,
    const std::function<void(const model::AggregateReport&)>& on_report) {
  Filter filter;
  filter.domain = domain;
  return store.ForEachAggregate(filter, [&](model::AggregateReport&& report) {
    if (on_report) on_report(report);
    for (const auto& r : report.records) visit(report, r, IdentifySender(r));
  });
}

std::vector<Sender> SenderInventory(const SenderIndex& index, const InventoryOptions& opts,
                                    const std::vector<SenderStatusRow>& statuses) {
  std::unordered_map<std::string_view, const SenderStatusRow*> by_key;
  for (const auto& row : statuses) by_key[row.sender] = &row;
  std::vector<Sender> out;
  out.reserve(index.senders.size());
  for (const auto& e : index.senders) {
    Sender s = e.totals;
    if (auto st = by_key.find(s.key); st != by_key.end()) {
      s.status = st->second->status;
      s.status_row = *st->second;
    }
    for (const auto& slot : e.slots) {
      if (slot.begin >= opts.now) break;
      if (slot.begin >= opts.now - kTrendDays * kDay) {
        s.messages_last_30d += slot.messages;
      } else if (slot.begin >= opts.now - 2 * kTrendDays * kDay) {
        s.messages_prior_30d += slot.messages;
      }
    }
    if (Matches(s, opts)) out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const Sender& x, const Sender& y) {
    return x.messages != y.messages ? x.messages > y.messages : x.key < y.key;
  });
  return out;
}

Result<std::vector<Sender>> SenderInventory(ReportStore& store, const SenderIndex& index,
                                            const InventoryOptions& opts) {
  auto statuses = store.SenderStatuses(opts.domain);
  if (!statuses) return MakeError(statuses.error_kind(), statuses.error());
  return SenderInventory(index, opts, *statuses);
}

Result<std::vector<Sender>> SenderInventory(ReportStore& store, const InventoryOptions& opts) {
  auto index = SenderIndex::Build(store, opts.domain,
                                  opts.forwarders ? *opts.forwarders : Forwarders::BuiltIn());
  if (!index) return MakeError(index.error_kind(), index.error());
  return SenderInventory(store, **index, opts);
}

Result<bool> ReportStore::SetSenderStatus(const SenderStatusRow&) {
  return MakeError(ErrorKind::kUnsupported, Describe() + ": keeps no sender statuses");
}

Result<std::vector<SenderStatusRow>> ReportStore::SenderStatuses(const std::string&) {
  return MakeError(ErrorKind::kUnsupported, Describe() + ": keeps no sender statuses");
}

Result<std::optional<std::int64_t>> ReportStore::AggregateVersion() {
  return std::optional<std::int64_t>();
}

// Checks a status change before a back end stores it.
Result<bool> CheckSenderStatusRow(const SenderStatusRow& row) {
  if (row.domain.empty() || row.domain.size() > kMaxSenderKeyBytes) {
    return MakeError(ErrorKind::kInvalid, "the domain must have 1 to 255 bytes");
  }
  if (row.sender.empty() || row.sender.size() > kMaxSenderKeyBytes) {
    return MakeError(ErrorKind::kInvalid, "the sender must have 1 to 255 bytes");
  }
  if (!IsSenderStatus(row.status)) {
    return MakeError(ErrorKind::kInvalid,
                     "the status must be approved, unapproved, forwarder or unknown");
  }
  if (row.changed_by.size() > kMaxSenderKeyBytes) {
    return MakeError(ErrorKind::kInvalid, "who changed it must have at most 255 bytes");
  }
  return true;
}

}  // namespace dmarc::store
