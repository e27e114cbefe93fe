#include "base/files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

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

}  // namespace
}  // namespace dmarc
