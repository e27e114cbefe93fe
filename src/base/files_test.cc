#include "base/files.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace dmarc
