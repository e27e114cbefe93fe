// Spool (memory, then a temporary file) and SpillFile (pieces set aside by several threads).
#include "base/spool.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <thread>
#include <vector>

namespace dmarc {
namespace {

std::string ReadAll(Spool& spool) {
  std::string out;
  char chunk[7];
  for (std::size_t n; (n = spool.Read(chunk, sizeof chunk)) > 0;) out.append(chunk, n);
  return out;
}

TEST(Spool, MoveToFileKeepsTheBytesAndFreesTheMemory) {
  Spool spool(1 << 20);
  ASSERT_TRUE(spool.Add("first part, "));
  EXPECT_EQ(spool.MemoryBytes(), 12u);
  ASSERT_TRUE(spool.MoveToFile());
  EXPECT_EQ(spool.MemoryBytes(), 0u);
  ASSERT_TRUE(spool.Add("second part"));  // goes on in the file
  EXPECT_EQ(spool.MemoryBytes(), 0u);
  EXPECT_EQ(spool.Size(), 23u);
  ASSERT_TRUE(spool.Rewind());
  EXPECT_EQ(ReadAll(spool), "first part, second part");
  EXPECT_FALSE(spool.ReadFailed());
}

std::string TakeBack(SpillFile& file, const SpillFile::Piece& piece, bool* ok = nullptr) {
  std::string out;
  const bool read = file.TakeBack(piece, [&](std::string_view s) { out += s; });
  if (ok) *ok = read;
  return out;
}

// Several threads set pieces aside at once; each comes back whole, in any order.
TEST(SpillFile, PiecesFromSeveralThreadsComeBackWhole) {
  SpillFile file;
  constexpr int kThreads = 4, kPieces = 50;
  std::vector<std::vector<SpillFile::Piece>> pieces(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPieces; ++i) {
        // Sizes across the read-back chunk (64 KiB).
        const std::string text(static_cast<std::size_t>(1 + (t * 7919 + i * 104729) % 150000),
                               static_cast<char>('a' + t));
        auto piece = file.Add(text);
        ASSERT_TRUE(piece.has_value());
        pieces[t].push_back(*piece);
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int i = kPieces - 1; i >= 0; --i) {
    for (int t = 0; t < kThreads; ++t) {
      bool ok = false;
      const std::string back = TakeBack(file, pieces[t][i], &ok);
      EXPECT_TRUE(ok);
      EXPECT_EQ(back.size(), pieces[t][i].size);
      EXPECT_EQ(back.find_first_not_of(static_cast<char>('a' + t)), std::string::npos);
    }
  }
}

// Once nothing waits in it, the file starts over: its space is given back.
TEST(SpillFile, StartsOverOnceEveryPieceIsTakenBack) {
  SpillFile file;
  auto a = file.Add("aaaa");
  auto b = file.Add("bb");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->at, 0u);
  EXPECT_EQ(b->at, 4u);
  EXPECT_EQ(TakeBack(file, *a), "aaaa");
  auto c = file.Add("ccc");  // b still waits: appended after it
  ASSERT_TRUE(c);
  EXPECT_EQ(c->at, 6u);
  EXPECT_EQ(TakeBack(file, *b), "bb");
  EXPECT_EQ(TakeBack(file, *c), "ccc");
  auto d = file.Add("d");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->at, 0u);
  EXPECT_EQ(TakeBack(file, *d), "d");
}

// The bytes of a file descriptor's file, from its start.
std::string FileText(int fd) {
  std::string out;
  char chunk[64];
  for (off_t at = 0;;) {
    const ssize_t n = ::pread(fd, chunk, sizeof chunk, at);
    if (n <= 0) break;
    out.append(chunk, static_cast<std::size_t>(n));
    at += n;
  }
  return out;
}

TEST(SpillFile, SendsPiecesToAnOutputInTheKernelSkippingWhatIsAsked) {
  SpillFile file;
  auto a = file.Add(",{\"first\": 1}");
  auto b = file.Add(std::string(300000, 'x'));  // more than one sendfile may take
  auto c = file.Add(",{\"third\": 3}");
  ASSERT_TRUE(a && b && c);
  FILE* out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(file.SendTo(*a, fileno(out), 1), SpillFile::Sent::kDone);  // without its ","
  EXPECT_EQ(file.SendTo(*b, fileno(out)), SpillFile::Sent::kDone);
  EXPECT_EQ(file.SendTo(*c, fileno(out)), SpillFile::Sent::kDone);
  EXPECT_EQ(FileText(fileno(out)), "{\"first\": 1}" + std::string(300000, 'x') + ",{\"third\": 3}");
  std::fclose(out);
  auto d = file.Add("d");  // every piece was released: the file starts over
  ASSERT_TRUE(d);
  EXPECT_EQ(d->at, 0u);
}

TEST(SpillFile, AnOutputThatRefusesSendfileGetsNothingAndThePieceStays) {
  SpillFile file;
  auto a = file.Add("kept");
  ASSERT_TRUE(a);
  // Opened for appending: sendfile refuses it (EINVAL).
  char path[] = "/tmp/spool-test-XXXXXX";
  const int made = ::mkstemp(path);
  ASSERT_GE(made, 0);
  ::close(made);
  const int out = ::open(path, O_WRONLY | O_APPEND);
  ::unlink(path);
  ASSERT_GE(out, 0);
  EXPECT_EQ(file.SendTo(*a, out), SpillFile::Sent::kUnsupported);
  ::close(out);
  EXPECT_EQ(TakeBack(file, *a), "kept");
  // A descriptor that is not open: the piece is released, the failure said.
  auto b = file.Add("lost");
  ASSERT_TRUE(b);
  EXPECT_EQ(file.SendTo(*b, -1), SpillFile::Sent::kFailed);
}

}  // namespace
}  // namespace dmarc
