// Compatibility with parsedmarc's dashboards: parses the dashboards parsedmarc ships (found
// through the CMake cache variable DMARC_REFERENCE_DIR; this test exists only when they are
// there) and checks that every index pattern, field and Splunk field they query exists in the
// documents and HEC events this program sends, with a compatible type. Nothing here lists the
// fields by hand: they come from the dashboards.
// GCC 12 under -fsanitize=address reads std::regex's std::function members as maybe
// uninitialised (a false positive); the sanitizer build treats warnings as errors.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <fnmatch.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <pugixml.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "outputs/elastic_docs.h"
#include "outputs/http_test_reports.h"
#include "outputs/splunk_hec.h"

namespace dmarc::outputs {
namespace {

using nlohmann::json;
using namespace testing;  // NOLINT(google-build-using-namespace)

const std::string kDir = std::string(DMARC_REFERENCE_DIR) + "/parsedmarc-dashboards/";

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// What we send, per kind: a sample document, its index name and its mapping, flattened.
struct Ours {
  ReportKind kind;
  std::string index;
  std::map<std::string, std::string> mapping;  // "a.b" -> type ("keyword" for a.b.keyword)
  std::set<std::string> open_objects;          // objects whose keys vary (sample.headers)
  std::set<std::string> doc_paths;             // paths with a non-null value in the document
};

// "a.b" from "a" and "b" ("b" when a is empty).
std::string Join(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  std::string out = a;
  out += '.';
  out += b;
  return out;
}

void FlattenMapping(const json& props, const std::string& prefix, Ours& o) {
  for (const auto& [name, m] : props.items()) {
    const std::string path = prefix + name;
    if (m.contains("properties")) {
      o.mapping[path] = "object";
      FlattenMapping(m["properties"], path + ".", o);
      continue;
    }
    o.mapping[path] = m.value("type", "object");
    if (o.mapping[path] == "object") o.open_objects.insert(path);
    if (m.contains("fields")) {
      for (const auto& [sub, sm] : m["fields"].items()) o.mapping[Join(path, sub)] = sm["type"];
    }
  }
}

void FlattenDoc(const json& v, const std::string& path, std::set<std::string>& out) {
  if (v.is_object()) {
    for (const auto& [k, sub] : v.items()) FlattenDoc(sub, Join(path, k), out);
  } else if (v.is_array()) {
    for (const auto& sub : v) FlattenDoc(sub, path, out);
  } else if (!v.is_null()) {
    out.insert(path);
  }
}

struct Samples {
  model::AggregateReport aggregate = SampleAggregate(1);
  model::FailureReport failure = SampleFailure();
  model::SmtpTlsReport tls = SampleSmtpTls();
  std::vector<Item> items = {AggregateItem(aggregate), FailureItem(failure), SmtpTlsItem(tls)};
};

std::vector<Ours> OurDocuments(const Samples& s) {
  std::vector<Ours> all;
  for (const auto& item : s.items) {
    Ours o;
    o.kind = item.kind;
    o.index = elastic::IndexName(item.kind, elastic::DocumentTime(item, 0), {});
    FlattenMapping(elastic::Mappings(item.kind)["properties"], "", o);
    std::string text;
    elastic::AppendDocument(item, 0, false, text);
    FlattenDoc(json::parse(text), "", o.doc_paths);
    all.push_back(std::move(o));
  }
  return all;
}

// The mapped type of a field, or "" when we do not map it; a field inside an open object
// (a failure sample's headers) is mapped by the strings template: text with .keyword.
std::string TypeOf(const Ours& o, const std::string& field) {
  if (auto it = o.mapping.find(field); it != o.mapping.end()) return it->second;
  for (const auto& open : o.open_objects) {
    if (field.starts_with(open + ".")) return field.ends_with(".keyword") ? "keyword" : "text";
  }
  return "";
}

bool InDocument(const Ours& o, std::string field) {
  for (const char* sub : {".keyword", ".ip"}) {
    if (field.ends_with(sub)) field.resize(field.size() - std::string_view(sub).size());
  }
  return o.doc_paths.contains(field);
}

const Ours* ForIndexPattern(const std::vector<Ours>& ours, const std::string& pattern) {
  for (const auto& o : ours) {
    if (fnmatch(pattern.c_str(), o.index.c_str(), 0) == 0) return &o;
  }
  return nullptr;
}

// What an aggregation needs of its field's type.
bool Compatible(const std::string& agg, const std::string& type) {
  if (agg == "sum" || agg == "avg" || agg == "min" || agg == "max" || agg == "filter_ratio") {
    return type == "long";
  }
  if (agg == "date_histogram" || agg == "time") return type == "date";
  if (agg == "terms" || agg == "control" || agg == "pivot") return type != "text" && !type.empty();
  return !type.empty();
}

std::vector<std::string> KueryFields(const std::string& query) {
  static const std::regex field(R"(([A-Za-z_@][\w.@-]*)\s*(:|>=|<=|>|<))");
  std::vector<std::string> out;
  for (std::sregex_iterator it(query.begin(), query.end(), field), end; it != end; ++it) {
    out.push_back((*it)[1]);
  }
  return out;
}

struct Use {
  std::string field, agg, where;
};

std::vector<json> SavedObjects() {
  std::vector<json> out;
  std::istringstream in(Read(kDir + "opensearch_dashboards.ndjson"));
  for (std::string line; std::getline(in, line);) {
    auto o = json::parse(line, nullptr, false);
    if (o.is_object() && o.contains("type")) out.push_back(std::move(o));
  }
  return out;
}

void CheckUse(const Ours& o, const Use& u) {
  const std::string type = TypeOf(o, u.field);
  EXPECT_FALSE(type.empty()) << u.where << ": " << u.field << " is not in our " << o.index
                             << " mapping";
  EXPECT_TRUE(Compatible(u.agg, type))
      << u.where << ": " << u.agg << " on " << u.field << " mapped as " << type;
  EXPECT_TRUE(InDocument(o, u.field)) << u.where << ": " << u.field << " not in our documents";
}

TEST(DashboardCompatibility, OpenSearchIndexPatternsMatchOurIndicesAndMappings) {
  const Samples samples;
  const auto ours = OurDocuments(samples);
  int patterns = 0;
  int fields = 0;
  for (const auto& o : SavedObjects()) {
    if (o["type"] != "index-pattern") continue;
    const auto& a = o["attributes"];
    const std::string title = a["title"];
    const Ours* mine = ForIndexPattern(ours, title);
    ASSERT_NE(mine, nullptr) << "index pattern " << title << " matches none of our indices";
    ++patterns;
    EXPECT_EQ(TypeOf(*mine, a["timeFieldName"]), "date") << title;
    for (const auto& f : json::parse(a["fields"].get<std::string>())) {
      const std::string name = f["name"];
      if (name.starts_with("_") || !f.contains("esTypes")) continue;
      ++fields;
      EXPECT_EQ(TypeOf(*mine, name), f["esTypes"][0].get<std::string>())
          << title << ": field " << name;
    }
  }
  EXPECT_EQ(patterns, 3);
  EXPECT_GT(fields, 100);
}

// The fields a visualization queries, with what it does with them.
void VisualizationUses(const json& vis, const std::string& where, std::vector<Use>& uses) {
  for (const auto& agg : vis.value("aggs", json::array())) {
    const auto& p = agg.value("params", json::object());
    if (p.contains("field")) uses.push_back({p["field"], agg.value("type", ""), where});
  }
  const auto& p = vis.value("params", json::object());
  if (p.contains("time_field")) uses.push_back({p["time_field"], "time", where});
  if (p.contains("pivot_id")) uses.push_back({p["pivot_id"], "pivot", where});
  for (const auto& c : p.value("controls", json::array())) {
    uses.push_back({c["fieldName"], "control", where});
  }
  for (const auto& s : p.value("series", json::array())) {
    for (const auto& m : s.value("metrics", json::array())) {
      if (m.contains("field")) uses.push_back({m["field"], m.value("type", ""), where});
      for (const char* q : {"numerator", "denominator"}) {
        if (!m.contains(q)) continue;
        for (const auto& f : KueryFields(m[q].value("query", ""))) uses.push_back({f, "", where});
      }
    }
  }
}

TEST(DashboardCompatibility, OpenSearchVisualizationsQueryFieldsWeSend) {
  const Samples samples;
  const auto ours = OurDocuments(samples);
  const auto objects = SavedObjects();
  std::map<std::string, std::string> pattern_titles;  // id -> title
  for (const auto& o : objects) {
    if (o["type"] == "index-pattern") pattern_titles[o["id"]] = o["attributes"]["title"];
  }
  int checked = 0;
  for (const auto& o : objects) {
    if (o["type"] != "visualization") continue;
    const auto& a = o["attributes"];
    const std::string where = a["title"];
    const json vis = json::parse(a["visState"].get<std::string>());
    std::string pattern = vis.value("params", json::object()).value("index_pattern", "");
    for (const auto& r : o.value("references", json::array())) {
      if (r["type"] == "index-pattern") pattern = pattern_titles[r["id"]];
    }
    std::vector<Use> uses;
    VisualizationUses(vis, where, uses);
    const auto search =
        json::parse(a["kibanaSavedObjectMeta"].value("searchSourceJSON", "{}"), nullptr, false);
    if (search.is_object() && search.contains("query")) {
      for (const auto& f : KueryFields(search["query"].value("query", ""))) {
        uses.push_back({f, "", where});
      }
    }
    if (uses.empty()) continue;
    const Ours* mine = ForIndexPattern(ours, pattern);
    ASSERT_NE(mine, nullptr) << where << ": index pattern \"" << pattern << "\"";
    for (const auto& u : uses) CheckUse(*mine, u);
    checked += static_cast<int>(uses.size());
  }
  EXPECT_GT(checked, 40);
}

// The kind of report a Grafana datasource variable stands for, from its label ("Datasource:
// Aggregate", "Datasource: Failure").
std::map<std::string, ReportKind> GrafanaDatasources(const json& dashboard) {
  std::map<std::string, ReportKind> out;
  for (const auto& v : dashboard["templating"]["list"]) {
    if (v.value("type", "") != "datasource") continue;
    std::string label = v.value("label", "");
    for (char& c : label) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const std::string name = "$" + v["name"].get<std::string>();
    if (label.find("aggregate") != std::string::npos) out[name] = ReportKind::kAggregate;
    if (label.find("failure") != std::string::npos || label.find("forensic") != std::string::npos) {
      out[name] = ReportKind::kFailure;
    }
  }
  return out;
}

void GrafanaTargetUses(const json& target, const std::string& where, std::vector<Use>& uses) {
  for (const auto& b : target.value("bucketAggs", json::array())) {
    if (b.contains("field")) uses.push_back({b["field"], b.value("type", ""), where});
  }
  for (const auto& m : target.value("metrics", json::array())) {
    // A "count" metric counts documents; its field is ignored.
    if (m.contains("field") && m.value("type", "") != "count") {
      uses.push_back({m["field"], m.value("type", ""), where});
    }
  }
  if (target.contains("timeField")) uses.push_back({target["timeField"], "time", where});
  for (const auto& f : KueryFields(target.value("query", ""))) uses.push_back({f, "", where});
}

// A field the Grafana dashboard names that parsedmarc never wrote either (its own index
// patterns do not list it): the panel's date column is empty for parsedmarc's users too.
bool NeverWrittenByParsedmarc(const std::string& field) {
  static const std::vector<json> objects = SavedObjects();
  for (const auto& o : objects) {
    if (o["type"] != "index-pattern") continue;
    for (const auto& f : json::parse(o["attributes"]["fields"].get<std::string>())) {
      if (f["name"] == field) return false;
    }
  }
  return field.find(' ') != std::string::npos;  // not a field name parsedmarc could write
}

const Ours& Of(const std::vector<Ours>& ours, ReportKind kind) {
  for (const auto& o : ours) {
    if (o.kind == kind) return o;
  }
  return ours.front();
}

TEST(DashboardCompatibility, GrafanaElasticsearchPanelsQueryFieldsWeSend) {
  const Samples samples;
  const auto ours = OurDocuments(samples);
  const json dashboard = json::parse(Read(kDir + "Grafana-DMARC_Reports.json"));
  const auto datasources = GrafanaDatasources(dashboard);
  ASSERT_EQ(datasources.size(), 2U);
  int checked = 0;
  std::vector<json> panels = dashboard["panels"];
  for (std::size_t i = 0; i < panels.size(); ++i) {
    for (const auto& inner : panels[i].value("panels", json::array())) panels.push_back(inner);
    const auto& p = panels[i];
    if (!p.contains("targets")) continue;
    const std::string where = "Grafana panel \"" + p.value("title", "") + "\"";
    std::vector<Use> uses;
    for (const auto& t : p["targets"]) GrafanaTargetUses(t, where, uses);
    const auto ds = datasources.find(
        p.value("datasource", json("")).is_string() ? p["datasource"].get<std::string>() : "");
    ASSERT_NE(ds, datasources.end()) << where << ": datasource";
    for (const auto& u : uses) {
      if (NeverWrittenByParsedmarc(u.field)) continue;
      CheckUse(Of(ours, ds->second), u);
      ++checked;
    }
  }
  for (const auto& v : dashboard["templating"]["list"]) {
    if (v.value("type", "") != "query") continue;
    const auto q = json::parse(v.value("query", "{}"), nullptr, false);
    const auto ds = datasources.find(v.value("datasource", ""));
    if (!q.is_object() || !q.contains("field") || ds == datasources.end()) continue;
    CheckUse(Of(ours, ds->second),
             {q["field"], "terms", "Grafana variable " + v.value("name", "")});
    ++checked;
  }
  EXPECT_GT(checked, 50);
}

// --- Splunk: the Simple XML dashboards' searches (SPL) against our HEC events ---

struct SplToken {
  enum Kind { kWord, kString, kQuotedField, kDashboardToken, kOp } kind;
  std::string text;
};

std::vector<SplToken> SplTokens(const std::string& q) {
  std::vector<SplToken> out;
  const auto word_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("_.{}@:-").find(c) != std::string_view::npos;
  };
  for (std::size_t i = 0; i < q.size();) {
    const char c = q[i];
    if (std::isspace(static_cast<unsigned char>(c)) || c == ',') {
      ++i;
    } else if (c == '"' || c == '\'' || c == '$') {
      const std::size_t end = q.find(c, i + 1);
      const auto kind = c == '"'    ? SplToken::kString
                        : c == '\'' ? SplToken::kQuotedField
                                    : SplToken::kDashboardToken;
      out.push_back({kind, q.substr(i + 1, end - i - 1)});
      i = end == std::string::npos ? q.size() : end + 1;
    } else if (word_char(c) && c != '-') {
      std::size_t j = i;
      while (j < q.size() && word_char(q[j])) ++j;
      const std::string w = q.substr(i, j - i);
      out.push_back({w == "." ? SplToken::kOp : SplToken::kWord, w});  // "." concatenates
      i = j;
    } else {
      const bool two = i + 1 < q.size() && q[i + 1] == '=' &&
                       std::string_view("!=<>").find(c) != std::string_view::npos;
      out.push_back({SplToken::kOp, q.substr(i, two ? 2 : 1)});
      i += two ? 2 : 1;
    }
  }
  return out;
}

bool Number(const std::string& w) { return std::isdigit(static_cast<unsigned char>(w[0])); }

// What one dashboard's searches do with fields: the names they create and the ones they read.
struct SplFields {
  std::set<std::string> defined, read, sourcetypes;
  bool spath_input = false;  // fields read relative to an extracted JSON element
};

// One pipeline segment: `command args...` (the base search has no command word).
void SplSegment(const std::vector<SplToken>& t, std::size_t b, std::size_t e, bool command,
                SplFields& f) {
  static const std::set<std::string> kOptions = {"value", "input",          "output", "path",
                                                 "span",  "featureIdField", "index",  "sourcetype"};
  static const std::set<std::string> kWords = {"as", "by", "OR", "AND", "NOT", "count"};
  const std::string cmd = command && b < e ? t[b].text : "";
  if (cmd == "iplocation") f.defined.insert({"Country", "City", "Region", "lat", "lon"});
  for (std::size_t i = command ? b + 1 : b; i < e; ++i) {
    const auto& tok = t[i];
    const bool next_op = i + 1 < e && t[i + 1].kind == SplToken::kOp;
    const std::string op = next_op ? t[i + 1].text : "";
    if (tok.kind == SplToken::kQuotedField) f.read.insert(tok.text);
    if (tok.kind != SplToken::kWord) continue;
    if (tok.text == "as" && i + 1 < e) {
      f.defined.insert(t[++i].text);
    } else if (op == "=" && kOptions.contains(tok.text)) {
      if (i + 2 < e && tok.text == "sourcetype") f.sourcetypes.insert(t[i + 2].text);
      if (i + 2 < e && tok.text == "output") f.defined.insert(t[i + 2].text);
      if (tok.text == "input") f.spath_input = true;
      i += 2;
    } else if (op == "(" || kWords.contains(tok.text) || Number(tok.text) ||
               (cmd == "geom" && i == b + 1)) {
      continue;
    } else if (op == "=" && cmd == "eval") {
      f.defined.insert(tok.text);
    } else {
      f.read.insert(tok.text);
    }
  }
}

void SplQuery(const std::string& query, SplFields& f) {
  const auto t = SplTokens(query);
  std::size_t b = 0;
  bool command = false;
  for (std::size_t i = 0; i <= t.size(); ++i) {
    if (i < t.size() && !(t[i].kind == SplToken::kOp && t[i].text == "|")) continue;
    SplSegment(t, b, i, command, f);
    b = i + 1;
    command = true;
  }
}

// Our HEC events by sourcetype, flattened as Splunk's JSON extraction names fields
// ("a.b", arrays as "a{}.b").
void FlattenSplunk(const json& v, const std::string& path, std::set<std::string>& out) {
  if (v.is_object()) {
    for (const auto& [k, sub] : v.items()) {
      FlattenSplunk(sub, Join(path, k), out);
    }
  } else if (v.is_array()) {
    for (const auto& sub : v) FlattenSplunk(sub, path + "{}", out);
  } else if (!v.is_null()) {
    out.insert(path);
  }
}

bool InEvent(const std::set<std::string>& paths, const std::string& field, bool relative) {
  for (const auto& p : paths) {
    if (p == field || p.starts_with(field + ".") || p.starts_with(field + "{}")) return true;
    if (relative &&
        (p.ends_with("{}." + field) || p.find("{}." + field + ".") != std::string::npos)) {
      return true;
    }
  }
  return false;
}

TEST(DashboardCompatibility, SplunkDashboardsSearchFieldsOfOurHecEvents) {
  const Samples samples;
  std::map<std::string, std::set<std::string>> events;  // sourcetype -> field paths
  for (const auto& item : samples.items) {
    std::string text;
    splunk_hec::AppendEvents(item, {}, text);
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      const auto e = json::parse(line);
      FlattenSplunk(e["event"], "", events[e["sourcetype"]]);
    }
  }
  int dashboards = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kDir)) {
    if (entry.path().extension() != ".xml") continue;
    ++dashboards;
    const std::string name = entry.path().filename().string();
    pugi::xml_document doc;
    ASSERT_TRUE(doc.load_file(entry.path().c_str())) << name;
    SplFields f;
    for (const auto& q : doc.select_nodes("//query")) SplQuery(q.node().text().get(), f);
    for (const auto& q : doc.select_nodes("//fieldForValue | //fieldForLabel")) {
      f.read.insert(q.node().text().get());
    }
    std::vector<std::string> ours;
    for (const auto& st : f.sourcetypes) {
      if (events.contains(st)) ours.push_back(st);
    }
    ASSERT_EQ(ours.size(), 1U) << name << ": none of its sourcetypes is one we send";
    const auto& paths = events[ours[0]];
    EXPECT_GT(f.read.size(), 5U) << name;
    for (const auto& field : f.read) {
      if (f.defined.contains(field)) continue;
      EXPECT_TRUE(InEvent(paths, field, f.spath_input))
          << name << ": field " << field << " is not in our " << ours[0] << " events";
    }
  }
  EXPECT_EQ(dashboards, 3);
}

}  // namespace
}  // namespace dmarc::outputs
