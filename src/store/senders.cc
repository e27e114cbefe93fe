// The sender inventory (senders.h): records grouped into senders in one pass over the domain's
// aggregate reports, joined with the stored statuses.
#include "store/senders.h"

#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <unordered_map>
#include <utility>

#include "store/dashboard.h"

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
      if (domain.size() == s.domain.size() &&
          std::equal(domain.begin(), domain.end(), s.domain.begin(),
                     [](char a, char b) { return (a | 0x20) == (b | 0x20); })) {
        return &s;
      }
    }
    const auto dot = domain.find('.');
    if (dot == std::string_view::npos) break;
    domain.remove_prefix(dot + 1);
  }
  return nullptr;
}

// What is summed per sender while the reports are read.
struct Acc {
  Sender s;
  std::unordered_map<std::string, std::uint64_t> ips;  // address → messages
  std::map<std::string, std::uint64_t> forwarders;     // known forwarder's name → messages
  std::set<std::string> dkim_domains, dkim_selectors, spf_domains;
};

// The first kMaxSenderExamples of a set, in order.
std::vector<std::string> Examples(const std::set<std::string>& values) {
  std::vector<std::string> out;
  for (const auto& v : values) {
    if (out.size() == kMaxSenderExamples) break;
    out.push_back(v);
  }
  return out;
}

void AddRecord(Acc& a, const model::Record& r, std::int64_t now, const Forwarders& forwarders) {
  Sender& s = a.s;
  const std::uint64_t n = r.count;
  if (const KnownForwarder* f = forwarders.Match(r)) {
    s.forwarder_messages += n;
    a.forwarders[f->name] += n;
  }
  if (s.messages == 0 || r.interval_begin < s.first_seen) s.first_seen = r.interval_begin;
  s.last_seen = std::max(s.last_seen, r.interval_end);
  s.messages += n;
  if (r.interval_begin >= now - kTrendDays * kDay && r.interval_begin < now) {
    s.messages_last_30d += n;
  } else if (r.interval_begin >= now - 2 * kTrendDays * kDay && r.interval_begin < now) {
    s.messages_prior_30d += n;
  }
  if (r.alignment.spf) s.spf_aligned += n;
  if (r.alignment.dkim) s.dkim_aligned += n;
  if (r.alignment.dmarc) s.dmarc_pass += n;
  a.ips[r.source.ip_address] += n;
  for (const auto& d : r.dkim) {
    if (!d.domain.empty()) a.dkim_domains.insert(d.domain);
    if (!d.selector.empty()) a.dkim_selectors.insert(d.selector);
  }
  for (const auto& f : r.spf) {
    if (!f.domain.empty()) a.spf_domains.insert(f.domain);
  }
}

Sender Finish(Acc&& a) {
  Sender s = std::move(a.s);
  std::vector<std::pair<std::string, std::uint64_t>> ips(a.ips.begin(), a.ips.end());
  std::sort(ips.begin(), ips.end(), [](const auto& x, const auto& y) {
    return x.second != y.second ? x.second > y.second : x.first < y.first;
  });
  s.ip_count = ips.size();
  for (std::size_t i = 0; i < ips.size() && i < kMaxSenderExamples; ++i) {
    s.ips.push_back(ips[i].first);
  }
  s.dkim_domains = Examples(a.dkim_domains);
  s.dkim_selectors = Examples(a.dkim_selectors);
  s.spf_domains = Examples(a.spf_domains);
  s.suggested = SuggestedStatus(s.messages, s.dkim_aligned, s.forwarder_messages);
  std::uint64_t most = 0;
  for (const auto& [name, messages] : a.forwarders) {
    if (messages > most) {
      most = messages;
      s.known_forwarder = name;
    }
  }
  return s;
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

Result<std::vector<Sender>> SenderInventory(ReportStore& store, const InventoryOptions& opts) {
  const Forwarders& forwarders = opts.forwarders ? *opts.forwarders : Forwarders::BuiltIn();
  std::map<std::string, Acc> acc;
  auto read = ForEachSenderRecord(
      store, opts.domain,
      [&](const model::AggregateReport&, const model::Record& r, SenderIdentity&& id) {
        Acc& a = acc[id.key];
        if (a.s.key.empty()) {
          a.s.key = std::move(id.key);
          a.s.kind = std::move(id.kind);
          a.s.type = std::move(id.type);
        }
        AddRecord(a, r, opts.now, forwarders);
      });
  if (!read) return MakeError(read.error_kind(), read.error());
  auto statuses = store.SenderStatuses(opts.domain);
  if (!statuses) return MakeError(statuses.error_kind(), statuses.error());
  std::vector<Sender> out;
  out.reserve(acc.size());
  for (auto& [key, a] : acc) {
    Sender s = Finish(std::move(a));
    for (const auto& row : *statuses) {
      if (row.sender == s.key) {
        s.status = row.status;
        s.status_row = row;
      }
    }
    if (Matches(s, opts)) out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const Sender& x, const Sender& y) {
    return x.messages != y.messages ? x.messages > y.messages : x.key < y.key;
  });
  return out;
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
