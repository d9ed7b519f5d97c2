#include "cli/cancel.h"

namespace cairn::cli {
namespace {

std::atomic<bool> g_cancel{false};
void OnCancel(int) { g_cancel.store(true); }

}  // namespace

CancelScope::CancelScope() {
  g_cancel = false;
  struct sigaction sa {};
  sa.sa_handler = OnCancel;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, &old_int_);
  ::sigaction(SIGTERM, &sa, &old_term_);
}

CancelScope::~CancelScope() {
  ::sigaction(SIGINT, &old_int_, nullptr);
  ::sigaction(SIGTERM, &old_term_, nullptr);
}

const std::atomic<bool>& CancelScope::flag() { return g_cancel; }

}  // namespace cairn::cli
