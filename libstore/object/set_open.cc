#include "libstore/object/set_open.h"

#include <unistd.h>

#include <algorithm>
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

// Creates d and any missing parents (mkdir -p); a relative d is taken from the current directory.
// Returns the absolute path.
Result<std::string> MakeDirsAll(const std::string& d) {
  std::string abs = d;
  if (abs[0] != '/') {
    char cwd[PATH_MAX];
    if (::getcwd(cwd, sizeof(cwd)) == nullptr) return PosixError("getcwd", errno);
    abs = std::string(cwd) + "/" + d;
  }
  std::string rel = abs.substr(1);
  while (!rel.empty() && rel.back() == '/') rel.pop_back();
  if (!rel.empty()) {
    Status s = NewLocalVolume("/")->MakeDirs(rel);
    if (!s.ok()) return s.WithContext(d);
  }
  return abs;
}

// Makes v member `position` of the set that f describes. The format goes to a temp file first and
// is renamed into place, so a crash leaves either no format or a complete one, never half of one.
Status WriteMemberFormat(Volume& v, VolumeFormat f, uint32_t position) {
  f.position = position;
  f.volume_id = f.members[position].volume_id;
  RETURN_IF_ERROR(v.MakeDirs(kTmpDir));
  RETURN_IF_ERROR(v.MakeDirs(kMrfDir));
  RETURN_IF_ERROR(v.MakeDirs(std::string(kSysDir) + "/locks"));
  RETURN_IF_ERROR(ReplaceFile(v, kFormatPath, f.Encode(), kTmpDir));
  // The directories just made (.cairn itself among them) must be durable too.
  RETURN_IF_ERROR(v.SyncDir(kSysDir));
  return v.SyncDir("");
}

// Whether f is a valid format of member `position` of the set whose reference format is ref.
bool IsMemberFormat(const VolumeFormat& f, const VolumeFormat& ref, uint32_t position) {
  return f.set_id == ref.set_id && f.volume_id == ref.members[position].volume_id && f.k == ref.k &&
         f.m == ref.m && f.block_size == ref.block_size;
}

// The set that some of its members' directories name.
struct FoundSet {
  VolumeFormat ref;                       // the first valid format among the directories given
  std::vector<std::string> member_paths;  // by position: where each member is looked for
  std::vector<std::string> foreign;       // directories given that belong to another set
};

// Reads the formats of dirs. A member's path is the directory the user gave for it when one of
// dirs holds that position's format, else the path recorded when the set was formatted: a user who
// remounted a disk elsewhere names it, and the rest are found where they were.
Result<FoundSet> FindSet(const std::vector<std::string>& dirs) {
  if (dirs.empty()) {
    return InvalidArgument("no volume set given (use --set DIR or CAIRN_SET)");
  }
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
  FoundSet out;
  out.ref = given.front().second;
  for (const auto& [path, f] : given) {
    if (f.set_id != out.ref.set_id) out.foreign.push_back(path);
  }
  const uint32_t n = out.ref.k + out.ref.m;
  out.member_paths.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    out.member_paths[i] = out.ref.members[i].path;
    for (const auto& [gp, f] : given) {
      if (f.set_id == out.ref.set_id && f.position == i) out.member_paths[i] = gp;
    }
  }
  return out;
}

std::string MemberName(uint32_t position) { return "member " + std::to_string(position + 1); }

// Why a directory with a valid format cannot stand in for member `position`.
std::string ForeignFormatWhy(const VolumeFormat& f, const VolumeFormat& ref, uint32_t position) {
  if (f.set_id != ref.set_id) {
    return "belongs to another volume set (set " + f.set_id.Hex().substr(0, 8) + ")";
  }
  for (uint32_t j = 0; j < ref.members.size(); ++j) {
    if (j != position && ref.members[j].volume_id == f.volume_id) {
      return "holds " + MemberName(j) + "'s identity of this set, not " + MemberName(position) +
             "'s";
    }
  }
  if (f.volume_id != ref.members[position].volume_id) {
    return "holds a volume id this set does not know, not " + MemberName(position) + "'s";
  }
  return "has " + MemberName(position) + "'s identity but another layout (" + std::to_string(f.k) +
         "+" + std::to_string(f.m) + ", " + std::to_string(f.block_size) +
         "-byte blocks; the set is " + std::to_string(ref.k) + "+" + std::to_string(ref.m) + ", " +
         std::to_string(ref.block_size) + "-byte blocks)";
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
    ASSIGN_OR_RETURN(std::string abs, MakeDirsAll(d));
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
                     (e.is_dir() && ValidateBucketName(e.name).ok() &&
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
  for (uint32_t i = 0; i < n; ++i) RETURN_IF_ERROR(WriteMemberFormat(*vols[i], f, i));
  return Status::Ok();
}

Result<std::vector<MemberRepair>> PrepareMembers(const std::vector<std::string>& dirs,
                                                 bool dry_run) {
  ASSIGN_OR_RETURN(FoundSet found, FindSet(dirs));
  const VolumeFormat& ref = found.ref;
  const uint32_t n = ref.k + ref.m;
  // Look at every member before touching any, so a refusal elsewhere or a missing quorum leaves
  // every directory as it was.
  std::vector<MemberRepair> out;
  std::vector<size_t> replacements;  // into out
  uint32_t valid = 0;
  for (uint32_t i = 0; i < n; ++i) {
    MemberRepair r;
    r.position = i;
    r.path = found.member_paths[i];
    auto refuse = [&](std::string why) {
      r.action = "refused";
      r.why = std::move(why);
      out.push_back(r);
    };
    auto replace = [&] {
      r.action = dry_run ? "would-format" : "formatted";
      replacements.push_back(out.size());
      out.push_back(r);
    };
    // Resolved, so that a symlink to a directory counts as that directory.
    auto v = NewLocalVolume(RealPath(r.path));
    auto st = v->Stat("");
    if (!st.ok() && st.status().code() == Code::kNotFound) {
      // Not created here: a disk that failed to mount would otherwise be replaced by a directory
      // on whatever file system holds the mount point.
      r.action = "missing";
      r.why = "does not exist; create it (on the replacement disk) and run heal again";
      out.push_back(r);
      continue;
    }
    if (!st.ok()) {
      refuse("cannot be examined: " + st.status().message());
      continue;
    }
    if (!st->is_dir()) {
      refuse("exists but is not a directory");
      continue;
    }
    auto f = ReadFormat(*v);
    if (f.ok()) {
      if (IsMemberFormat(*f, ref, i)) {
        ++valid;
      } else {
        refuse(ForeignFormatWhy(*f, ref, i));
      }
      continue;
    }
    auto entries = v->ListDir("");
    if (!entries.ok()) {
      refuse("cannot be listed: " + entries.status().message());
      continue;
    }
    // A freshly made ext4 file system holds lost+found; it is nobody's data.
    bool empty = true;
    for (const auto& e : *entries) {
      if (!(e.is_dir() && e.name == "lost+found")) empty = false;
    }
    if (empty) {
      replace();
    } else {
      refuse("not empty and has no valid cairn format file; empty it to use it as a replacement");
    }
  }
  // A replacement's identity comes from the other members' format files: only a read quorum of
  // them is enough to trust that they describe the set as it is.
  const uint32_t quorum = std::max(ref.k, n - WriteQuorum(ref.k, ref.m) + 1);
  if (valid < quorum) {
    return QuorumError("found " + std::to_string(valid) + " member(s) of the volume set with a " +
                       "valid format file, need at least " + std::to_string(quorum) +
                       " (the read quorum of " + std::to_string(ref.k) + "+" +
                       std::to_string(ref.m) + ") to restore the others; nothing was changed");
  }
  if (dry_run) return out;
  for (size_t index : replacements) {
    const MemberRepair& r = out[index];
    std::string where = MemberName(r.position) + " (" + r.path + ")";
    auto v = NewLocalVolume(RealPath(r.path));
    Status s = WriteMemberFormat(*v, ref, r.position);
    if (!s.ok()) return s.WithContext(where);
  }
  return out;
}

Result<OpenedSet> OpenSet(const std::vector<std::string>& dirs) {
  ASSIGN_OR_RETURN(FoundSet found, FindSet(dirs));
  OpenedSet out;
  const VolumeFormat& ref = found.ref;
  const uint32_t n = ref.k + ref.m;
  std::vector<Volume*> vols(n, nullptr);
  out.member_paths = found.member_paths;
  for (const auto& path : found.foreign) {
    out.warnings.push_back(path + " belongs to another volume set: ignored");
  }
  for (uint32_t i = 0; i < n; ++i) {
    const std::string& path = out.member_paths[i];
    auto v = NewLocalVolume(path);
    auto f = ReadFormat(*v);
    if (!f.ok()) {
      out.warnings.push_back("member " + std::to_string(i + 1) + " (" + path + ") is offline: " +
                             f.status().message());
      continue;
    }
    if (!IsMemberFormat(*f, ref, i)) {
      out.warnings.push_back("member " + std::to_string(i + 1) + " (" + path +
                             ") belongs to another set or position: treated as offline");
      continue;
    }
    // Make sure the working directories exist (they may have been removed by hand). Every PUT
    // renames out of the temp directory: the volume keeps it open.
    v->MakeDirs(kTmpDir).IgnoreError();
    v->MakeDirs(kMrfDir).IgnoreError();
    v->PinDir(kTmpDir);
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
