// The users `cairn serve` knows: from --access-key/--secret-key, else CAIRN_ACCESS_KEY /
// CAIRN_SECRET_KEY, plus a --users file; when none of these names a user, one random pair is
// generated (and the caller prints it).
//
// Users file: one user a line, `ACCESS SECRET` or `ACCESS SECRET read-only`, fields separated by
// spaces or tabs; blank lines and lines whose first non-blank character is '#' are ignored. An
// access key is 3..128 printable ASCII characters without '/', ',' or '='; a secret 8..256
// printable ASCII characters. Errors name the file and line ("users.txt:3: ...").
//
// Thread safety: pure functions, except RandomCredential (reads the kernel's random source).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libstore/common/status.h"
#include "libstore/s3/sigv4.h"

namespace cairn::server {

// Parses a users file's text into *out (kInvalidArgument "NAME:LINE: ..." on the first bad line,
// a key given twice, or a file naming nobody).
Status ParseUsers(std::string_view text, std::string_view name, s3::CredentialTable* out);

// Reads and parses a users file. A file others can read gets a warning in *warnings (the secrets
// are in clear text); a missing or unreadable file is an error naming it.
Status LoadUsersFile(const std::string& path, s3::CredentialTable* out,
                     std::vector<std::string>* warnings);

// A fresh random user: a 20-character access key (A-Z, 0-9) and a 40-character secret (A-Z, a-z,
// 0-9), from getrandom(2). Never read-only.
Result<s3::Credential> RandomCredential();

// Where the credentials may come from.
struct CredentialSources {
  std::string access_key, secret_key;                         // the flags ("" when not given)
  std::optional<std::string> env_access_key, env_secret_key;  // the environment (unset: nullopt)
  std::string users_file;                                     // "" when not given
};

struct ResolvedCredentials {
  s3::CredentialTable users;
  std::optional<s3::Credential> generated;  // set when the random pair is the only user
  std::string from;                         // "--access-key", "CAIRN_ACCESS_KEY", "--users ..."
  std::vector<std::string> warnings;
};

// Applies the order above. kInvalidArgument, one line, for a key without its secret (or the
// reverse) in the flags or in the environment, and for a bad users file; an empty environment
// variable counts as unset.
Result<std::unique_ptr<ResolvedCredentials>> ResolveCredentials(const CredentialSources& src);

}  // namespace cairn::server
