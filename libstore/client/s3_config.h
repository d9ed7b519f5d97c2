// Where an S3 client finds its endpoint, region and credentials: the order the AWS CLI and SDKs
// use, so that a user's existing setup works unchanged.
//
//  profile      --profile, else AWS_PROFILE, else AWS_DEFAULT_PROFILE, else "default".
//  files        AWS_SHARED_CREDENTIALS_FILE (default ~/.aws/credentials, sections [NAME]) and
//               AWS_CONFIG_FILE (default ~/.aws/config, sections [default] and [profile NAME]);
//               ~ is $HOME. A missing file is no error; a profile named by --profile or
//               AWS_PROFILE that neither file has is (kInvalidArgument), as in the AWS CLI.
//  credentials  with --profile given: that profile's keys (the AWS CLI skips the environment
//               then); otherwise AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN)
//               when set, else the profile's aws_access_key_id / aws_secret_access_key /
//               aws_session_token, the credentials file before the config file. A key without a
//               secret (or the reverse) is kInvalidArgument naming where it came from. None at all
//               is allowed here (anonymous requests); commands that sign refuse it.
//  region       --region, AWS_REGION, AWS_DEFAULT_REGION, the profile's `region`, the region in an
//               AWS endpoint's host name (s3.REGION.amazonaws.com), else us-east-1.
//  endpoint     --endpoint-url, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the profile's
//               `endpoint_url`, else https://s3.REGION.amazonaws.com. With
//               AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true (or the profile's
//               ignore_configured_endpoint_urls) only the flag counts.
//  addressing   path style (http://host/bucket/key) for a custom endpoint, virtual-hosted
//               (https://bucket.s3.REGION.amazonaws.com/key) for AWS's own.
//  TLS          --ca-bundle, AWS_CA_BUNDLE, the profile's `ca_bundle`; --no-verify-ssl.
//
// Files: INI as the AWS tools write it: `[section]`, `key = value`, comments starting with # or ;
// on their own line, keys compared case-insensitively; an indented line continues a nested
// setting (`s3 =` followed by `  addressing_style = path`), which is read as "s3.addressing_style".
// Thread safety: pure functions of their inputs.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "libstore/common/status.h"

namespace cairn::s3 {

// What the command line gave (empty: not given).
struct S3Flags {
  std::string endpoint_url;
  std::string region;
  std::string profile;
  std::string ca_bundle;
  bool no_verify_ssl = false;
};

// Reads an environment variable; nullopt when unset. Tests pass a map instead of the process's.
using EnvLookup = std::function<std::optional<std::string>(std::string_view)>;
EnvLookup ProcessEnv();

// The endpoint split for requests and signing.
struct S3Endpoint {
  bool https = true;
  std::string host;  // authority as sent in Host: "s3.us-east-1.amazonaws.com", "127.0.0.1:9000"
  std::string path;  // a path prefix of the endpoint URL without trailing slash ("" usually)
  bool path_style = true;
  std::string base() const { return (https ? "https://" : "http://") + host + path; }
};

struct S3Config {
  S3Endpoint endpoint;
  std::string region;
  std::string access_key, secret_key, session_token;
  std::string profile;             // the profile that was read
  std::string credentials_source;  // "environment", "profile NAME (FILE)", "" when anonymous
  std::string ca_bundle;
  bool verify_tls = true;
  bool has_credentials() const { return !access_key.empty(); }
};

// Resolves as the file comment says. kInvalidArgument for a malformed endpoint URL, a file that
// cannot be parsed (with its name and line), a missing named profile or half a key pair.
Result<S3Config> ResolveS3Config(const S3Flags& flags, const EnvLookup& env);

// Parses "http(s)://host[:port][/path]" (no query, no user info). `path_style` is false only for
// AWS's own host names.
Result<S3Endpoint> ParseEndpointUrl(std::string_view url);

// One INI file: section -> key (lower case) -> value. `name` is used in error messages.
using IniFile = std::map<std::string, std::map<std::string, std::string>>;
Result<IniFile> ParseIni(std::string_view text, std::string_view name);

}  // namespace cairn::s3
