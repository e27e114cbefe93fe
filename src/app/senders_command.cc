// `dmarc-report senders list|approve|reject|reset`: the sender inventory of a policy domain and
// the statuses an administrator gives its senders (docs/senders.md).
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdint>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string>

#include "app/cli.h"
#include "app/store_commands.h"
#include "store/senders.h"
#include "web/api_senders.h"

namespace dmarc::app {

namespace {

struct SendersOptions {
  StoreArgs store;
  std::string action;  // list, approve, reject, reset
  std::string domain;
  std::string sender;
  std::string status;  // list: only this status
  std::string by;      // who: default "cli:" + the login name
  bool json = false;
  std::vector<std::string> forwarders_files;  // list: read after the bundled list
};

SendersOptions& State() {
  static SendersOptions state;
  return state;
}

std::string Percent(std::uint64_t part, std::uint64_t whole) {
  return whole ? fmt::format("{:.1f}%",
                             100.0 * static_cast<double>(part) / static_cast<double>(whole))
               : "-";
}

std::string DefaultWho() {
  const char* user = getlogin();
  if (!user) user = std::getenv("USER");
  return fmt::format("cli:{}", user ? user : "unknown");
}

int List(const SendersOptions& o) {
  auto st = OpenStoreOrSay(o.store, Access::kRead);
  if (!st) return 2;
  store::InventoryOptions opts;
  opts.domain = o.domain;
  opts.now = static_cast<std::int64_t>(std::time(nullptr));
  opts.status = o.status;
  auto forwarders = ForwardersOrSay(o.forwarders_files);
  if (!forwarders) return 2;
  opts.forwarders = forwarders.get();
  auto senders = store::SenderInventory(*st, opts);
  if (!senders) {
    spdlog::error("{}: {}", st->Describe(), senders.error());
    return 2;
  }
  if (o.json) {
    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    for (const auto& s : *senders) rows.push_back(web::SenderJson(s));
    fmt::print("{}\n", nlohmann::ordered_json{{"domain", o.domain}, {"senders", rows}}.dump(2));
    return 0;
  }
  fmt::print("{:<32} {:<11} {:<10} {:>10} {:>7} {:>7} {:>7} {:>5}\n", "Sender", "Status",
             "Suggested", "Messages", "SPF", "DKIM", "DMARC", "IPs");
  for (const auto& s : *senders) {
    fmt::print("{:<32} {:<11} {:<10} {:>10} {:>7} {:>7} {:>7} {:>5}\n", s.key, s.status,
               s.suggested, s.messages, Percent(s.spf_aligned, s.messages),
               Percent(s.dkim_aligned, s.messages), Percent(s.dmarc_pass, s.messages), s.ip_count);
  }
  return 0;
}

int Set(const SendersOptions& o) {
  auto st = OpenStoreOrSay(o.store, Access::kUpdate);
  if (!st) return 2;
  const std::string status = o.action == "approve"     ? "approved"
                             : o.action == "reject"    ? "unapproved"
                             : o.action == "forwarder" ? "forwarder"
                                                       : "unknown";
  store::SenderStatusRow row{o.domain, o.sender, status, o.by.empty() ? DefaultWho() : o.by,
                             static_cast<std::int64_t>(std::time(nullptr))};
  if (auto r = st->SetSenderStatus(row); !r) {
    spdlog::error("{}: {}", st->Describe(), r.error());
    return r.error_kind() == ErrorKind::kInvalid ? 1 : 2;
  }
  fmt::print("{} {}: {}\n", o.domain, o.sender, status);
  return 0;
}

}  // namespace

void AddSendersOptions(CLI::App& cmd) {
  SendersOptions& o = State();
  cmd.require_subcommand(1);
  CLI::App* list = cmd.add_subcommand("list", "The senders of a policy domain, most mail first");
  AddStoreOptions(*list, o.store);
  list->add_option("--domain", o.domain, "The policy domain")->required();
  list->add_option("--status", o.status, "Only senders with this status")
      ->check(CLI::IsMember({"approved", "unapproved", "forwarder", "unknown"}));
  list->add_flag("--json", o.json, "Print JSON (the objects of GET /api/senders)");
  AddForwardersFileOption(*list, o.forwarders_files);
  list->callback([&o] { o.action = "list"; });
  for (const auto& [name, help] :
       {std::pair{"approve", "Mark a sender of the domain approved"},
        std::pair{"reject", "Mark a sender of the domain unapproved"},
        std::pair{"forwarder", "Mark a sender of the domain a forwarder"},
        std::pair{"reset", "Forget the sender's status (unknown again)"}}) {
    CLI::App* sub = cmd.add_subcommand(name, help);
    AddStoreOptions(*sub, o.store);
    sub->add_option("DOMAIN", o.domain, "The policy domain")->required();
    sub->add_option("SENDER", o.sender, "The sender, as `senders list` names it")->required();
    sub->add_option("--by", o.by, "Who makes the change (default: cli:LOGIN)");
    sub->callback([&o, action = std::string(name)] { o.action = action; });
  }
}

int RunSendersCommand() {
  const SendersOptions& o = State();
  return o.action == "list" ? List(o) : Set(o);
}

}  // namespace dmarc::app
