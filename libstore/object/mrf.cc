// The MRF ("most recently failed") journal: one small file per partial write or degraded read in
// .cairn/mrf/ of every volume that took part, so the list survives restarts and the loss of a
// volume. Heal drains it; nothing here drops an entry. Byte layout in docs/format.md.
#include <algorithm>
#include <map>

#include "libstore/format/mrf_entry.h"
#include "libstore/format/volume_format.h"
#include "libstore/object/erasure_set.h"
#include "libstore/object/erasure_set_internal.h"

namespace cairn {

void ErasureSet::RecordMrf(const std::string& bucket, const std::string& key, const Uuid& version,
                           const std::vector<uint32_t>& positions) {
  MrfEntry e;
  e.bucket = bucket;
  e.key = key;
  e.version_id = version;
  e.positions = positions;
  e.time_ns = NowNs();
  // Time first so a directory listing sorts oldest first.
  char ts[32];
  std::snprintf(ts, sizeof(ts), "%020lld", static_cast<long long>(e.time_ns));
  e.id = std::string(ts) + "-" + Uuid::Random().Hex();
  auto bytes = e.Encode();
  if (!bytes.ok()) return;  // a bucket or key the store itself refuses: nothing to heal
  for (Volume* v : volumes_) {
    if (v == nullptr) continue;
    // Best effort per volume: the entry lands, durably, on every volume that can take it.
    ReplaceFile(*v, std::string(kMrfDir) + "/" + e.id, *bytes, kTmpDir).IgnoreError();
  }
}

Result<std::vector<MrfEntry>> ErasureSet::ListMrf() {
  std::map<std::string, MrfEntry> merged;
  for (Volume* v : volumes_) {
    if (v == nullptr) continue;
    auto entries = v->ListDir(kMrfDir);
    if (!entries.ok()) continue;
    for (const auto& d : *entries) {
      if (merged.count(d.name)) continue;
      auto raw = v->ReadFile(std::string(kMrfDir) + "/" + d.name, kMaxMrfFileSize);
      if (!raw.ok()) continue;
      auto e = MrfEntry::Decode(*raw);
      if (!e.ok()) continue;
      e->id = d.name;
      merged.emplace(d.name, std::move(e).value());
    }
  }
  std::vector<MrfEntry> out;
  for (auto& [id, e] : merged) out.push_back(std::move(e));
  return out;
}

void ErasureSet::RemoveMrf(const std::string& id) {
  for (Volume* v : volumes_) {
    if (v != nullptr) v->Remove(std::string(kMrfDir) + "/" + id).IgnoreError();
  }
}

}  // namespace cairn
