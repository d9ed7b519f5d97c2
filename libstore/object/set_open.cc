#include "libstore/object/set_open.h"

#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <set>

#include "libstore/erasure/codec.h"
#include "libstore/format/key_path.h"

namespace cairn {

uint32_t DefaultParity(uint32_t n) {
  if (n <= 1) return 0;
  if (n <= 3) return 1;
  if (n <= 5) return 2;
  if (n <= 7) return 3;
  return 4;
}

Result<std::pair<uint32_t, uint32_t>> ParseEc(const std::string& s) {
  size_t plus = s.find('+');
  auto bad = [&] { return InvalidArgument("--ec must look like K+M (e.g. 4+2), got '" + s + "'"); };
  if (plus == std::string::npos || plus == 0 || plus + 1 == s.size()) return bad();
  for (size_t i = 0; i < s.size(); ++i) {
    if (i != plus && (s[i] < '0' || s[i] > '9')) return bad();
  }
  if (plus > 3 || s.size() - plus - 1 > 3) return bad();
  uint32_t k = uint32_t(std::atoi(s.substr(0, plus).c_str()));
  uint32_t m = uint32_t(std::atoi(s.substr(plus + 1).c_str()));
  if (k < 1) return InvalidArgument("--ec " + s + ": K must be at least 1");
  if (k + m > uint32_t(kMaxShards)) {
    return InvalidArgument("--ec " + s + ": K+M must be at most " + std::to_string(kMaxShards));
  }
  return std::make_pair(k, m);
}

namespace {

std::string RealPath(const std::string& p) {
  char buf[PATH_MAX];
  if (::realpath(p.c_str(), buf) == nullptr) return p;
  return buf;
}

Result<VolumeFormat> ReadFormat(Volume& v) {
  ASSIGN_OR_RETURN(std::string raw, v.ReadFile(kFormatPath, kMaxFormatFileSize));
  auto f = VolumeFormat::Decode(raw);
  if (!f.ok()) return f.status().WithContext(v.Describe() + "/" + kFormatPath);
  return f;
}

}  // namespace

Status InitSet(const std::vector<std::string>& dirs, const SetParams& p, bool force) {
  const uint32_t n = uint32_t(dirs.size());
  if (n == 0) return InvalidArgument("init needs at least one directory");
  if (p.k < 1 || p.k + p.m != n) {
    return InvalidArgument("--ec " + std::to_string(p.k) + "+" + std::to_string(p.m) + " needs " +
                           std::to_string(p.k + p.m) + " directories, got " + std::to_string(n));
  }
  if (n > uint32_t(kMaxShards)) return InvalidArgument("at most 32 directories per set");
  if (p.block_size < 4096 || p.block_size > (64u << 20) || p.block_size % 64 != 0) {
    return InvalidArgument("--block-size must be a multiple of 64 between 4 KiB and 64 MiB");
  }
  std::vector<std::unique_ptr<Volume>> vols;
  std::vector<std::string> paths;
  std::set<std::string> seen;
  for (const auto& d : dirs) {
    if (d.empty()) return InvalidArgument("empty directory name");
    auto root = NewLocalVolume("/");
    std::string abs = d;
    if (abs[0] != '/') {
      char cwd[PATH_MAX];
      if (::getcwd(cwd, sizeof(cwd)) == nullptr) return PosixError("getcwd", errno);
      abs = std::string(cwd) + "/" + d;
    }
    // Create missing directories (mkdir -p).
    std::string rel = abs.substr(1);
    while (!rel.empty() && rel.back() == '/') rel.pop_back();
    if (!rel.empty()) {
      Status s = root->MakeDirs(rel);
      if (!s.ok()) return s.WithContext(d);
    }
    std::string real = RealPath(abs);
    if (!seen.insert(real).second) return InvalidArgument(d + ": directory given twice");
    auto v = NewLocalVolume(real);
    ASSIGN_OR_RETURN(auto entries, v->ListDir(""));
    auto fmt = ReadFormat(*v);
    if (!entries.empty() && !force) {
      if (fmt.ok()) {
        return InvalidArgument(d + ": already belongs to a volume set (use --force to reformat)");
      }
      return InvalidArgument(d + ": directory is not empty (use --force to format it anyway)");
    }
    if (force && !entries.empty()) {
      // Remove what a previous cairn format owned: its system directory and its buckets.
      for (const auto& e : entries) {
        bool owned = e.name == kSysDir ||
                     (e.is_dir && ValidateBucketName(e.name).ok() &&
                      v->Stat(e.name + "/bucket.meta").ok());
        if (owned) RETURN_IF_ERROR(v->RemoveAll(e.name));
      }
    }
    paths.push_back(real);
    vols.push_back(std::move(v));
  }
  VolumeFormat f;
  f.set_id = Uuid::Random();
  f.k = p.k;
  f.m = p.m;
  f.block_size = p.block_size;
  f.inline_limit = p.inline_limit;
  for (uint32_t i = 0; i < n; ++i) f.members.push_back({Uuid::Random(), paths[i]});
  for (uint32_t i = 0; i < n; ++i) {
    Volume& v = *vols[i];
    f.position = i;
    f.volume_id = f.members[i].volume_id;
    RETURN_IF_ERROR(v.MakeDirs(kTmpDir));
    RETURN_IF_ERROR(v.MakeDirs(kMrfDir));
    RETURN_IF_ERROR(v.MakeDirs(std::string(kSysDir) + "/locks"));
    std::string tmp = std::string(kTmpDir) + "/format.new";
    RETURN_IF_ERROR(v.WriteFile(tmp, f.Encode(), true));
    RETURN_IF_ERROR(v.Rename(tmp, kFormatPath));
    RETURN_IF_ERROR(v.SyncDir(kSysDir));
    RETURN_IF_ERROR(v.SyncDir(""));
  }
  return Status::Ok();
}

Result<OpenedSet> OpenSet(const std::vector<std::string>& dirs) {
  if (dirs.empty()) {
    return InvalidArgument("no volume set given (use --set DIR or CAIRN_SET)");
  }
  OpenedSet out;
  // Formats of the directories given, to find the set and prefer the paths the user named.
  std::vector<std::pair<std::string, VolumeFormat>> given;
  Status first_error;
  for (const auto& d : dirs) {
    std::string real = RealPath(d);
    auto v = NewLocalVolume(real);
    auto f = ReadFormat(*v);
    if (f.ok()) {
      given.emplace_back(real, std::move(f).value());
    } else if (first_error.ok()) {
      first_error = f.status().code() == Code::kNotFound
                        ? NotFound(d + " is not a cairn volume set member (no .cairn/format)")
                        : f.status();
    }
  }
  if (given.empty()) return first_error;
  const VolumeFormat& ref = given.front().second;
  const uint32_t n = ref.k + ref.m;
  std::vector<Volume*> vols(n, nullptr);
  out.member_paths.resize(n);
  for (const auto& [path, f] : given) {
    if (f.set_id != ref.set_id) {
      out.warnings.push_back(path + " belongs to another volume set: ignored");
    }
  }
  for (uint32_t i = 0; i < n; ++i) {
    std::string path = ref.members[i].path;
    for (const auto& [gp, f] : given) {
      if (f.set_id == ref.set_id && f.position == i) path = gp;
    }
    out.member_paths[i] = path;
    auto v = NewLocalVolume(path);
    auto f = ReadFormat(*v);
    if (!f.ok()) {
      out.warnings.push_back("member " + std::to_string(i + 1) + " (" + path + ") is offline: " +
                             f.status().message());
      continue;
    }
    if (f->set_id != ref.set_id || f->volume_id != ref.members[i].volume_id || f->k != ref.k ||
        f->m != ref.m || f->block_size != ref.block_size) {
      out.warnings.push_back("member " + std::to_string(i + 1) + " (" + path +
                             ") belongs to another set or position: treated as offline");
      continue;
    }
    // Make sure the working directories exist (they may have been removed by hand).
    v->MakeDirs(kTmpDir).IgnoreError();
    v->MakeDirs(kMrfDir).IgnoreError();
    vols[i] = v.get();
    out.owned.push_back(std::move(v));
  }
  std::string lock_dir;
  for (uint32_t i = 0; i < n; ++i) {
    if (vols[i] == nullptr) continue;
    if (vols[i]->MakeDirs(std::string(kSysDir) + "/locks").ok()) {
      lock_dir = vols[i]->Describe() + "/" + kSysDir + "/locks";
    }
    break;
  }
  SetParams p;
  p.k = ref.k;
  p.m = ref.m;
  p.block_size = ref.block_size;
  p.inline_limit = ref.inline_limit;
  auto set = ErasureSet::Open(vols, p, lock_dir);
  if (!set.ok()) {
    std::string why = set.status().message();
    for (const auto& w : out.warnings) why += "; " + w;
    return Status(set.status().code(), "volume set below quorum: " + why);
  }
  out.set = std::move(set).value();
  out.format = ref;
  return out;
}

}  // namespace cairn
