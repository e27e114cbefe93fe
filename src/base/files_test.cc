#include "base/files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <csignal>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "testing/test_util.h"

namespace dmarc {
namespace {

namespace fs = std::filesystem;

class Walk : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = dmarc::testing::FreshTestDir("dmarc-walk");
    for (const char* f : {"b/2", "a/1", ".hidden", "processed/x", "md/cur/c1", "md/new/n1",
                          "md/tmp/t1", "md/dovecot-uidlist", "md/.Archive/cur/a1"}) {
      fs::create_directories((dir_ / f).parent_path());
      std::ofstream(dir_ / f) << "x";
    }
    fs::create_directories(dir_ / "md/.Archive/new");
    fs::create_directories(dir_ / "md/.Archive/tmp");
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::vector<std::string> Relative(const std::vector<std::string>& files) {
    std::vector<std::string> out;
    out.reserve(files.size());
    for (const auto& f : files) out.push_back(fs::path(f).lexically_relative(dir_).string());
    return out;
  }
  fs::path dir_;
};

TEST_F(Walk, MaildirRulesLeaveOutTmpAndIndexFilesInNameOrder) {
  WalkRules rules;
  rules.maildir_aware = true;
  std::vector<std::string> files, errors;
  WalkFiles(dir_, rules, files, errors);
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(Relative(files),
            (std::vector<std::string>{".hidden", "a/1", "b/2", "md/.Archive/cur/a1", "md/cur/c1",
                                      "md/new/n1", "processed/x"}));
}

TEST_F(Walk, DropFolderRulesLeaveOutHiddenNamesAndTopLevelFolders) {
  WalkRules rules;
  rules.skip_hidden = true;
  rules.skip_top_level = {"processed"};
  std::vector<std::string> files, errors;
  WalkFiles(dir_, rules, files, errors);
  EXPECT_EQ(Relative(files),
            (std::vector<std::string>{"a/1", "b/2", "md/cur/c1", "md/dovecot-uidlist", "md/new/n1",
                                      "md/tmp/t1"}));
  rules.max_depth = 0;
  rules.deep_is_error = false;
  files.clear();
  WalkFiles(dir_, rules, files, errors);
  EXPECT_TRUE(files.empty());
  EXPECT_TRUE(errors.empty());
  rules.deep_is_error = true;
  WalkFiles(dir_, rules, files, errors);
  EXPECT_FALSE(errors.empty());
}

// A link or a FIFO put into a folder (a Maildir, a drop folder) by whoever can write there must
// not be read: a link to /etc/shadow was stored and served as a rejected input.
class ReadFound : public Walk {};

TEST_F(ReadFound, SymbolicLinksFoundInFoldersAreListedButNeverReadThrough) {
  std::ofstream(dir_ / "secret") << "root:$6$hash";
  fs::create_directories(dir_ / "drop");
  fs::create_symlink(dir_ / "secret", dir_ / "drop" / "link.eml");
  fs::create_symlink(dir_ / "nowhere", dir_ / "drop" / "dangling.eml");
  std::vector<std::string> files, errors;
  WalkFiles(dir_ / "drop", WalkRules{}, files, errors);
  ASSERT_EQ(files.size(), 2u);  // listed, so that the reader rejects each by name
  Limits limits;
  for (const auto& f : files) {
    auto got = ReadInput(f, limits);
    ASSERT_FALSE(got) << f << " was read: " << *got;
    EXPECT_NE(got.error().find("a symbolic link: not read"), std::string::npos) << got.error();
  }
  // The user's own argument is followed.
  auto named = ReadInput((dir_ / "drop" / "link.eml").string(), limits, PathOrigin::kNamedByUser);
  ASSERT_TRUE(named) << named.error();
  EXPECT_EQ(*named, "root:$6$hash");
}

TEST_F(ReadFound, OnlyRegularFilesFoundInFoldersAreReadAndAFifoDoesNotBlock) {
  const fs::path fifo = dir_ / "fifo.eml";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto got = ReadInput(fifo.string(), Limits{});  // no writer: a blocking open would hang here
  ASSERT_FALSE(got);
  EXPECT_NE(got.error().find("a FIFO: not read"), std::string::npos) << got.error();
  got = ReadInput(dir_.string(), Limits{}, PathOrigin::kNamedByUser);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), "a directory");
  got = ReadInput((dir_ / "a/1").string(), Limits{});
  ASSERT_TRUE(got) << got.error();
  EXPECT_EQ(*got, "x");
}

// ReadFileChunks: ReadInput's rules and limit, the input handed out in chunks.
class ReadChunks : public Walk {
 protected:
  // Reads `path` in chunks; returns the error ("" if none), the chunks in `chunks`.
  std::string Read(const std::string& path, PathOrigin origin, const Limits& limits,
                   std::size_t chunk_bytes, std::vector<std::string>& chunks) {
    Status s = ReadFileChunks(path, origin, limits, chunk_bytes, [&chunks](std::string_view c) {
      chunks.emplace_back(c);
      return Ok();
    });
    return s.ok() ? std::string() : s.error();
  }
};

std::string Joined(const std::vector<std::string>& chunks) {
  std::string out;
  for (const auto& c : chunks) out += c;
  return out;
}

TEST_F(ReadChunks, FileComesInFullChunksButTheLast) {
  std::string text;
  for (int i = 0; text.size() < 2500; ++i) text += std::to_string(i * 7919) + ",";
  text.resize(2500);
  std::ofstream(dir_ / "report.xml") << text;
  std::vector<std::string> chunks;
  EXPECT_EQ(
      Read((dir_ / "report.xml").string(), PathOrigin::kFoundInFolder, Limits{}, 1000, chunks), "");
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].size(), 1000u);
  EXPECT_EQ(chunks[1].size(), 1000u);
  EXPECT_EQ(chunks[2].size(), 500u);
  EXPECT_EQ(Joined(chunks), text);
  EXPECT_EQ(Joined(chunks), *ReadInput((dir_ / "report.xml").string(), Limits{}));
  chunks.clear();
  EXPECT_EQ(
      Read((dir_ / "report.xml").string(), PathOrigin::kFoundInFolder, Limits{}, 2500, chunks), "");
  EXPECT_EQ(chunks, std::vector<std::string>{text});
  // An empty file: no chunk at all.
  std::ofstream(dir_ / "empty.xml").flush();
  chunks.clear();
  EXPECT_EQ(Read((dir_ / "empty.xml").string(), PathOrigin::kFoundInFolder, Limits{}, 1000, chunks),
            "");
  EXPECT_TRUE(chunks.empty());
}

TEST_F(ReadChunks, RefusesWhatReadInputRefusesWithTheSameWords) {
  std::ofstream(dir_ / "big.xml") << std::string(5001, 'x');
  fs::create_symlink(dir_ / "big.xml", dir_ / "link.xml");
  ASSERT_EQ(::mkfifo((dir_ / "fifo.xml").c_str(), 0600), 0);
  Limits limits;
  limits.max_input_bytes = 5000;
  for (const char* name : {"big.xml", "link.xml", "fifo.xml", "missing.xml"}) {
    const std::string path = (dir_ / name).string();
    std::vector<std::string> chunks;
    const std::string error = Read(path, PathOrigin::kFoundInFolder, limits, 1000, chunks);
    auto whole = ReadInput(path, limits);
    ASSERT_FALSE(whole.ok()) << name;
    EXPECT_EQ(error, whole.error()) << name;
    EXPECT_TRUE(chunks.empty()) << name;  // refused before a byte is handed out
  }
  std::vector<std::string> chunks;
  EXPECT_EQ(Read((dir_ / "big.xml").string(), PathOrigin::kFoundInFolder, limits, 1000, chunks),
            "input larger than the limit of 5000 bytes");
  EXPECT_EQ(Read(dir_.string(), PathOrigin::kNamedByUser, limits, 1000, chunks), "a directory");
  // The user's own link is followed (and the file is within a raised limit).
  limits.max_input_bytes = 5001;
  EXPECT_EQ(Read((dir_ / "link.xml").string(), PathOrigin::kNamedByUser, limits, 1000, chunks), "");
  EXPECT_EQ(Joined(chunks), std::string(5001, 'x'));
}

TEST_F(ReadChunks, APipeIsStoppedOnceItPassesTheLimit) {
  // The reader closes the pipe at the limit: the writer's later writes must fail, not kill us.
  std::signal(SIGPIPE, SIG_IGN);
  const fs::path fifo = dir_ / "pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (std::size_t size : {std::size_t{4999}, std::size_t{12000}}) {
    std::thread writer([&fifo, size] {
      std::ofstream out(fifo);
      for (std::size_t i = 0; i < size; ++i) out.put(static_cast<char>('a' + i % 26));
    });
    Limits limits;
    limits.max_input_bytes = 5000;
    std::vector<std::string> chunks;
    const std::string error = Read(fifo.string(), PathOrigin::kNamedByUser, limits, 1000, chunks);
    writer.join();
    if (size < limits.max_input_bytes) {
      EXPECT_EQ(error, "");
      ASSERT_EQ(chunks.size(), 5u);  // full chunks although a pipe gives what it has per read
      EXPECT_EQ(chunks[4].size(), 999u);
      EXPECT_EQ(Joined(chunks).size(), size);
    } else {
      EXPECT_EQ(error, "input larger than the limit of 5000 bytes");
      EXPECT_LE(Joined(chunks).size(), limits.max_input_bytes);
    }
  }
}

TEST_F(ReadChunks, ReturnsTheSinksErrorAndStops) {
  std::ofstream(dir_ / "r.xml") << std::string(3000, 'r');
  int calls = 0;
  Status s = ReadFileChunks((dir_ / "r.xml").string(), PathOrigin::kFoundInFolder, Limits{}, 1000,
                            [&calls](std::string_view) -> Status {
                              ++calls;
                              return MakeError(ErrorKind::kIo, "store gone");
                            });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error(), "store gone");
  EXPECT_EQ(s.error_kind(), ErrorKind::kIo);
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace dmarc
