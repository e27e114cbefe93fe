// `dmarc-report outputs`: each output of the configuration and of the store's outbox, with its
// backlog, last success and last error (text or --json); and `export --to NAME`, which queues
// stored reports for one output and delivers them (a backfill).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <map>

#include "app/cli.h"
#include "app/output_delivery.h"
#include "app/store_commands.h"
#include "app/store_target.h"
#include "base/signals.h"
#include "base/text.h"
#include "base/time.h"
#include "web/api_outputs.h"

namespace dmarc::app {

namespace {

struct OutputsCommandOptions {
  StoreArgs store;
  bool json = false;
  std::vector<std::string> clear;  // --clear NAME: forget the output's queue and state
};

OutputsCommandOptions& OutputsState() {
  static OutputsCommandOptions state;
  return state;
}

std::atomic<bool> g_export_stop{false};
extern "C" void OnExportStop(int) { g_export_stop = true; }

std::string When(std::int64_t t) { return t > 0 ? FormatUtc(t) + " UTC" : "never"; }

// The store's rows, and a row of nothing for each configured output it does not know yet.
std::vector<store::OutboxState> Merge(std::vector<store::OutboxState> states,
                                      const std::vector<outputs::OutputTable>& tables) {
  for (const auto& t : tables) {
    bool known = false;
    for (const auto& s : states) known = known || s.name == t.output.name;
    if (!known) states.push_back({.name = t.output.name});
  }
  std::sort(states.begin(), states.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return states;
}

void PrintText(const std::vector<store::OutboxState>& states,
               const std::map<std::string, const outputs::OutputTable*>& configured) {
  if (states.empty()) fmt::print("no outputs ([output.NAME] in the configuration)\n");
  for (const auto& s : states) {
    const auto it = configured.find(s.name);
    const std::string kind =
        it == configured.end()
            ? "not configured"
            : it->second->output.type + (it->second->output.required ? ", required" : "");
    fmt::print("{} ({}): {}\n", s.name, kind, web::OutputFailing(s) ? "FAILING" : "ok");
    fmt::print("  backlog: {} report(s){}\n", s.backlog,
               s.backlog ? ", oldest queued " + When(s.oldest_enqueued_at) : "");
    fmt::print("  last success: {}\n", When(s.last_success_at));
    if (!s.last_error.empty()) {
      fmt::print("  last error: {}: {}\n", When(s.last_error_at), EscapeControls(s.last_error));
    }
    if (web::OutputFailing(s)) {
      fmt::print("  {} attempt(s) failed in a row; next: {}\n", s.consecutive_failures,
                 When(s.next_attempt_at));
    }
    fmt::print("  delivered: {}, refused for good: {}, failed attempts: {}\n", s.delivered,
               s.dropped, s.failures);
  }
}

}  // namespace

void AddOutputsOptions(CLI::App& cmd) {
  OutputsCommandOptions& o = OutputsState();
  AddStoreOptions(cmd, o.store);
  cmd.add_flag("--json", o.json, "As JSON (the object of GET /api/outputs, with type/required)");
  cmd.add_option("--clear", o.clear,
                 "Drop the queued reports and the recorded state of output NAME (one removed "
                 "from the configuration, or to start it afresh); the reports stay stored")
      ->type_name("NAME");
}

namespace {

// `outputs --clear NAME ...`: each output's queue and state forgotten, in its own transaction.
int ClearOutputs(const OutputsCommandOptions& o, const std::vector<outputs::OutputTable>& tables) {
  auto st = OpenStoreOrSay(o.store, Access::kWrite);
  if (!st) return 2;
  int rc = 0;
  for (const auto& name : o.clear) {
    auto removed = st->OutboxClear(name);
    if (!removed) {
      spdlog::error("{}: --clear {}: {}", st->Describe(), EscapeControls(name), removed.error());
      rc = 2;
      continue;
    }
    fmt::print("{}: {} queued report(s) dropped, its state forgotten\n", EscapeControls(name),
               *removed);
    for (const auto& t : tables) {
      if (t.output.name != name) continue;
      spdlog::warn(
          "{} is still in the configuration: new reports are queued for it again (export --to {} "
          "queues what is stored)",
          name, name);
    }
  }
  return rc;
}

}  // namespace

int RunOutputsCommand() {
  UseTerminalLogger("outputs", false);
  const OutputsCommandOptions& o = OutputsState();
  auto tables = ResolveOutputs(o.store);
  if (!tables) {
    spdlog::error("{}", tables.error());
    return 2;
  }
  if (!o.clear.empty()) return ClearOutputs(o, *tables);
  auto st = OpenStoreOrSay(o.store, Access::kRead);
  if (!st) return 2;
  auto states = st->QueryOutbox();
  if (!states) {
    spdlog::error("{}: {}", st->Describe(), states.error());
    return 2;
  }
  const auto merged = Merge(std::move(states).value(), *tables);
  std::map<std::string, const outputs::OutputTable*> configured;
  for (const auto& t : *tables) configured[t.output.name] = &t;
  if (!o.json) {
    PrintText(merged, configured);
  } else {
    auto j = web::OutputsJson(merged, static_cast<std::int64_t>(std::time(nullptr)));
    for (auto& out : j["outputs"]) {
      const auto it = configured.find(out["name"].get<std::string>());
      out["configured"] = it != configured.end();
      out["type"] = it != configured.end() ? nlohmann::ordered_json(it->second->output.type)
                                           : nlohmann::ordered_json(nullptr);
      out["required"] = it != configured.end() && it->second->output.required;
    }
    fmt::print("{}\n", j.dump(2));
  }
  for (const auto& s : merged) {
    if (web::OutputFailing(s)) return 1;
  }
  return 0;
}

int RunExportTo(const ExportCommandOptions& options) {
  UseTerminalLogger("export", true);
  auto filter = ToFilter(options.filter);
  if (!filter) {
    spdlog::error("{}", filter.error());
    return 2;
  }
  auto tables = ResolveOutputs(options.store);
  if (!tables) {
    spdlog::error("{}", tables.error());
    return 2;
  }
  std::vector<outputs::OutputTable> chosen;
  std::string names;
  for (const auto& t : *tables) {
    if (t.output.name == options.to_output) chosen.push_back(t);
    names += (names.empty() ? "" : ", ") + t.output.name;
  }
  if (chosen.empty()) {
    spdlog::error("--to {}: no [output.{}] in the configuration (outputs: {})", options.to_output,
                  options.to_output, names.empty() ? "none" : names);
    return 2;
  }
  StoreTarget target;
  auto st = OpenStoreOrSay(options.store, Access::kWrite, &target);
  if (!st) return 2;
  auto delivery = OutputDelivery::Start(chosen, target, false);
  if (!delivery) {
    spdlog::error("{}", delivery.error());
    return 2;
  }
  const bool all = !options.type_given || options.type == "all";
  const store::OutboxKinds kinds{.aggregate = all || options.type == "aggregate",
                                 .failure = all || options.type == "failure",
                                 .smtp_tls = all || options.type == "smtp_tls"};
  auto queued = st->OutboxEnqueue(options.to_output, *filter, kinds);
  if (!queued) {
    spdlog::error("{}: {}", st->Describe(), queued.error());
    return 2;
  }
  spdlog::info("{} report(s) queued for output {}", *queued, options.to_output);
  OnStopSignal(SIGINT, OnExportStop);
  OnStopSignal(SIGTERM, OnExportStop);
  if (!(*delivery)->DeliverAll(options.to_output, 5, g_export_stop)) {
    spdlog::error(
        "output {}: not everything was delivered; what is left stays queued for `run` "
        "(dmarc-report outputs)",
        options.to_output);
    return 1;
  }
  spdlog::info("output {}: everything delivered", options.to_output);
  return 0;
}

}  // namespace dmarc::app
