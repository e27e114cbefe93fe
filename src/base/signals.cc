#include "base/signals.h"

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <thread>

namespace dmarc {

namespace {

constexpr int kStopSignals[] = {SIGINT, SIGTERM, SIGHUP};
constexpr int kCount = sizeof kStopSignals / sizeof kStopSignals[0];

// SIGINT or SIGTERM again within this time is the same request, sent twice: `timeout` signals its
// command and then its whole process group, and a second stop signal means "exit at once". (A
// SIGHUP is always handled: the configuration may have changed again in between.)
constexpr std::chrono::milliseconds kSameRequest{250};

std::atomic<SignalHandler> g_handlers[kCount];
std::atomic<bool> g_routed{false};

int IndexOf(int sig) {
  for (int i = 0; i < kCount; ++i) {
    if (kStopSignals[i] == sig) return i;
  }
  return -1;
}

sigset_t StopSignalSet() {
  sigset_t set;
  sigemptyset(&set);
  for (const int sig : kStopSignals) sigaddset(&set, sig);
  return set;
}

void WaitForSignals(sigset_t set) {
  int last = 0;
  std::chrono::steady_clock::time_point last_at;
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    const auto now = std::chrono::steady_clock::now();
    if (sig != SIGHUP && sig == last && now - last_at < kSameRequest) continue;
    last = sig;
    last_at = now;
    const int i = IndexOf(sig);
    const SignalHandler handler = i < 0 ? nullptr : g_handlers[i].load();
    if (handler) {
      handler(sig);
    } else {
      DieBySignal(sig);
    }
  }
}

}  // namespace

void RouteStopSignalsToOneThread() {
  if (g_routed.exchange(true)) return;
  const sigset_t set = StopSignalSet();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread(WaitForSignals, set).detach();
}

void OnStopSignal(int sig, SignalHandler handler) {
  const int i = IndexOf(sig);
  if (i < 0) return;
  g_handlers[i] = handler;
  if (!g_routed) std::signal(sig, handler ? handler : SIG_DFL);
}

void DieBySignal(int sig) {
  std::signal(sig, SIG_DFL);
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, sig);
  pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
  // raise() sends to this thread, where the signal is no longer blocked.
  std::raise(sig);
  ::_exit(128 + sig);  // not reached
}

void ChildSignalDefaults(posix_spawnattr_t& attr) {
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t defaults = StopSignalSet();
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  short flags = 0;
  posix_spawnattr_getflags(&attr, &flags);
  posix_spawnattr_setflags(
      &attr, static_cast<short>(flags | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF));
}

}  // namespace dmarc
