// SIGINT / SIGTERM during a bulk transfer (cp, sync): a flag that the transfer engine polls
// (TransferOptions::cancel) so that it starts nothing more, aborts the multipart uploads in flight
// and removes partial downloads, and the command can still print what was done. The handlers are
// installed for the scope's life and reset themselves: a second signal kills as usual.
#pragma once

#include <signal.h>

#include <atomic>

namespace cairn::cli {

class CancelScope {
 public:
  CancelScope();
  ~CancelScope();
  CancelScope(const CancelScope&) = delete;
  CancelScope& operator=(const CancelScope&) = delete;

  // Set by the signal; one per process (a signal handler has no other way to reach it).
  static const std::atomic<bool>& flag();
  static bool cancelled() { return flag().load(); }

 private:
  struct sigaction old_int_ {}, old_term_ {};
};

}  // namespace cairn::cli
