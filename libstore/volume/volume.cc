#include "libstore/volume/volume.h"

namespace cairn {

Status ValidateRelPath(std::string_view path) {
  if (path.empty()) return InvalidArgument("empty path");
  if (path.size() > kMaxRelPathLen) return InvalidArgument("path longer than 4096 bytes");
  if (path.front() == '/') return InvalidArgument("absolute path not allowed: " + std::string(path));
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view comp = path.substr(start, end - start);
    if (comp.empty() || comp == "." || comp == "..") {
      return InvalidArgument("path component empty, '.' or '..' not allowed: " + std::string(path));
    }
    if (comp.size() > 255) return InvalidArgument("path component longer than 255 bytes");
    if (comp.find('\0') != std::string_view::npos) return InvalidArgument("path contains NUL");
    start = end + 1;
  }
  return Status::Ok();
}

Result<std::string> Volume::ReadFile(const std::string& path, size_t max_size) {
  ASSIGN_OR_RETURN(auto file, NewReadableFile(path));
  ASSIGN_OR_RETURN(uint64_t size, file->Size());
  if (size > max_size) {
    return Corruption(Describe() + "/" + path + ": file larger than " + std::to_string(max_size));
  }
  std::string out(size, '\0');
  ASSIGN_OR_RETURN(size_t n, file->ReadAt(0, out.data(), size));
  out.resize(n);
  return out;
}

Status Volume::WriteFile(const std::string& path, std::string_view data, bool sync) {
  ASSIGN_OR_RETURN(auto file, NewWritableFile(path));
  RETURN_IF_ERROR(file->Append(data.data(), data.size()));
  if (sync) RETURN_IF_ERROR(file->Sync());
  return file->Close();
}

Status Volume::RemoveAll(const std::string& path) {
  RETURN_IF_ERROR(ValidateRelPath(path));  // never the root itself
  auto st = Stat(path);
  if (!st.ok()) return st.status().code() == Code::kNotFound ? Status::Ok() : st.status();
  if (!st->is_dir) {
    Status s = Remove(path);
    return s.code() == Code::kNotFound ? Status::Ok() : s;
  }
  ASSIGN_OR_RETURN(auto entries, ListDir(path));
  for (const auto& e : entries) RETURN_IF_ERROR(RemoveAll(path + "/" + e.name));
  Status s = RemoveDir(path);
  return s.code() == Code::kNotFound ? Status::Ok() : s;
}

}  // namespace cairn
