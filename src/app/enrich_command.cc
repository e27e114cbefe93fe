// The command line of `dmarc-report enrich` (RunEnrich, in enrichment.cc).
#include "app/cli.h"
#include "app/enrichment.h"

namespace dmarc::app {

namespace {

EnrichCommandOptions& EnrichState() {
  static EnrichCommandOptions state;
  return state;
}

}  // namespace

void AddEnrichCommandOptions(CLI::App& cmd) {
  EnrichCommandOptions& enrich = EnrichState();
  cmd.add_option("--db", enrich.db, kDbHelp)->required();
  cmd.add_flag("-q,--quiet", enrich.quiet, "No summary");
  AddEnrichOptions(cmd, enrich.enrich, false);
}

int RunEnrichCommand() { return RunEnrich(EnrichState()); }

}  // namespace dmarc::app
