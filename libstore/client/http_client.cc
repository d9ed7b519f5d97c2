#include "libstore/client/http_client.h"

#include <curl/curl.h>
#include <strings.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <mutex>

namespace cairn::http {

namespace {

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = char(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = char(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool HasCrLf(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

Status GlobalInit() {
  static std::once_flag once;
  static CURLcode rc = CURLE_OK;
  std::call_once(once, [] { rc = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (rc != CURLE_OK) {
    return Internal(std::string("curl_global_init: ") + curl_easy_strerror(rc));
  }
  return Status::Ok();
}

}  // namespace

std::string_view Response::Get(std::string_view name) const {
  for (const auto& h : headers) {
    if (IEquals(h.name, name)) return h.value;
  }
  return {};
}

void Response::clear() {
  status = 0;
  headers.clear();
  raw_headers.clear();
  body.clear();
  body_bytes = 0;
}

Status StatusForHttp(int status, std::string_view context, std::string_view detail) {
  if ((status >= 200 && status < 300) || status == 304) return Status::Ok();
  std::string msg(context);
  msg += ": HTTP " + std::to_string(status);
  if (!detail.empty()) {
    msg += ": ";
    msg.append(detail.substr(0, 200));
  }
  switch (status) {
    case 404:
      return Status(Code::kNotFound, std::move(msg));
    case 403:
      return Status(Code::kAccessDenied, std::move(msg));
    case 412:
      return Status(Code::kPreconditionFailed, std::move(msg));
    case 416:
      return Status(Code::kInvalidRange, std::move(msg));
    case 408:
      return Status(Code::kRequestTimeout, std::move(msg)).WithRetryable();
    case 429:
    case 503:
      return Status(Code::kSlowDown, std::move(msg)).WithRetryable();
    default:
      break;
  }
  if (status >= 500) return IOError(std::move(msg)).WithRetryable();
  return InvalidArgument(std::move(msg));
}

// ---- shared state ----

struct HttpClient::Shared {
  CURLSH* share = nullptr;
  std::array<std::mutex, CURL_LOCK_DATA_LAST> locks;

  ~Shared() {
    if (share != nullptr) curl_share_cleanup(share);
  }
  static void Lock(CURL*, curl_lock_data data, curl_lock_access, void* user) {
    static_cast<Shared*>(user)->locks[size_t(data) % CURL_LOCK_DATA_LAST].lock();
  }
  static void Unlock(CURL*, curl_lock_data data, void* user) {
    static_cast<Shared*>(user)->locks[size_t(data) % CURL_LOCK_DATA_LAST].unlock();
  }
};

Result<std::unique_ptr<HttpClient>> HttpClient::Create(ClientOptions opts) {
  RETURN_IF_ERROR(GlobalInit());
  auto shared = std::make_unique<Shared>();
  shared->share = curl_share_init();
  if (shared->share == nullptr) return Internal("curl_share_init failed");
  curl_share_setopt(shared->share, CURLSHOPT_LOCKFUNC, &Shared::Lock);
  curl_share_setopt(shared->share, CURLSHOPT_UNLOCKFUNC, &Shared::Unlock);
  curl_share_setopt(shared->share, CURLSHOPT_USERDATA, shared.get());
  curl_share_setopt(shared->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(shared->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(opts), std::move(shared)));
}

HttpClient::HttpClient(ClientOptions opts, std::unique_ptr<Shared> shared)
    : opts_(std::move(opts)), shared_(std::move(shared)) {}

HttpClient::~HttpClient() = default;

// ---- one connection ----

struct HttpConnection::Impl {
  CURL* easy = nullptr;
  const ClientOptions* opts = nullptr;
  std::array<char, CURL_ERROR_SIZE> errbuf{};
  // Reused per request: the URL and method as C strings, the header list (our own nodes over one
  // buffer: curl only reads the list), header offsets into Response::raw_headers.
  std::string url, method, hdr_buf;
  std::vector<curl_slist> nodes;
  std::vector<size_t> hdr_ends;
  std::vector<std::array<size_t, 4>> hdr_offsets;  // name off, len, value off, len
  // The request in flight.
  const Request* req = nullptr;
  Response* resp = nullptr;
  uint64_t sent = 0;
  bool error_body = false;  // Request::errors_to_body and an error status: body to Response::body
  Status cb_status;

  ~Impl() {
    if (easy != nullptr) curl_easy_cleanup(easy);
  }

  static size_t OnHeader(char* data, size_t size, size_t n, void* user) {
    auto* c = static_cast<Impl*>(user);
    const size_t len = size * n;
    std::string_view line(data, len);
    Response& r = *c->resp;
    if (line.size() >= 5 && line.substr(0, 5) == "HTTP/") {
      // A new response (after a 100 Continue, or the first): start over.
      r.raw_headers.clear();
      c->hdr_offsets.clear();
      return len;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) return len;  // the blank line, or a folded line
    const std::string_view name = Trim(line.substr(0, colon));
    const std::string_view value = Trim(line.substr(colon + 1));
    const size_t base = r.raw_headers.size();
    r.raw_headers.append(name);
    r.raw_headers.append(value);
    c->hdr_offsets.push_back({base, name.size(), base + name.size(), value.size()});
    return len;
  }

  // Response::headers from what arrived: when the body starts (so a sink may look at them) and
  // again when the request ends.
  void FillHeaders() {
    resp->headers.clear();
    resp->headers.reserve(hdr_offsets.size());
    const std::string_view raw = resp->raw_headers;
    for (const auto& o : hdr_offsets) {
      resp->headers.push_back({raw.substr(o[0], o[1]), raw.substr(o[2], o[3])});
    }
  }

  static size_t OnWrite(char* data, size_t size, size_t n, void* user) {
    auto* c = static_cast<Impl*>(user);
    const size_t len = size * n;
    if (c->req->sink != nullptr && c->req->errors_to_body && c->resp->body_bytes == 0) {
      long code = 0;  // the headers are in when the body starts
      curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &code);
      c->error_body = code >= 300;
    }
    if (c->resp->body_bytes == 0 && c->resp->headers.empty()) c->FillHeaders();
    if (c->req->sink != nullptr && !c->error_body) {
      Status s = c->req->sink->Write(data, len);
      if (!s.ok()) {
        c->cb_status = std::move(s);
        return 0;  // curl fails the transfer with CURLE_WRITE_ERROR
      }
    } else {
      c->resp->body.append(data, len);
    }
    c->resp->body_bytes += len;
    return len;
  }

  static size_t OnRead(char* buf, size_t size, size_t n, void* user) {
    auto* c = static_cast<Impl*>(user);
    const Request& q = *c->req;
    const uint64_t left = q.body_size - c->sent;
    const size_t want = size_t(std::min<uint64_t>(left, size * n));
    if (want == 0) return 0;
    if (q.body_source == nullptr) {
      std::memcpy(buf, static_cast<const char*>(q.body_data) + c->sent, want);
      c->sent += want;
      return want;
    }
    auto got = q.body_source->Read(buf, want);
    if (!got.ok()) {
      c->cb_status = got.status();
      return CURL_READFUNC_ABORT;
    }
    if (*got == 0) {
      c->cb_status =
          Status(Code::kIncompleteBody, "request body ended after " + std::to_string(c->sent) +
                                            " of " + std::to_string(q.body_size) + " bytes");
      return CURL_READFUNC_ABORT;
    }
    c->sent += *got;
    return *got;
  }

  // curl rewinds the body when it resends a request (a kept-alive connection the peer had closed).
  static int OnSeek(void* user, curl_off_t offset, int origin) {
    auto* c = static_cast<Impl*>(user);
    if (origin != SEEK_SET || c->req->body_source != nullptr || offset < 0 ||
        uint64_t(offset) > c->req->body_size) {
      return CURL_SEEKFUNC_CANTSEEK;
    }
    c->sent = uint64_t(offset);
    return CURL_SEEKFUNC_OK;
  }
};

HttpConnection::HttpConnection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpConnection::~HttpConnection() = default;

Result<std::unique_ptr<HttpConnection>> HttpClient::Connect() {
  auto impl = std::make_unique<HttpConnection::Impl>();
  impl->easy = curl_easy_init();
  if (impl->easy == nullptr) return Internal("curl_easy_init failed");
  impl->opts = &opts_;
  CURL* e = impl->easy;
  curl_easy_setopt(e, CURLOPT_SHARE, shared_->share);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, long(CURL_HTTP_VERSION_1_1));
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, impl->errbuf.data());
  curl_easy_setopt(e, CURLOPT_USERAGENT, opts_.user_agent.c_str());
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, long(opts_.connect_timeout.count()));
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, long(opts_.low_speed_bytes));
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, long(opts_.low_speed_time.count()));
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, opts_.verify_tls ? 1L : 0L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, opts_.verify_tls ? 2L : 0L);
  if (!opts_.ca_bundle.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, opts_.ca_bundle.c_str());
  // Object keys may hold "/../" or "/./": send the path as given, never squashed.
  curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(e, CURLOPT_MAXCONNECTS, 1L);
  curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 256L << 10);
  curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 2L << 20);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &HttpConnection::Impl::OnHeader);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, impl.get());
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &HttpConnection::Impl::OnWrite);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, impl.get());
  curl_easy_setopt(e, CURLOPT_READFUNCTION, &HttpConnection::Impl::OnRead);
  curl_easy_setopt(e, CURLOPT_READDATA, impl.get());
  curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, &HttpConnection::Impl::OnSeek);
  curl_easy_setopt(e, CURLOPT_SEEKDATA, impl.get());
  return std::unique_ptr<HttpConnection>(new HttpConnection(std::move(impl)));
}

Status HttpConnection::Do(const Request& req, Response* resp) {
  Impl& c = *impl_;
  resp->clear();
  if (req.url.empty()) return InvalidArgument("HTTP request without a URL");
  if (req.method.empty() || HasCrLf(req.method) || req.method.find(' ') != std::string_view::npos)
    return InvalidArgument("bad HTTP method '" + std::string(req.method) + "'");
  CURL* e = c.easy;

  // Header list: "Name: value", or "Name:" for an empty value (curl then drops a header it would
  // have added itself, e.g. Expect).
  c.hdr_buf.clear();
  c.hdr_ends.clear();
  const bool head = req.method == "HEAD";
  const bool has_body = req.body_source != nullptr || req.body_size > 0 || req.method == "PUT" ||
                        req.method == "POST";
  // A small body from memory goes out in the request's first send, with the head (curl appends
  // a POSTFIELDS body under 64 KiB to the request it sends first), instead of in a second send
  // from the read callback once the head is out: one segment for a 4 KiB PUT, so that the server
  // is woken once for it and reads it whole. The bytes on the wire are the same.
  const bool inline_body = !head && has_body && req.body_source == nullptr &&
                           req.body_data != nullptr && req.body_size > 0 &&
                           req.body_size <= kInlineBodyMax;
  bool content_type = false;
  for (const auto& h : req.headers) {
    if (h.name.empty() || HasCrLf(h.name) || HasCrLf(h.value) ||
        h.name.find(':') != std::string_view::npos) {
      return InvalidArgument("bad HTTP header '" + std::string(h.name) + "'");
    }
    if (h.name.size() == 12 && strncasecmp(h.name.data(), "content-type", 12) == 0) {
      content_type = true;
    }
    c.hdr_buf.append(h.name);
    c.hdr_buf.push_back(':');
    if (!h.value.empty()) {
      c.hdr_buf.push_back(' ');
      c.hdr_buf.append(h.value);
    }
    c.hdr_buf.push_back('\0');
    c.hdr_ends.push_back(c.hdr_buf.size());
  }
  if (inline_body && !content_type) {
    // curl gives a POSTFIELDS body a form Content-Type unless told none.
    c.hdr_buf.append("Content-Type:");
    c.hdr_buf.push_back('\0');
    c.hdr_ends.push_back(c.hdr_buf.size());
  }
  c.nodes.resize(c.hdr_ends.size());
  size_t start = 0;
  for (size_t i = 0; i < c.nodes.size(); ++i) {
    c.nodes[i].data = c.hdr_buf.data() + start;
    c.nodes[i].next = i + 1 < c.nodes.size() ? &c.nodes[i + 1] : nullptr;
    start = c.hdr_ends[i];
  }
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, c.nodes.empty() ? nullptr : c.nodes.data());

  c.url.assign(req.url);
  curl_easy_setopt(e, CURLOPT_URL, c.url.c_str());
  // Reset the method state (POSTFIELDS of a previous request dropped; HTTPGET, after it, clears
  // upload and nobody), then set this request's.
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, static_cast<const char*>(nullptr));
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(-1));
  curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, static_cast<const char*>(nullptr));
  if (head) {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else if (inline_body) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(req.body_size));
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, req.body_data);
  } else if (has_body) {
    if (req.body_source == nullptr && req.body_size > 0 && req.body_data == nullptr)
      return InvalidArgument("HTTP request with a body size but no body");
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, curl_off_t(req.body_size));
  }
  // An inline body makes curl's request a POST: its method is given; otherwise GET and PUT are
  // curl's own (HTTPGET, UPLOAD).
  if (!head && (inline_body || (req.method != "GET" && req.method != "PUT"))) {
    c.method.assign(req.method);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, c.method.c_str());
  }
  const auto timeout = req.timeout.count() > 0 ? req.timeout : c.opts->request_timeout;
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, long(timeout.count()));

  c.req = &req;
  c.resp = resp;
  c.sent = 0;
  c.error_body = false;
  c.cb_status = Status::Ok();
  c.hdr_offsets.clear();
  c.errbuf[0] = '\0';
  const CURLcode rc = curl_easy_perform(e);
  ++requests_;
  long new_conns = 0;
  curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &new_conns);
  connects_ += uint64_t(new_conns);
  // The status and headers that arrived, also when the transfer then failed (a GET cut short
  // resumes with a Range pinned to the ETag it had).
  c.FillHeaders();
  c.req = nullptr;
  c.resp = nullptr;
  long code = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
  resp->status = int(code);
  // A body or sink that failed fails the request even when a response arrived anyway (a server
  // may answer before it read the whole body).
  if (!c.cb_status.ok()) return c.cb_status;
  if (rc != CURLE_OK) {
    std::string msg = std::string(req.method) + " " + std::string(req.url) + ": " +
                      (c.errbuf[0] != '\0' ? c.errbuf.data() : curl_easy_strerror(rc));
    switch (rc) {
      case CURLE_OPERATION_TIMEDOUT:
        return Status(Code::kRequestTimeout, std::move(msg)).WithRetryable();
      case CURLE_COULDNT_CONNECT:
      // A kept-alive connection the peer had reset: curl resends on a new one only when it can
      // rewind the body, which a body_source cannot; a new attempt makes a new source. (The
      // message is then curl's first error, the reset.)
      case CURLE_SEND_FAIL_REWIND:
      case CURLE_SEND_ERROR:
      case CURLE_RECV_ERROR:
      case CURLE_GOT_NOTHING:
      case CURLE_PARTIAL_FILE:
      case CURLE_SSL_CONNECT_ERROR:
      case CURLE_HTTP2:
      case CURLE_HTTP2_STREAM:
        return IOError(std::move(msg)).WithRetryable();
      case CURLE_URL_MALFORMAT:
      case CURLE_UNSUPPORTED_PROTOCOL:
        return InvalidArgument(std::move(msg));
      default:
        return IOError(std::move(msg));
    }
  }
  return Status::Ok();
}

}  // namespace cairn::http
