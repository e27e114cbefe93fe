#include "archive/archive.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <zip.h>
#include <zlib.h>

#include <cstdint>
#include <functional>
#include <utility>

#include "testing/compress.h"
#include "testing/test_util.h"
#include "testing/zip_writer.h"

namespace dmarc::archive {
namespace {

using dmarc::testing::GzipOf;
using dmarc::testing::ReadFile;
using dmarc::testing::TestData;
using dmarc::testing::ZipOf;

TEST(Sniff, RecognisesByContentNotName) {
  EXPECT_EQ(Sniff("\x1F\x8B\x08"), Kind::kGzip);
  EXPECT_EQ(Sniff(std::string("PK\x03\x04", 4)), Kind::kZip);
  EXPECT_EQ(Sniff(std::string("PK\x05\x06", 4)), Kind::kZip);
  EXPECT_EQ(Sniff("<?xml version=\"1.0\"?><feedback/>"), Kind::kXml);
  EXPECT_EQ(Sniff("\xEF\xBB\xBF  \n<feedback/>"), Kind::kXml);
  EXPECT_EQ(Sniff(" {\"organization-name\": 1}"), Kind::kJson);
  EXPECT_EQ(Sniff("From MAILER-DAEMON Thu Jan  1 00:00:00 2024\n"), Kind::kMbox);
  EXPECT_EQ(Sniff("Return-Path: <a@b>\nSubject: x\n\nbody"), Kind::kMail);
  EXPECT_EQ(Sniff(""), Kind::kEmpty);
  EXPECT_EQ(Sniff(" \r\n\t"), Kind::kEmpty);
  EXPECT_EQ(Sniff("hello world"), Kind::kUnknown);
  EXPECT_EQ(Sniff("x\x9C"), Kind::kUnknown);
}

TEST(Sniff, ClassifiesTheRealSamples) {
  const std::string base = TestData("real/parsedmarc-samples/");
  EXPECT_EQ(Sniff(ReadFile(base + "aggregate/fastmail.com!example.com!1516060800!1516147199!"
                                  "102675056.xml.gz")),
            Kind::kGzip);
  EXPECT_EQ(Sniff(ReadFile(base + "extract_report/nice-input.xml.zip")), Kind::kZip);
  EXPECT_EQ(Sniff(ReadFile(base + "aggregate/rfc9990-sample.xml")), Kind::kXml);
  EXPECT_EQ(Sniff(ReadFile(base + "aggregate/twilight.eml")), Kind::kMail);
  EXPECT_EQ(Sniff(ReadFile(base + "smtp_tls/rfc8460.json")), Kind::kJson);
}

TEST(Gunzip, RoundTrips) {
  const std::string data = "<feedback>" + std::string(100000, 'x') + "</feedback>";
  auto r = Gunzip(GzipOf(data), Limits{});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->data, data);
  EXPECT_TRUE(r->warnings.empty());
}

TEST(Gzip, IsReadBackByGunzip) {
  const std::string data = "<feedback>" + std::string(100000, 'y') + "\xC3\xA9</feedback>";
  auto packed = Gzip(data);
  ASSERT_TRUE(packed.ok()) << packed.error();
  EXPECT_LT(packed->size(), data.size() / 100);
  auto r = Gunzip(*packed, Limits{});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->data, data);
  auto empty = Gzip("");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(Sniff(*empty), Kind::kGzip);
}

TEST(Gunzip, JoinsConcatenatedMembers) {
  auto r = Gunzip(GzipOf("abc") + GzipOf("def"), Limits{});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->data, "abcdef");
}

TEST(Gunzip, WarnsAboutTrailingGarbage) {
  auto r = Gunzip(GzipOf("abc") + "junk", Limits{});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->data, "abc");
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_NE(r->warnings[0].find("4 bytes"), std::string::npos);
}

TEST(Gunzip, RejectsTruncatedAndCorruptStreams) {
  const std::string gz = GzipOf(std::string(5000, 'a') + "tail");
  auto truncated = Gunzip(gz.substr(0, gz.size() - 12), Limits{});
  ASSERT_FALSE(truncated.ok());
  EXPECT_NE(truncated.error().find("truncated"), std::string::npos);
  std::string corrupt = gz;
  corrupt[12] = static_cast<char>(corrupt[12] ^ 0x5A);
  corrupt[13] = static_cast<char>(corrupt[13] ^ 0xA5);
  EXPECT_FALSE(Gunzip(corrupt, Limits{}).ok());
}

TEST(Gunzip, StopsABombByRatio) {
  auto r = Gunzip(ReadFile(TestData("broken/gzip-bomb.xml.gz")), Limits{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("ratio"), std::string::npos);
}

TEST(Gunzip, StopsABombBySizeWhenRatioIsAllowed) {
  Limits limits;
  limits.max_compression_ratio = 1'000'000;
  limits.max_decompressed_bytes = 10 * 1024 * 1024;
  auto r = Gunzip(ReadFile(TestData("broken/gzip-bomb.xml.gz")), limits);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("exceeds the limit of 10485760 bytes"), std::string::npos);
}

// ---- Streaming gunzip: the same bytes, warnings and errors as Gunzip, whatever the pieces.

// Pseudo-random report-like text: compresses like real XML (about 10:1), not like a bomb.
std::string ReportLikeText(std::size_t bytes) {
  std::string out;
  out.reserve(bytes + 64);
  std::uint32_t x = 12345;
  while (out.size() < bytes) {
    x = x * 1664525u + 1013904223u;
    out += "<record><source_ip>192.0.2." + std::to_string(x >> 24) + "</source_ip><count>" +
           std::to_string(x % 9973) + "</count></record>\n";
  }
  out.resize(bytes);
  return out;
}

struct StreamOutcome {
  bool ok = false;
  std::string data;
  std::vector<std::string> warnings;
  std::string error;
  std::size_t largest_chunk = 0;
  std::size_t chunks = 0;
};

// Feeds `in` to a GzipInflater in pieces of `piece` bytes (0: all at once).
StreamOutcome InflateInPieces(std::string_view in, std::size_t piece, const Limits& limits,
                              DecompressionBudget& budget) {
  StreamOutcome r;
  const ChunkSink sink = [&r](std::string_view chunk) {
    r.data.append(chunk);
    r.largest_chunk = std::max(r.largest_chunk, chunk.size());
    ++r.chunks;
    return Ok();
  };
  GzipInflater inflater(limits, budget);
  const std::size_t step = piece == 0 ? std::max<std::size_t>(in.size(), 1) : piece;
  for (std::size_t at = 0; at < in.size(); at += step) {
    if (Status s = inflater.Feed(in.substr(at, step), sink); !s) {
      r.error = s.error();
      return r;
    }
  }
  auto warnings = inflater.Finish(sink);
  if (!warnings) {
    r.error = warnings.error();
    return r;
  }
  r.ok = true;
  r.warnings = *warnings;
  return r;
}

StreamOutcome InflateInPieces(std::string_view in, std::size_t piece, const Limits& limits) {
  DecompressionBudget budget(limits.max_decompressed_bytes);
  return InflateInPieces(in, piece, limits, budget);
}

// Checks that every piece size gives what Gunzip gives; returns Gunzip's error ("" if none).
std::string ExpectStreamedEqualsGunzip(const std::string& in, const Limits& limits) {
  auto whole = Gunzip(in, limits);
  for (std::size_t piece : {std::size_t{1}, std::size_t{3}, std::size_t{4096}, std::size_t{0}}) {
    SCOPED_TRACE("pieces of " + std::to_string(piece));
    const StreamOutcome s = InflateInPieces(in, piece, limits);
    EXPECT_EQ(s.ok, whole.ok());
    EXPECT_LE(s.largest_chunk, kStreamChunkBytes);
    if (whole.ok()) {
      EXPECT_TRUE(s.data == whole->data) << s.data.size() << " vs " << whole->data.size();
      EXPECT_EQ(s.warnings, whole->warnings);
    } else {
      EXPECT_EQ(s.error, whole.error());
    }
  }
  return whole.ok() ? std::string() : whole.error();
}

TEST(GzipInflater, RealReportInAnyPiecesEqualsGunzip) {
  const std::string gz =
      ReadFile(TestData("real/parsedmarc-samples/aggregate/"
                        "fastmail.com!example.com!1516060800!1516147199!102675056.xml.gz"));
  EXPECT_EQ(ExpectStreamedEqualsGunzip(gz, Limits{}), "");
  EXPECT_NE(Gunzip(gz, Limits{})->data.find("<feedback"), std::string::npos);
}

TEST(GzipInflater, LargeOutputComesInBoundedChunks) {
  const std::string text = ReportLikeText(3 * kStreamChunkBytes + 12345);
  const std::string gz = GzipOf(text);
  EXPECT_EQ(ExpectStreamedEqualsGunzip(gz, Limits{}), "");
  const StreamOutcome s = InflateInPieces(gz, 4096, Limits{});
  ASSERT_TRUE(s.ok) << s.error;
  EXPECT_EQ(s.data, text);
  EXPECT_EQ(s.largest_chunk, kStreamChunkBytes);  // full chunks, not one per inflate() call
  EXPECT_EQ(s.chunks, 4u);
}

TEST(GzipInflater, JoinsMembersWhereverTheBoundaryFalls) {
  const std::string first = GzipOf(ReportLikeText(70000));
  const std::string in = first + GzipOf("") + GzipOf("def") + GzipOf(ReportLikeText(300000));
  EXPECT_EQ(ExpectStreamedEqualsGunzip(in, Limits{}), "");
  EXPECT_EQ(Gunzip(in, Limits{})->data, ReportLikeText(70000) + "def" + ReportLikeText(300000));
  // The boundary itself split: the next member's 1F and 8B in two calls.
  for (std::size_t cut : {first.size(), first.size() + 1, first.size() + 2}) {
    DecompressionBudget budget(Limits{}.max_decompressed_bytes);
    GzipInflater inflater(Limits{}, budget);
    std::string got;
    const ChunkSink sink = [&got](std::string_view c) {
      got.append(c);
      return Ok();
    };
    ASSERT_TRUE(inflater.Feed(std::string_view(in).substr(0, cut), sink).ok());
    ASSERT_TRUE(inflater.Feed(std::string_view(in).substr(cut), sink).ok());
    auto warnings = inflater.Finish(sink);
    ASSERT_TRUE(warnings.ok()) << warnings.error();
    EXPECT_TRUE(warnings->empty());
    EXPECT_TRUE(got == Gunzip(in, Limits{})->data);
  }
}

TEST(GzipInflater, IgnoresTrailingDataWithGunzipsWarning) {
  EXPECT_EQ(ExpectStreamedEqualsGunzip(GzipOf("abc") + "junk", Limits{}), "");
  EXPECT_EQ(ExpectStreamedEqualsGunzip(GzipOf("abc") + "j", Limits{}), "");
  EXPECT_EQ(ExpectStreamedEqualsGunzip(GzipOf("abc") + "\x1F", Limits{}), "");
  EXPECT_EQ(ExpectStreamedEqualsGunzip(GzipOf("abc") + std::string(10000, '\0'), Limits{}), "");
  // Gunzip is written on GzipInflater: what both give is checked here, not only that they agree.
  for (const auto& [tail, bytes] :
       std::vector<std::pair<std::string, int>>{{"junk", 4},
                                                {"j", 1},
                                                {"\x1F", 1},
                                                {"\x1F\x8C", 2},
                                                {std::string(10000, '\0'), 10000}}) {
    for (std::size_t piece : {std::size_t{1}, std::size_t{0}}) {
      const StreamOutcome s = InflateInPieces(GzipOf("abc") + tail, piece, Limits{});
      ASSERT_TRUE(s.ok) << s.error;
      EXPECT_EQ(s.data, "abc");
      EXPECT_EQ(s.warnings, std::vector<std::string>{fmt::format(
                                "ignored {} bytes of trailing data after the gzip stream", bytes)});
    }
  }
}

TEST(GzipInflater, TruncatedAndCorruptGiveGunzipsErrors) {
  const std::string gz = GzipOf(ReportLikeText(500000));
  EXPECT_EQ(ExpectStreamedEqualsGunzip(gz.substr(0, gz.size() - 12), Limits{}),
            "truncated gzip stream");
  EXPECT_EQ(ExpectStreamedEqualsGunzip(gz.substr(0, 5), Limits{}),
            "truncated gzip stream (no data)");
  EXPECT_EQ(ExpectStreamedEqualsGunzip("", Limits{}), "truncated gzip stream (no data)");
  EXPECT_EQ(ExpectStreamedEqualsGunzip(gz + gz.substr(0, 100), Limits{}), "truncated gzip stream");
  std::string corrupt = gz;
  corrupt[12] = static_cast<char>(corrupt[12] ^ 0x5A);
  corrupt[13] = static_cast<char>(corrupt[13] ^ 0xA5);
  EXPECT_NE(ExpectStreamedEqualsGunzip(corrupt, Limits{}).find("corrupt gzip stream: "),
            std::string::npos);
  EXPECT_NE(ExpectStreamedEqualsGunzip(ReadFile(TestData("broken/zlib-not-gzip.xml.gz")), Limits{})
                .find("corrupt gzip stream: "),
            std::string::npos);
  EXPECT_EQ(ExpectStreamedEqualsGunzip(ReadFile(TestData("broken/truncated.xml.gz")), Limits{}),
            "truncated gzip stream");
}

TEST(GzipInflater, StopsBombsByRatioAndBySize) {
  const std::string bomb = ReadFile(TestData("broken/gzip-bomb.xml.gz"));
  EXPECT_EQ(ExpectStreamedEqualsGunzip(bomb, Limits{}),
            "compression ratio exceeds 1000:1 (compression bomb?)");
  Limits lenient;
  lenient.max_compression_ratio = 1'000'000;
  lenient.max_decompressed_bytes = 10 * 1024 * 1024;
  EXPECT_EQ(ExpectStreamedEqualsGunzip(bomb, lenient),
            "decompressed size exceeds the limit of 10485760 bytes (compression bomb?)");
  // Nothing past the limit reaches the sink.
  const StreamOutcome s = InflateInPieces(bomb, 4096, lenient);
  EXPECT_LE(s.data.size(), lenient.max_decompressed_bytes);
  // A report-like stream over the size limit.
  Limits small;
  small.max_decompressed_bytes = 1'000'000;
  EXPECT_EQ(ExpectStreamedEqualsGunzip(GzipOf(ReportLikeText(1'000'001)), small),
            "decompressed size exceeds the limit of 1000000 bytes (compression bomb?)");
  EXPECT_EQ(ExpectStreamedEqualsGunzip(GzipOf(ReportLikeText(1'000'000)), small), "");
}

TEST(GzipInflater, TwoInflatersShareOneBudget) {
  const std::string text = ReportLikeText(600'000);
  const std::string gz = GzipOf(text);
  Limits limits;
  limits.max_decompressed_bytes = 1'000'000;
  // Interleaved: both inflaters spend from the same budget as they produce.
  DecompressionBudget budget(limits.max_decompressed_bytes);
  GzipInflater a(limits, budget);
  GzipInflater b(limits, budget);
  std::size_t got_a = 0;
  std::size_t got_b = 0;
  const ChunkSink sink_a = [&got_a](std::string_view c) {
    got_a += c.size();
    return Ok();
  };
  const ChunkSink sink_b = [&got_b](std::string_view c) {
    got_b += c.size();
    return Ok();
  };
  Status failed = Ok();
  for (std::size_t at = 0; at < gz.size() && failed.ok(); at += 1000) {
    if (Status s = a.Feed(std::string_view(gz).substr(at, 1000), sink_a); !s) failed = s;
    if (Status s = b.Feed(std::string_view(gz).substr(at, 1000), sink_b); !s) failed = s;
  }
  ASSERT_FALSE(failed.ok());
  EXPECT_TRUE(budget.exhausted());
  EXPECT_NE(failed.error().find("for the whole input"), std::string::npos);
  EXPECT_LE(got_a + got_b, limits.max_decompressed_bytes);
  // In sequence: the first fits, the second gets the error Gunzip gives with the same budget.
  DecompressionBudget shared(limits.max_decompressed_bytes);
  DecompressionBudget shared_for_gunzip(limits.max_decompressed_bytes);
  const StreamOutcome first = InflateInPieces(gz, 3, limits, shared);
  ASSERT_TRUE(first.ok) << first.error;
  EXPECT_EQ(first.data, text);
  ASSERT_TRUE(Gunzip(gz, limits, shared_for_gunzip).ok());
  const StreamOutcome second = InflateInPieces(gz, 3, limits, shared);
  auto second_gunzip = Gunzip(gz, limits, shared_for_gunzip);
  ASSERT_FALSE(second.ok);
  ASSERT_FALSE(second_gunzip.ok());
  EXPECT_EQ(second.error, second_gunzip.error());
  EXPECT_TRUE(shared.exhausted());
}

TEST(GzipInflater, ReturnsTheSinksErrorUnchanged) {
  const std::string gz = GzipOf(ReportLikeText(3 * kStreamChunkBytes));
  DecompressionBudget budget(Limits{}.max_decompressed_bytes);
  GzipInflater inflater(Limits{}, budget);
  int calls = 0;
  const ChunkSink refuse_second = [&calls](std::string_view) -> Status {
    if (++calls == 2) return MakeError(ErrorKind::kIo, "disk full");
    return Ok();
  };
  Status s = inflater.Feed(gz, refuse_second);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error(), "disk full");
  EXPECT_EQ(s.error_kind(), ErrorKind::kIo);
  EXPECT_EQ(calls, 2);
  auto finish = inflater.Finish(refuse_second);  // the error sticks
  ASSERT_FALSE(finish.ok());
  EXPECT_EQ(finish.error(), "disk full");
  EXPECT_EQ(calls, 2);
  // Through GunzipTo too, also when the only chunk is the last one (handed out by Finish).
  auto to = GunzipTo(GzipOf("abc"), Limits{}, budget, [](std::string_view c) -> Status {
    EXPECT_EQ(c, "abc");
    return MakeError(ErrorKind::kBusy, "busy");
  });
  ASSERT_FALSE(to.ok());
  EXPECT_EQ(to.error(), "busy");
  EXPECT_EQ(to.error_kind(), ErrorKind::kBusy);
}

TEST(Zip, VisitsEveryEntryInOrder) {
  std::vector<std::string> names;
  auto n = ForEachZipEntry(
      ReadFile(TestData("broken/zip-mixed.zip")), Limits{},
      [&](ZipEntry&& e) { names.push_back(e.name); },
      [&](const std::string& name, const std::string& reason) {
        ADD_FAILURE() << name << ": " << reason;
      });
  ASSERT_TRUE(n.ok()) << n.error();
  EXPECT_EQ(*n, 3u);
  EXPECT_EQ(names, (std::vector<std::string>{"readme.txt", "a.xml", "b.xml"}));
}

TEST(Zip, TraversalNamesAreOnlyLabels) {
  std::vector<std::string> names;
  auto n = ForEachZipEntry(
      ReadFile(TestData("broken/zip-path-traversal.zip")), Limits{},
      [&](ZipEntry&& e) {
        names.push_back(e.name);
        EXPECT_NE(e.data.find("<feedback>"), std::string::npos);
      },
      [](const std::string&, const std::string&) {});
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(names[0], "../../etc/cron.d/evil.xml");
}

TEST(Zip, RefusesBombsTooManyEntriesAndTruncation) {
  std::vector<std::string> problems;
  auto problem = [&](const std::string& name, const std::string& reason) {
    problems.push_back(name + ": " + reason);
  };
  auto ignore = [](ZipEntry&&) { ADD_FAILURE() << "no entry should be visited"; };
  auto bomb = ForEachZipEntry(ReadFile(TestData("broken/zip-bomb.zip")), Limits{}, ignore, problem);
  ASSERT_TRUE(bomb.ok());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("limit"), std::string::npos);

  // Declared size lies are caught while inflating, by ratio.
  Limits lenient;
  lenient.max_decompressed_bytes = 300u * 1024 * 1024;
  problems.clear();
  auto bomb2 = ForEachZipEntry(ReadFile(TestData("broken/zip-bomb.zip")), lenient, ignore, problem);
  ASSERT_TRUE(bomb2.ok());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("ratio"), std::string::npos);

  auto many =
      ForEachZipEntry(ReadFile(TestData("broken/zip-many-entries.zip")), Limits{}, ignore, problem);
  ASSERT_FALSE(many.ok());
  EXPECT_NE(many.error().find("1500 entries"), std::string::npos);

  auto truncated =
      ForEachZipEntry(ReadFile(TestData("broken/truncated.zip")), Limits{}, ignore, problem);
  EXPECT_FALSE(truncated.ok());
}

// ---- Streaming unzip: the entries ForEachZipEntry collects, in chunks; the same limits.

// What a streamed walk handed out: whole entries (begin .. end), and the rest.
struct ZipEvents {
  std::vector<ZipEntry> entries;
  std::vector<std::string> problems;  // "name: reason"
  std::vector<std::string> begun;
  std::size_t largest_chunk = 0;
  std::size_t bytes = 0;  // every chunk handed out, dropped entries included
};

Result<std::size_t> StreamZip(std::string_view zip, const Limits& limits,
                              DecompressionBudget& budget, ZipEvents& ev,
                              const std::function<bool(const std::string&)>& want = nullptr) {
  std::string current;
  const ZipStreamVisitor visitor{
      .begin =
          [&](const std::string& name) {
            ev.begun.push_back(name);
            current.clear();
            return !want || want(name);
          },
      .chunk =
          [&](std::string_view chunk) {
            EXPECT_FALSE(chunk.empty());
            ev.largest_chunk = std::max(ev.largest_chunk, chunk.size());
            ev.bytes += chunk.size();
            current.append(chunk);
            return Ok();
          },
      .end =
          [&](const std::string& name) {
            EXPECT_EQ(name, ev.begun.back());
            ev.entries.push_back(ZipEntry{name, std::exchange(current, {})});
          },
  };
  return ForEachZipEntryStreamed(zip, limits, budget, visitor,
                                 [&](const std::string& name, const std::string& reason) {
                                   ev.problems.push_back(fmt::format("{}: {}", name, reason));
                                 });
}

Result<std::size_t> StreamZip(std::string_view zip, const Limits& limits, ZipEvents& ev) {
  DecompressionBudget budget(limits.max_decompressed_bytes);
  return StreamZip(zip, limits, budget, ev);
}

// Offsets of the zip records with this 4-byte signature (local headers, central directory).
std::vector<std::size_t> ZipRecords(const std::string& zip, std::string_view signature) {
  std::vector<std::size_t> at;
  for (auto i = zip.find(signature); i != std::string::npos; i = zip.find(signature, i + 1)) {
    at.push_back(i);
  }
  return at;
}

void PutLe32(std::string& bytes, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) bytes[at + i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}

TEST(ZipStreamed, EntriesEqualTheCollectedOnes) {
  const std::string big = ReportLikeText(2 * kStreamChunkBytes + 777);
  std::vector<std::string> archives = {
      ReadFile(TestData("broken/zip-mixed.zip")),
      ReadFile(TestData("real/parsedmarc-samples/extract_report/nice-input.xml.zip")),
      ReadFile(TestData("real/parsedmarc-samples/aggregate/"
                        "estadocuenta1.infonacot.gob.mx!example.com!1536853302!1536939702!2940."
                        "xml.zip")),
      ZipOf({{"big.xml", big}, {"dir/", ""}, {"empty.xml", ""}, {"small.xml", "<feedback/>"}}),
  };
  for (const auto& zip : archives) {
    std::vector<ZipEntry> collected;
    auto n = ForEachZipEntry(
        zip, Limits{}, [&](ZipEntry&& e) { collected.push_back(std::move(e)); },
        [](const std::string& name, const std::string& reason) {
          ADD_FAILURE() << name << ": " << reason;
        });
    ASSERT_TRUE(n.ok()) << n.error();
    ZipEvents ev;
    auto m = StreamZip(zip, Limits{}, ev);
    ASSERT_TRUE(m.ok()) << m.error();
    EXPECT_EQ(*m, *n);
    EXPECT_EQ(*n, collected.size());
    ASSERT_EQ(ev.entries.size(), collected.size());
    for (std::size_t i = 0; i < collected.size(); ++i) {
      EXPECT_EQ(ev.entries[i].name, collected[i].name);
      EXPECT_TRUE(ev.entries[i].data == collected[i].data) << collected[i].name;
    }
    EXPECT_LE(ev.largest_chunk, kStreamChunkBytes);
    EXPECT_TRUE(ev.problems.empty());
  }
  ZipEvents ev;
  ASSERT_TRUE(StreamZip(archives.back(), Limits{}, ev).ok());
  ASSERT_EQ(ev.entries.size(), 3u);  // the directory is left out
  EXPECT_EQ(ev.entries[0].name, "big.xml");
  EXPECT_TRUE(ev.entries[0].data == big);
  EXPECT_EQ(ev.largest_chunk, kStreamChunkBytes);
  EXPECT_EQ(ev.entries[1].data, "");
  EXPECT_EQ(ev.entries[2].data, "<feedback/>");
}

TEST(ZipStreamed, BeginCanSkipAnEntry) {
  const std::string zip = ZipOf({{"a.xml", "<a/>"}, {"b.xml", "<b/>"}, {"c.xml", "<c/>"}});
  DecompressionBudget budget(Limits{}.max_decompressed_bytes);
  ZipEvents ev;
  auto n =
      StreamZip(zip, Limits{}, budget, ev, [](const std::string& name) { return name != "b.xml"; });
  ASSERT_TRUE(n.ok()) << n.error();
  EXPECT_EQ(*n, 2u);
  EXPECT_EQ(ev.begun, (std::vector<std::string>{"a.xml", "b.xml", "c.xml"}));
  ASSERT_EQ(ev.entries.size(), 2u);
  EXPECT_EQ(ev.entries[1].data, "<c/>");
  EXPECT_EQ(ev.bytes, 8u);  // nothing of b.xml
}

TEST(ZipStreamed, CorruptEntryIsReportedAndTheWalkGoesOn) {
  const std::string first = ReportLikeText(100000);
  std::string zip = ZipOf({{"a.xml", first}, {"b.xml", "<feedback/>"}});
  // The deflate data of a.xml starts after its local header (30 bytes, the name, no extra field).
  ASSERT_EQ(zip.compare(0, 4, "PK\x03\x04"), 0);
  for (std::size_t i = 30 + 5 + 200; i < 30 + 5 + 260; ++i)
    zip[i] = static_cast<char>(zip[i] ^ 0x55);
  for (auto walk : {0, 1}) {
    ZipEvents ev;
    std::vector<std::string> collected;
    auto n = walk == 0
                 ? StreamZip(zip, Limits{}, ev)
                 : ForEachZipEntry(
                       zip, Limits{}, [&](ZipEntry&& e) { ev.entries.push_back(std::move(e)); },
                       [&](const std::string& name, const std::string& reason) {
                         ev.problems.push_back(fmt::format("{}: {}", name, reason));
                       });
    ASSERT_TRUE(n.ok()) << n.error();
    EXPECT_EQ(*n, 1u);
    ASSERT_EQ(ev.problems.size(), 1u);
    EXPECT_TRUE(ev.problems[0].starts_with("a.xml: corrupt entry: ")) << ev.problems[0];
    ASSERT_EQ(ev.entries.size(), 1u);
    EXPECT_EQ(ev.entries[0].name, "b.xml");
    EXPECT_EQ(ev.entries[0].data, "<feedback/>");
  }
}

TEST(ZipStreamed, EncryptedEntryIsReportedAndTheWalkGoesOn) {
  std::string zip = ZipOf({{"secret.xml", "<feedback>secret</feedback>"}, {"b.xml", "<b/>"}});
  // Flag the first entry as encrypted (bit 0 of its flags) in its local and central headers.
  const auto local = ZipRecords(zip, "PK\x03\x04");
  const auto central = ZipRecords(zip, "PK\x01\x02");
  ASSERT_EQ(local.size(), 2u);
  ASSERT_EQ(central.size(), 2u);
  zip[local[0] + 6] = static_cast<char>(zip[local[0] + 6] | 1);
  zip[central[0] + 8] = static_cast<char>(zip[central[0] + 8] | 1);
  ZipEvents ev;
  auto n = StreamZip(zip, Limits{}, ev);
  ASSERT_TRUE(n.ok()) << n.error();
  EXPECT_EQ(*n, 1u);
  EXPECT_EQ(ev.problems, std::vector<std::string>{"secret.xml: entry is encrypted"});
  EXPECT_EQ(ev.begun, std::vector<std::string>{"b.xml"});
  ASSERT_EQ(ev.entries.size(), 1u);
  EXPECT_EQ(ev.entries[0].data, "<b/>");
}

TEST(ZipStreamed, RefusesTooManyEntries) {
  Limits limits;
  limits.max_zip_entries = 4;
  const std::string zip = ZipOf({{"1", "a"}, {"2", "b"}, {"3", "c"}, {"4", "d"}, {"5", "e"}});
  ZipEvents ev;
  auto n = StreamZip(zip, limits, ev);
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.error(), "zip archive has 5 entries, over the limit of 4");
  EXPECT_TRUE(ev.begun.empty());
  ZipEvents many;
  auto m = StreamZip(ReadFile(TestData("broken/zip-many-entries.zip")), Limits{}, many);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error(), "zip archive has 1500 entries, over the limit of 1000");
  limits.max_zip_entries = 5;
  ZipEvents five;
  ASSERT_TRUE(StreamZip(zip, limits, five).ok());
  EXPECT_EQ(five.entries.size(), 5u);
}

// An entry declaring 1,000 bytes that inflates to 3 MB: the limit holds on what is produced.
std::string ZipWithLyingEntry() {
  std::string zip = ZipOf({{"lie.xml", ReportLikeText(3'000'000)}, {"after.xml", "<after/>"}});
  const auto local = ZipRecords(zip, "PK\x03\x04");
  const auto central = ZipRecords(zip, "PK\x01\x02");
  PutLe32(zip, local[0] + 22, 1000);
  PutLe32(zip, central[0] + 24, 1000);
  return zip;
}

TEST(ZipStreamed, EnforcesLimitsOnTheRealSizeNotTheDeclaredOne) {
  const std::string zip = ZipWithLyingEntry();
  Limits limits;
  limits.max_decompressed_bytes = 1'000'000;
  // The declared sizes pass, the real ones do not.
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* src = zip_source_buffer_create(zip.data(), zip.size(), 0, &error);
  zip_t* z = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &error);
  ASSERT_NE(z, nullptr) << zip_error_strerror(&error);
  zip_stat_t st;
  ASSERT_EQ(zip_stat_index(z, 0, 0, &st), 0);
  EXPECT_EQ(st.size, 1000u);
  zip_discard(z);
  zip_error_fini(&error);

  ZipEvents ev;
  auto n = StreamZip(zip, limits, ev);
  ASSERT_TRUE(n.ok()) << n.error();
  EXPECT_EQ(*n, 1u);
  EXPECT_EQ(ev.problems, std::vector<std::string>{
                             "lie.xml: decompressed size exceeds the limit of 1000000 bytes "
                             "(compression bomb?)"});
  EXPECT_LE(ev.bytes, limits.max_decompressed_bytes + 8);  // lie.xml's first part, then after.xml
  ASSERT_EQ(ev.entries.size(), 1u);
  EXPECT_EQ(ev.entries[0].name, "after.xml");
  // The collecting form gives the same.
  std::vector<std::string> problems;
  std::vector<std::string> names;
  auto m = ForEachZipEntry(
      zip, limits, [&](ZipEntry&& e) { names.push_back(e.name); },
      [&](const std::string& name, const std::string& reason) {
        problems.push_back(fmt::format("{}: {}", name, reason));
      });
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(problems, ev.problems);
  EXPECT_EQ(names, std::vector<std::string>{"after.xml"});
}

TEST(ZipStreamed, AnExhaustedBudgetEndsTheWalk) {
  Limits limits;
  limits.max_decompressed_bytes = 5'000'000;
  // What an earlier archive of the same input spent: 2.5 MB are left, the lying entry needs 3.
  DecompressionBudget budget(limits.max_decompressed_bytes);
  budget.Spend(2'500'000);
  ZipEvents ev;
  auto n = StreamZip(ZipWithLyingEntry(), limits, budget, ev);
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.error().find("for the whole input"), std::string::npos) << n.error();
  EXPECT_TRUE(budget.exhausted());
  EXPECT_TRUE(ev.entries.empty());  // after.xml is not reached
  EXPECT_LE(ev.bytes, 2'500'000u);
  // Declared sizes over what is left end it before any byte is inflated.
  DecompressionBudget small(limits.max_decompressed_bytes);
  small.Spend(limits.max_decompressed_bytes - 10);
  ZipEvents ev2;
  auto m = StreamZip(ZipOf({{"a.xml", ReportLikeText(100)}}), limits, small, ev2);
  ASSERT_FALSE(m.ok());
  EXPECT_TRUE(small.exhausted());
  EXPECT_TRUE(ev2.begun.empty());
}

TEST(ZipStreamed, ReturnsTheConsumersErrorUnchanged) {
  const std::string zip = ZipOf({{"a.xml", "<a/>"}, {"b.xml", "<b/>"}});
  DecompressionBudget budget(Limits{}.max_decompressed_bytes);
  int ends = 0;
  const ZipStreamVisitor refuse{
      .begin = [](const std::string&) { return true; },
      .chunk = [](std::string_view) -> Status { return MakeError(ErrorKind::kIo, "no space"); },
      .end = [&ends](const std::string&) { ++ends; },
  };
  auto n = ForEachZipEntryStreamed(zip, Limits{}, budget, refuse,
                                   [](const std::string& name, const std::string& reason) {
                                     ADD_FAILURE() << name << ": " << reason;
                                   });
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.error(), "no space");
  EXPECT_EQ(n.error_kind(), ErrorKind::kIo);
  EXPECT_EQ(ends, 0);
}

// ---- Zstandard: how the store keeps raw XML ----

TEST(Zstd, IsReadBackByUnzstdWhateverPiecesItWasFedIn) {
  const std::string data = ReportLikeText(700000) + "\xC3\xA9";
  auto packed = Zstd(data);
  ASSERT_TRUE(packed.ok()) << packed.error();
  EXPECT_LT(packed->size(), data.size() / 4);
  EXPECT_EQ(packed->substr(0, 4), std::string("\x28\xB5\x2F\xFD", 4));  // a Zstandard frame
  auto back = Unzstd(*packed, data.size());
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(*back, data);
  // Fed in pieces of any size, the compressor's output reads back the same.
  for (std::size_t piece : {1u, 7u, 4096u, 131072u}) {
    ZstdCompressor c;
    std::string out;
    auto append = [&out](std::string_view chunk) {
      out.append(chunk);
      return Ok();
    };
    const std::size_t upto = piece == 1 ? 5000 : data.size();  // byte by byte: a shorter text
    for (std::size_t at = 0; at < upto; at += piece) {
      ASSERT_TRUE(c.Feed(std::string_view(data).substr(at, std::min(piece, upto - at)), append));
    }
    ASSERT_TRUE(c.Finish(append));
    auto got = Unzstd(out, upto);
    ASSERT_TRUE(got.ok()) << got.error();
    EXPECT_TRUE(*got == data.substr(0, upto)) << piece;
  }
  // Empty text is one (short) frame; two frames in a row are joined.
  auto empty = Zstd("");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(Unzstd(*empty, 0).value(), "");
  EXPECT_EQ(Unzstd(Zstd("abc").value() + Zstd("def").value(), 6).value(), "abcdef");
}

TEST(Unzstd, RefusesTruncatedCorruptAndOversizedStreams) {
  const std::string data = ReportLikeText(200000);
  const std::string packed = Zstd(data).value();
  EXPECT_NE(Unzstd(packed.substr(0, packed.size() - 10), SIZE_MAX).error().find("truncated"),
            std::string::npos);
  EXPECT_FALSE(Unzstd(packed.substr(0, 3), SIZE_MAX).ok());
  EXPECT_FALSE(Unzstd("", SIZE_MAX).ok());
  std::string corrupt = packed;
  corrupt[corrupt.size() / 2] = static_cast<char>(corrupt[corrupt.size() / 2] ^ 0x5A);
  EXPECT_FALSE(Unzstd(corrupt, SIZE_MAX).ok());
  EXPECT_FALSE(Unzstd("not zstd at all", SIZE_MAX).ok());
  // The output is bounded: one byte less than the text is refused, before it is all made.
  auto over = Unzstd(packed, data.size() - 1);
  ASSERT_FALSE(over.ok());
  EXPECT_NE(over.error().find("more than"), std::string::npos) << over.error();
  EXPECT_TRUE(Unzstd(packed, data.size()).ok());
}

}  // namespace
}  // namespace dmarc::archive
