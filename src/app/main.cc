// dmarc-report: the command table. Only this module reads the command line and wires concrete
// implementations together.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <map>

#include "app/parse_command.h"

namespace {

void AddLimitOptions(CLI::App& cmd, dmarc::Limits& limits) {
  cmd.add_option("--max-report-bytes", limits.max_decompressed_bytes,
                 "Largest decompressed report or mail, in bytes")
      ->capture_default_str()
      ->group("Limits");
  cmd.add_option("--max-input-bytes", limits.max_input_bytes, "Largest input file, in bytes")
      ->capture_default_str()
      ->group("Limits");
  cmd.add_option("--max-ratio", limits.max_compression_ratio,
                 "Largest decompressed:compressed ratio (checked past 1 MiB)")
      ->capture_default_str()
      ->group("Limits");
  cmd.add_option("--max-zip-entries", limits.max_zip_entries, "Most entries read from one zip")
      ->capture_default_str()
      ->group("Limits");
  cmd.add_option("--max-xml-depth", limits.max_xml_depth, "Deepest XML element nesting")
      ->capture_default_str()
      ->group("Limits");
  cmd.add_option("--max-records", limits.max_records, "Most records in one report")
      ->capture_default_str()
      ->group("Limits");
  cmd.add_option("--max-field-bytes", limits.max_field_bytes,
                 "Longest text field kept (longer ones are truncated)")
      ->capture_default_str()
      ->group("Limits");
  cmd.add_option("--max-nesting", limits.max_nesting,
                 "Deepest nesting of containers (zip in gzip in mail ...)")
      ->capture_default_str()
      ->group("Limits");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dmarc-report: turns DMARC aggregate reports into answers"};
  app.set_version_flag("--version", std::string(DMARC_VERSION));
  app.require_subcommand(1);

  dmarc::app::ParseCommandOptions parse;
  std::string format = "json";
  CLI::App* parse_cmd = app.add_subcommand(
      "parse", "Parse report files, archives, mails, mboxes, Maildirs or directories");
  parse_cmd->add_option("PATH", parse.paths, "Inputs; '-' reads standard input")->required();
  parse_cmd->add_option("-f,--format", format, "Output format")
      ->check(CLI::IsMember({"json", "csv"}))
      ->capture_default_str();
  parse_cmd->add_option("-o,--output", parse.output, "Write to FILE instead of standard output");
  parse_cmd->add_option("-j,--jobs", parse.jobs, "Parallel workers (default: one per core)");
  parse_cmd
      ->add_option("--timespan-threshold-hours", parse.timespan_threshold_hours,
                   "Split reports spanning more than this many hours per UTC day")
      ->capture_default_str();
  parse_cmd->add_flag("-q,--quiet", parse.quiet, "No summary line on standard error");
  parse_cmd->add_flag("-v,--verbose", parse.verbose,
                      "Log every report found and every repair made, on standard error");
  AddLimitOptions(*parse_cmd, parse.limits);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    // Help and version are successes; every other command-line error is a usage error (2).
    return rc == 0 ? 0 : 2;
  }

  if (parse_cmd->parsed()) {
    parse.format =
        format == "csv" ? dmarc::app::OutputFormat::kCsv : dmarc::app::OutputFormat::kJson;
    return dmarc::app::RunParse(parse);
  }
  return 2;
}
