// HealQueued: the background drain of the MRF journal (heal.h).
#include <map>
#include <memory>

#include "libstore/common/rate_limiter.h"
#include "libstore/object/heal.h"

namespace cairn {

Result<HealQueuedSummary> HealQueued(ErasureSet& set, const HealQueuedOptions& o) {
  HealQueuedSummary sum;
  ASSIGN_OR_RETURN(std::vector<MrfEntry> entries, set.ListMrf());
  // Entries come sorted by id, and ids start with their time: oldest first. One heal per object.
  std::vector<std::pair<std::string, std::string>> order;
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> by_key;
  for (const auto& e : entries) {
    auto& ids = by_key[{e.bucket, e.key}];
    if (ids.empty()) order.emplace_back(e.bucket, e.key);
    ids.push_back(e.id);
    ++sum.entries;
  }
  sum.objects = order.size();
  std::unique_ptr<RateLimiter> limiter;
  if (o.max_rate > 0) limiter = std::make_unique<RateLimiter>(o.max_rate);
  CheckOptions co;
  co.deep = true;
  co.limiter = limiter.get();
  for (const auto& bk : order) {
    const std::vector<std::string>& ids = by_key[bk];
    if (o.stop != nullptr && o.stop->load()) {
      sum.stopped = true;
      sum.left += ids.size();
      continue;
    }
    auto h = set.HealObject(bk.first, bk.second, co);
    bool clear = false;
    if (!h.ok()) {
      // Gone (or its bucket is): nothing left to heal.
      clear = h.status().code() == Code::kNotFound || h.status().code() == Code::kBucketNotFound;
    } else {
      sum.bytes_read += h->bytes_read;
      sum.bytes_written += h->bytes_written;
      if (h->action == ObjectHealth::Action::kHealed) ++sum.healed;
      clear = h->after == Health::kHealthy && h->action != ObjectHealth::Action::kChanged;
    }
    if (clear) {
      for (const auto& id : ids) set.RemoveMrf(id);
      sum.cleared += ids.size();
    } else {
      sum.left += ids.size();
    }
  }
  return sum;
}

}  // namespace cairn
