#include "libstore/client/s3_config.h"

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace cairn::s3 {

namespace {

std::string_view TrimWs(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c;
  return out;
}

// Reads a whole file; nullopt when it does not exist. Other failures are errors.
Result<std::optional<std::string>> ReadOptionalFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT || errno == ENOTDIR) return std::optional<std::string>();
    return PosixError(path, errno);
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return PosixError(path, errno != 0 ? errno : EIO);
  return std::optional<std::string>(ss.str());
}

std::string ExpandHome(const std::string& path, const EnvLookup& env) {
  if (path.rfind("~/", 0) != 0 && path != "~") return path;
  const std::string home = env("HOME").value_or("");
  return home + path.substr(1);
}

// A setting from env that counts only when set and not empty (the AWS tools treat "" as unset).
std::optional<std::string> NonEmpty(const EnvLookup& env, std::string_view name) {
  auto v = env(name);
  if (v && !v->empty()) return v;
  return std::nullopt;
}

bool IsTrue(std::string_view v) { return Lower(TrimWs(v)) == "true"; }

// "s3.REGION.amazonaws.com", "s3-REGION.amazonaws.com", "s3.dualstack.REGION.amazonaws.com":
// the region; "" for s3.amazonaws.com and anything else.
std::string RegionOfAwsHost(std::string_view host) {
  const size_t colon = host.find(':');
  if (colon != std::string_view::npos) host = host.substr(0, colon);
  constexpr std::string_view kSuffix = ".amazonaws.com";
  if (host.size() <= kSuffix.size() || host.substr(host.size() - kSuffix.size()) != kSuffix)
    return "";
  std::string_view head = host.substr(0, host.size() - kSuffix.size());
  if (head.rfind("s3.dualstack.", 0) == 0) return std::string(head.substr(13));
  if (head.rfind("s3.", 0) == 0) return std::string(head.substr(3));
  if (head.rfind("s3-", 0) == 0) return std::string(head.substr(3));
  return "";
}

bool IsAwsHost(std::string_view host) {
  const size_t colon = host.find(':');
  if (colon != std::string_view::npos) host = host.substr(0, colon);
  constexpr std::string_view kSuffix = ".amazonaws.com";
  return host.size() > kSuffix.size() && host.substr(host.size() - kSuffix.size()) == kSuffix;
}

}  // namespace

EnvLookup ProcessEnv() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

Result<IniFile> ParseIni(std::string_view text, std::string_view name) {
  IniFile out;
  std::string section, nested;
  bool in_section = false;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view raw = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    auto bad = [&](const std::string& why) {
      return InvalidArgument(std::string(name) + ":" + std::to_string(line_no) + ": " + why);
    };
    const bool indented = !raw.empty() && (raw.front() == ' ' || raw.front() == '\t');
    std::string_view line = TrimWs(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[') {
      if (line.back() != ']') return bad("a section header without ']'");
      section = std::string(TrimWs(line.substr(1, line.size() - 2)));
      if (section.empty()) return bad("an empty section name");
      out[section];
      in_section = true;
      nested.clear();
      continue;
    }
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) return bad("expected 'key = value'");
    if (!in_section) return bad("a setting before any [section]");
    std::string key = Lower(TrimWs(line.substr(0, eq)));
    std::string value(TrimWs(line.substr(eq + 1)));
    if (key.empty()) return bad("a setting without a name");
    if (indented && !nested.empty()) {
      out[section][nested + "." + key] = value;
      continue;
    }
    nested = value.empty() ? key : "";
    out[section][key] = value;
  }
  return out;
}

Result<S3Endpoint> ParseEndpointUrl(std::string_view url) {
  S3Endpoint e;
  std::string_view rest;
  if (url.rfind("http://", 0) == 0) {
    e.https = false;
    rest = url.substr(7);
  } else if (url.rfind("https://", 0) == 0) {
    rest = url.substr(8);
  } else {
    return InvalidArgument("endpoint URL must start with http:// or https://, got '" +
                           std::string(url) + "'");
  }
  const size_t slash = rest.find('/');
  e.host = std::string(rest.substr(0, slash));
  if (e.host.empty()) return InvalidArgument("endpoint URL without a host: '" + std::string(url) + "'");
  if (e.host.find_first_of("@?# ") != std::string::npos || rest.find_first_of("?#") != std::string_view::npos) {
    return InvalidArgument("endpoint URL may hold only scheme, host, port and path: '" +
                           std::string(url) + "'");
  }
  if (slash != std::string_view::npos) e.path = std::string(rest.substr(slash));
  while (!e.path.empty() && e.path.back() == '/') e.path.pop_back();
  e.path_style = !IsAwsHost(e.host);
  return e;
}

Result<S3Config> ResolveS3Config(const S3Flags& flags, const EnvLookup& env) {
  S3Config c;
  // Which profile, and whether the user named it (then it must exist).
  bool named = true;
  bool by_flag = !flags.profile.empty();
  if (by_flag) {
    c.profile = flags.profile;
  } else if (auto p = NonEmpty(env, "AWS_PROFILE")) {
    c.profile = *p;
  } else if (auto p2 = NonEmpty(env, "AWS_DEFAULT_PROFILE")) {
    c.profile = *p2;
  } else {
    c.profile = "default";
    named = false;
  }
  const std::string cred_path =
      ExpandHome(NonEmpty(env, "AWS_SHARED_CREDENTIALS_FILE").value_or("~/.aws/credentials"), env);
  const std::string conf_path =
      ExpandHome(NonEmpty(env, "AWS_CONFIG_FILE").value_or("~/.aws/config"), env);
  IniFile creds, conf;
  ASSIGN_OR_RETURN(auto cred_text, ReadOptionalFile(cred_path));
  if (cred_text) {
    ASSIGN_OR_RETURN(creds, ParseIni(*cred_text, cred_path));
  }
  ASSIGN_OR_RETURN(auto conf_text, ReadOptionalFile(conf_path));
  if (conf_text) {
    ASSIGN_OR_RETURN(conf, ParseIni(*conf_text, conf_path));
  }
  const std::map<std::string, std::string> kNone;
  auto cred_it = creds.find(c.profile);
  auto conf_it = conf.find(c.profile == "default" ? "default" : "profile " + c.profile);
  if (conf_it == conf.end() && c.profile == "default") conf_it = conf.find("profile default");
  const auto& cred_sec = cred_it == creds.end() ? kNone : cred_it->second;
  const auto& conf_sec = conf_it == conf.end() ? kNone : conf_it->second;
  if (named && cred_it == creds.end() && conf_it == conf.end()) {
    return InvalidArgument("the config profile (" + c.profile + ") could not be found in " +
                           cred_path + " or " + conf_path);
  }
  auto setting = [&](const std::string& key) -> std::optional<std::string> {
    auto it = conf_sec.find(key);
    if (it != conf_sec.end() && !it->second.empty()) return it->second;
    return std::nullopt;
  };

  // Credentials.
  auto env_key = NonEmpty(env, "AWS_ACCESS_KEY_ID");
  auto env_secret = NonEmpty(env, "AWS_SECRET_ACCESS_KEY");
  if (!by_flag && (env_key || env_secret)) {
    if (!env_key || !env_secret) {
      return InvalidArgument(std::string("partial credentials in the environment: ") +
                             (env_key ? "AWS_ACCESS_KEY_ID without AWS_SECRET_ACCESS_KEY"
                                      : "AWS_SECRET_ACCESS_KEY without AWS_ACCESS_KEY_ID"));
    }
    c.access_key = *env_key;
    c.secret_key = *env_secret;
    c.session_token = NonEmpty(env, "AWS_SESSION_TOKEN").value_or("");
    c.credentials_source = "environment";
  } else {
    // The credentials file first, then the config file, each as a whole pair.
    const std::pair<const std::map<std::string, std::string>*, const std::string*> sources[] = {
        {&cred_sec, &cred_path}, {&conf_sec, &conf_path}};
    for (const auto& [sec, path] : sources) {
      auto k = sec->find("aws_access_key_id");
      auto s = sec->find("aws_secret_access_key");
      const bool has_k = k != sec->end() && !k->second.empty();
      const bool has_s = s != sec->end() && !s->second.empty();
      if (!has_k && !has_s) continue;
      if (!has_k || !has_s) {
        return InvalidArgument("partial credentials in profile " + c.profile + " of " + *path +
                               ": " +
                               (has_k ? "aws_access_key_id without aws_secret_access_key"
                                      : "aws_secret_access_key without aws_access_key_id"));
      }
      c.access_key = k->second;
      c.secret_key = s->second;
      auto t = sec->find("aws_session_token");
      if (t != sec->end()) c.session_token = t->second;
      c.credentials_source = "profile " + c.profile + " (" + *path + ")";
      break;
    }
  }

  // Endpoint.
  const bool ignore_configured =
      IsTrue(env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").value_or("")) ||
      IsTrue(setting("ignore_configured_endpoint_urls").value_or(""));
  std::optional<std::string> endpoint;
  std::string endpoint_from;
  if (!flags.endpoint_url.empty()) {
    endpoint = flags.endpoint_url;
    endpoint_from = "--endpoint-url";
  } else if (!ignore_configured) {
    if ((endpoint = NonEmpty(env, "AWS_ENDPOINT_URL_S3"))) {
      endpoint_from = "AWS_ENDPOINT_URL_S3";
    } else if ((endpoint = NonEmpty(env, "AWS_ENDPOINT_URL"))) {
      endpoint_from = "AWS_ENDPOINT_URL";
    } else if ((endpoint = setting("endpoint_url"))) {
      endpoint_from = "endpoint_url of profile " + c.profile;
    }
  }

  // Region.
  if (!flags.region.empty()) {
    c.region = flags.region;
  } else if (auto r = NonEmpty(env, "AWS_REGION")) {
    c.region = *r;
  } else if (auto r2 = NonEmpty(env, "AWS_DEFAULT_REGION")) {
    c.region = *r2;
  } else if (auto r3 = setting("region")) {
    c.region = *r3;
  }

  if (endpoint) {
    auto e = ParseEndpointUrl(*endpoint);
    if (!e.ok()) return e.status().WithContext(endpoint_from);
    c.endpoint = std::move(e).value();
    if (c.region.empty()) c.region = RegionOfAwsHost(c.endpoint.host);
    if (c.region.empty()) c.region = "us-east-1";
  } else {
    if (c.region.empty()) c.region = "us-east-1";
    c.endpoint.https = true;
    c.endpoint.host = "s3." + c.region + ".amazonaws.com";
    c.endpoint.path_style = false;
  }
  if (auto style = setting("s3.addressing_style")) {
    if (*style == "path") c.endpoint.path_style = true;
    else if (*style == "virtual") c.endpoint.path_style = false;
  }

  // TLS.
  c.verify_tls = !flags.no_verify_ssl;
  if (!flags.ca_bundle.empty()) c.ca_bundle = flags.ca_bundle;
  else if (auto b = NonEmpty(env, "AWS_CA_BUNDLE")) c.ca_bundle = *b;
  else if (auto b2 = setting("ca_bundle")) c.ca_bundle = ExpandHome(*b2, env);
  return c;
}

}  // namespace cairn::s3
