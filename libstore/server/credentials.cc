#include "libstore/server/credentials.h"

#include <sys/random.h>
#include <sys/stat.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <unordered_map>

namespace cairn::server {

namespace {

bool Printable(std::string_view s) {
  for (char c : s) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

Status CheckUser(const s3::Credential& c) {
  const std::string& k = c.access_key;
  if (k.size() < 3 || k.size() > 128 || !Printable(k) ||
      k.find_first_of("/,=") != std::string::npos) {
    return InvalidArgument("access key '" + k +
                           "' must be 3..128 printable characters without '/', ',' or '='");
  }
  if (c.secret_key.size() < 8 || c.secret_key.size() > 256 || !Printable(c.secret_key)) {
    return InvalidArgument("the secret of '" + k + "' must be 8..256 printable characters");
  }
  return Status::Ok();
}

// Fills out with n characters of alphabet, uniformly (rejection sampling over random bytes).
Status RandomString(std::string_view alphabet, size_t n, std::string* out) {
  const unsigned limit = 256 - 256 % alphabet.size();
  out->clear();
  unsigned char buf[64];
  while (out->size() < n) {
    const ssize_t got = ::getrandom(buf, sizeof(buf), 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      return PosixError("getrandom", errno);
    }
    for (ssize_t i = 0; i < got && out->size() < n; ++i) {
      if (buf[i] < limit) out->push_back(alphabet[buf[i] % alphabet.size()]);
    }
  }
  return Status::Ok();
}

}  // namespace

Status ParseUsers(std::string_view text, std::string_view name, s3::CredentialTable* out) {
  std::unordered_map<std::string, size_t> first_line;
  size_t line_no = 0, users = 0;
  while (!text.empty()) {
    ++line_no;
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::vector<std::string_view> fields;
    size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      const size_t start = i;
      while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
      if (i > start) fields.push_back(line.substr(start, i - start));
    }
    if (fields.empty() || fields[0].front() == '#') continue;
    const std::string where = std::string(name) + ":" + std::to_string(line_no) + ": ";
    if (fields.size() < 2 || fields.size() > 3) {
      return InvalidArgument(where + "expected 'ACCESS SECRET [read-only]', got " +
                             std::to_string(fields.size()) + " field" +
                             (fields.size() == 1 ? "" : "s"));
    }
    s3::Credential c{std::string(fields[0]), std::string(fields[1]), false};
    if (fields.size() == 3) {
      if (fields[2] != "read-only") {
        return InvalidArgument(where + "unknown third field '" + std::string(fields[2]) +
                               "' (only 'read-only' may follow the secret)");
      }
      c.read_only = true;
    }
    Status st = CheckUser(c);
    if (!st.ok()) return InvalidArgument(where + st.message());
    auto [it, fresh] = first_line.emplace(c.access_key, line_no);
    if (!fresh) {
      return InvalidArgument(where + "access key '" + c.access_key + "' already given on line " +
                             std::to_string(it->second));
    }
    if (out->Find(c.access_key) != nullptr) {
      return InvalidArgument(where + "access key '" + c.access_key +
                             "' is already given by --access-key or CAIRN_ACCESS_KEY");
    }
    st = out->Add(std::move(c));
    if (!st.ok()) return InvalidArgument(where + st.message());
    ++users;
  }
  if (users == 0) return InvalidArgument(std::string(name) + ": names no user");
  return Status::Ok();
}

Status LoadUsersFile(const std::string& path, s3::CredentialTable* out,
                     std::vector<std::string>* warnings) {
  struct stat sb;
  if (::stat(path.c_str(), &sb) != 0) return PosixError("--users " + path, errno);
  if (!S_ISREG(sb.st_mode)) return InvalidArgument("--users " + path + ": not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) return PosixError("--users " + path, errno);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return IOError("--users " + path + ": read failed");
  if (sb.st_mode & S_IROTH) {
    warnings->push_back("the users file " + path +
                        " is readable by every user of this machine and holds secrets in clear "
                        "text (chmod 600 " +
                        path + ")");
  }
  return ParseUsers(text.str(), path, out);
}

Result<s3::Credential> RandomCredential() {
  s3::Credential c;
  RETURN_IF_ERROR(RandomString("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 20, &c.access_key));
  RETURN_IF_ERROR(RandomString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 40,
                               &c.secret_key));
  return c;
}

Result<std::unique_ptr<ResolvedCredentials>> ResolveCredentials(const CredentialSources& src) {
  auto r = std::make_unique<ResolvedCredentials>();
  auto add_pair = [&](const std::string& key, const std::string& secret,
                      const std::string& from) -> Status {
    s3::Credential c{key, secret, false};
    Status st = CheckUser(c);
    if (!st.ok()) return InvalidArgument(from + ": " + st.message());
    r->from = from;
    return r->users.Add(std::move(c));
  };
  if (src.access_key.empty() != src.secret_key.empty()) {
    return InvalidArgument(src.access_key.empty() ? "--secret-key needs --access-key"
                                                  : "--access-key needs --secret-key");
  }
  const std::string env_key = src.env_access_key.value_or("");
  const std::string env_secret = src.env_secret_key.value_or("");
  if (!src.access_key.empty()) {
    RETURN_IF_ERROR(add_pair(src.access_key, src.secret_key, "--access-key"));
  } else if (env_key.empty() != env_secret.empty()) {
    return InvalidArgument(env_key.empty() ? "CAIRN_SECRET_KEY is set but CAIRN_ACCESS_KEY is not"
                                           : "CAIRN_ACCESS_KEY is set but CAIRN_SECRET_KEY is not");
  } else if (!env_key.empty()) {
    RETURN_IF_ERROR(add_pair(env_key, env_secret, "CAIRN_ACCESS_KEY"));
  }
  if (!src.users_file.empty()) {
    RETURN_IF_ERROR(LoadUsersFile(src.users_file, &r->users, &r->warnings));
    r->from = r->from.empty() ? "--users " + src.users_file : r->from + " and --users";
  }
  if (r->users.size() == 0) {
    ASSIGN_OR_RETURN(s3::Credential c, RandomCredential());
    r->generated = c;
    r->from = "generated";
    RETURN_IF_ERROR(r->users.Add(std::move(c)));
  }
  return r;
}

}  // namespace cairn::server
