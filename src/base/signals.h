// The stop signals (SIGINT, SIGTERM, SIGHUP), taken on a thread of their own. Every other thread
// keeps them blocked, so that a signal never cuts a system call of theirs short: libetpan and
// OpenSSL wait for a mailbox's answer in poll(2), which a handler interrupts with EINTR whatever
// SA_RESTART says, and libetpan takes EINTR for a lost connection. A Ctrl-C while a batch's mails
// were being moved used to fail the move and leave them in the inbox.
#pragma once

#include <spawn.h>

namespace dmarc {

using SignalHandler = void (*)(int);

// Blocks the stop signals and starts the thread that waits for them. Call first in main(), before
// any other thread starts (a thread inherits its creator's blocked signals).
void RouteStopSignalsToOneThread();

// `handler` runs on the signal thread when `sig` (one of the stop signals) arrives; it may do
// more than an asynchronous handler could, but should return soon. SIGINT or SIGTERM again
// within 250 ms is taken as the same request sent twice (as `timeout` does), not handled again.
// nullptr: the signal's default action, ending the process. Without RouteStopSignalsToOneThread()
// (a test program), the handler is installed as an ordinary one.
void OnStopSignal(int sig, SignalHandler handler);

// Ends the process by `sig` as its default action does (the exit status a shell shows as
// killed by it), from any thread.
[[noreturn]] void DieBySignal(int sig);

// For a child started with posix_spawn: no blocked signals, and the default action of the stop
// signals and SIGPIPE (which this process ignores), as a program expects to start with.
void ChildSignalDefaults(posix_spawnattr_t& attr);

}  // namespace dmarc
