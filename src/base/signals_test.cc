#include "base/signals.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <thread>

extern char** environ;

namespace dmarc {
namespace {

std::atomic<int> g_seen{0};
std::atomic<bool> g_on_main{true};
pthread_t g_main;

extern "C" void Seen(int sig) {
  g_on_main = pthread_equal(pthread_self(), g_main) != 0;
  g_seen = sig;
}

// A signal that arrives while this thread waits in poll(2) is taken elsewhere: the wait runs to
// its end (a mailbox's answer is still read) and the handler ran on the signal thread.
TEST(Signals, AStopSignalIsTakenOnItsOwnThreadAndCutsNoWaitShort) {
  g_main = pthread_self();
  RouteStopSignalsToOneThread();
  OnStopSignal(SIGTERM, Seen);
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::thread sender([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ::kill(::getpid(), SIGTERM);
  });
  pollfd p{fds[0], POLLIN, 0};
  errno = 0;
  const int n = ::poll(&p, 1, 600);
  const int error = errno;
  sender.join();
  EXPECT_EQ(n, 0) << "poll was cut short: " << std::strerror(error);
  EXPECT_EQ(g_seen.load(), SIGTERM);
  EXPECT_FALSE(g_on_main.load());
  OnStopSignal(SIGTERM, nullptr);
  ::close(fds[0]);
  ::close(fds[1]);
}

std::atomic<int> g_count{0};
extern "C" void Count(int) { ++g_count; }

// Sends `sig` once it was handled `n` times before (not merged with the one before by the kernel).
void SendAfter(int sig, int n) {
  while (g_count < n) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ::kill(::getpid(), sig);
}

// Waits up to 1 s for the count to reach n.
int CountReaching(int n) {
  for (int i = 0; i < 100 && g_count < n; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return g_count;
}

// `timeout` signals its command, then its process group: the same stop signal twice at once is
// one request (a second one would mean "exit now"); sent again later, it is a new one. A SIGHUP
// (reload) is never dropped.
TEST(Signals, TheSameStopSignalTwiceAtOnceIsOneRequest) {
  RouteStopSignalsToOneThread();
  OnStopSignal(SIGTERM, Count);
  OnStopSignal(SIGHUP, Count);
  g_count = 0;
  ::kill(::getpid(), SIGTERM);
  SendAfter(SIGTERM, 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(g_count.load(), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  ::kill(::getpid(), SIGTERM);
  EXPECT_EQ(CountReaching(2), 2);

  ::kill(::getpid(), SIGHUP);
  SendAfter(SIGHUP, 3);
  EXPECT_EQ(CountReaching(4), 4);
  OnStopSignal(SIGTERM, nullptr);
  OnStopSignal(SIGHUP, nullptr);
}

// A stop signal without a handler ends the process as its default action would.
TEST(Signals, AStopSignalWithoutAHandlerEndsTheProcessByIt) {
  // The child runs this test alone from the start: a fork would lack the signal thread.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        RouteStopSignalsToOneThread();
        ::kill(::getpid(), SIGINT);
        ::sleep(5);
      },
      ::testing::KilledBySignal(SIGINT), "");
}

// A child does not inherit the blocked signals: a program it runs stops on SIGTERM.
TEST(Signals, AChildStartsWithTheDefaultActions) {
  RouteStopSignalsToOneThread();
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  ChildSignalDefaults(attr);
  const char* argv[] = {"/bin/sh", "-c", "kill -TERM $$; sleep 5; exit 3", nullptr};
  pid_t pid = -1;
  ASSERT_EQ(posix_spawn(&pid, argv[0], nullptr, &attr, const_cast<char**>(argv), environ), 0);
  posix_spawnattr_destroy(&attr);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "exit status " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
}

}  // namespace
}  // namespace dmarc
