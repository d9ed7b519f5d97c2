// The only file that includes Beast and Asio (a Beast translation unit takes ~10 s to compile).
#include "libstore/server/http_server.h"

#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cstring>
#include <utility>  // before asio/awaitable.hpp: Boost 1.74 needs it under GCC 12 with coroutines

// Boost 1.74 enables co_await under clang only with <experimental/coroutine> (libc++), but clang 14
// with libstdc++ 12 has C++20 coroutines (the fuzz and sanitizer builds use it): say so.
#if defined(__clang__) && !defined(BOOST_ASIO_HAS_CO_AWAIT) && defined(__cpp_impl_coroutine)
#define BOOST_ASIO_HAS_CO_AWAIT 1
#endif
// GCC 12 at -O1 (the sanitizer build) warns that Asio's coroutine frames are freed by a
// mismatched operator delete: they are allocated and freed by the frame type's own pair
// (awaitable_frame_base), which the warning does not follow through the coroutine machinery.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <random>
#include <thread>
#include <tuple>
#include <unordered_set>
#include <vector>

#include "libstore/common/stage_threads.h"
#include "libstore/s3/errors.h"
#include "libstore/server/request_target.h"

namespace cairn::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;

int64_t WallNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool IsOutOfDescriptors(const beast::error_code& ec) {
  return ec == asio::error::no_descriptors || ec.value() == ENFILE ||
         ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
}

// A response field that cannot be sent as it is (HasControlChar in its name or value). Handlers
// refuse such input with a clear error; this is the last guard, for every response, whichever
// path writes its head.
bool UnsafeField(std::string_view n, std::string_view v) {
  return HasControlChar(n) || HasControlChar(v);
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// A connection's coroutine ended with an exception (Asio and Beast throw only on allocation
// failure or a broken invariant): the connection is closed by its destructor; say why.
void ReportException(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    std::fprintf(stderr, "cairn: serve: connection dropped: %s\n", x.what());
  } catch (...) {
    std::fprintf(stderr, "cairn: serve: connection dropped: unknown exception\n");
  }
}

// A connection's bump arena for the request parser's header fields (Beast's basic_fields takes
// one allocation per field, and one for the start line): reset when the next parser is made, so
// a request head costs no heap allocation. What does not fit (a head larger than the arena, a
// chunked body's trailer fields) comes from the heap as before.
class HeadArena {
 public:
  void* Allocate(size_t n, size_t align) {
    const size_t at = (used_ + align - 1) & ~(align - 1);
    if (align <= alignof(std::max_align_t) && at <= sizeof(buf_) && n <= sizeof(buf_) - at) {
      used_ = at + n;
      return buf_ + at;
    }
    return ::operator new(n);
  }
  void Deallocate(void* p) {
    const uintptr_t a = reinterpret_cast<uintptr_t>(p), b = reinterpret_cast<uintptr_t>(buf_);
    if (a < b || a >= b + sizeof(buf_)) ::operator delete(p);  // not the arena's
  }
  // Only while no parser holds memory from it.
  void Reset() { used_ = 0; }

 private:
  alignas(std::max_align_t) char buf_[4096];
  size_t used_ = 0;
};

template <class T>
struct ArenaAllocator {
  using value_type = T;
  explicit ArenaAllocator(HeadArena* a) noexcept : arena(a) {}
  template <class U>
  ArenaAllocator(const ArenaAllocator<U>& o) noexcept : arena(o.arena) {}  // NOLINT: rebind
  T* allocate(size_t n) { return static_cast<T*>(arena->Allocate(n * sizeof(T), alignof(T))); }
  void deallocate(T* p, size_t) noexcept { arena->Deallocate(p); }
  template <class U>
  bool operator==(const ArenaAllocator<U>& o) const noexcept {
    return arena == o.arena;
  }
  template <class U>
  bool operator!=(const ArenaAllocator<U>& o) const noexcept {
    return arena != o.arena;
  }
  HeadArena* arena;
};

using RequestParser = http::request_parser<http::buffer_body, ArenaAllocator<char>>;

class ConnBase {
 public:
  virtual ~ConnBase() = default;
  // A reference, or null when the connection is being destroyed.
  virtual std::shared_ptr<ConnBase> Ref() = 0;
  // Posted onto the connection's strand: close it if it waits for a request (idle), or at once.
  virtual void RequestStop(bool force) = 0;
};

}  // namespace

struct HttpServer::Impl {
  ServerOptions opt;
  Authenticator* auth = nullptr;
  S3Handler* handler = nullptr;
  asio::io_context ioc;
  std::optional<asio::ssl::context> tls;
  tcp::acceptor acceptor{ioc};
  asio::thread_pool pool;
  std::optional<asio::signal_set> signals;
  std::vector<std::thread> io_threads;
  std::atomic<int> connections{0};
  std::atomic<bool> stopping{false};
  // Tasks posted to the pool that no pool thread has started yet, tasks running, and pool threads
  // waiting on a connection for its next request (plain HTTP, see Connection::ServeMore).
  std::atomic<int> pool_queued{0};
  std::atomic<int> pool_busy{0};
  std::atomic<int> lingering{0};
  std::atomic<uint64_t> turns_handed_back{0};
  std::mutex conns_mu;
  std::unordered_set<ConnBase*> conns;
  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stopped = false;
  bool stop_started = false;
  std::atomic<uint64_t> next_id{0};
  uint16_t bound_port = 0;
  uint64_t id_salt = 0;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;

  explicit Impl(const ServerOptions& o)
      : opt(o), ioc(std::max(1, o.threads)), pool(size_t(std::max(1, o.storage_threads))) {}

  // 16 upper-case hex digits and a NUL (what "%016llX" makes, without a trip through printf).
  void NewRequestId(char out[17]) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    uint64_t v = id_salt ^ (next_id.fetch_add(1) * 0x9E3779B97F4A7C15ull);
    for (int i = 15; i >= 0; --i, v >>= 4) out[i] = kHex[v & 15];
    out[16] = '\0';
  }

  asio::awaitable<void> AcceptLoop();
  void StopImpl();
};

namespace {

// Runs f on the storage pool and resumes the awaiting coroutine on its own executor afterwards.
template <class F>
asio::awaitable<void> RunOnPool(HttpServer::Impl& srv, F f) {
  co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
      [&srv, &f](auto handler) {
        srv.pool_queued.fetch_add(1, std::memory_order_relaxed);
        asio::post(srv.pool, [&srv, &f, handler = std::move(handler)]() mutable {
          srv.pool_queued.fetch_sub(1, std::memory_order_relaxed);
          srv.pool_busy.fetch_add(1, std::memory_order_relaxed);
          f();
          srv.pool_busy.fetch_sub(1, std::memory_order_relaxed);
          auto ex = asio::get_associated_executor(handler);
          asio::post(ex, std::move(handler));
        });
      },
      asio::use_awaitable);
}

template <class Stream>
class Connection : public ConnBase, public std::enable_shared_from_this<Connection<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, tcp::socket>;

  Connection(HttpServer::Impl& srv, Stream stream)
      : srv_(srv),
        stream_(std::move(stream)),
        ex_(beast::get_lowest_layer(stream_).get_executor()),
        timer_(ex_) {
    std::lock_guard<std::mutex> lk(srv_.conns_mu);
    srv_.conns.insert(this);
  }
  ~Connection() override {
    {
      std::lock_guard<std::mutex> lk(srv_.conns_mu);
      srv_.conns.erase(this);
    }
    srv_.connections.fetch_sub(1);
    { std::lock_guard<std::mutex> lk(srv_.stop_mu); }  // Stop may be between its check and wait
    srv_.stop_cv.notify_all();
  }

  std::shared_ptr<ConnBase> Ref() override { return this->weak_from_this().lock(); }
  void RequestStop(bool force) override {
    auto self = this->shared_from_this();
    asio::post(ex_, [self, force] {
      if (self->idle_) {
        self->CloseSocket();
      } else if (force) {
        // A pool thread may be reading or writing the descriptor directly (plain HTTP): shut
        // the socket down so those calls fail, and leave closing it to the coroutine.
        if constexpr (kTls) {
          self->CloseSocket();
        } else if (self->fd_ >= 0) {
          // Also while the descriptor is out of Asio's hands (see Run).
          ::shutdown(self->fd_, SHUT_RDWR);
        }
      }
    });
  }

  // The coroutine that serves the connection; it holds self (a coroutine's parameters live in
  // its frame, while `this` of a member coroutine would not be kept alive).
  static asio::awaitable<void> Main(std::shared_ptr<Connection> self, bool over_limit) {
    co_await self->Run(over_limit);
  }

 private:
  friend class BodySource;

  // ---- timer: one per connection, re-armed around every operation (runs on the strand)
  void Arm(Millis d) {
    const uint64_t gen = ++timer_gen_;
    timer_.expires_after(d);
    timer_.async_wait([self = this->shared_from_this(), gen](beast::error_code ec) {
      if (!ec && gen == self->timer_gen_) {
        self->timed_out_ = true;
        self->CloseSocket();
      }
    });
  }
  void Disarm() {
    ++timer_gen_;
    timer_.cancel();
  }
  void CloseSocket() {
    if constexpr (!kTls) fd_ = -1;  // closed below: RequestStop must not shut a reused number
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(stream_).close(ignored);
  }

  // ---- blocking bridge, called from a storage pool thread while the coroutine waits for it
  template <class Start>
  std::pair<beast::error_code, size_t> Blocking(Millis timeout, Start start) {
    {
      std::lock_guard<std::mutex> lk(op_mu_);
      op_done_ = false;
    }
    asio::post(ex_, [this, timeout, &start] {
      Arm(timeout);
      start([this](beast::error_code ec, size_t n) {
        Disarm();
        std::lock_guard<std::mutex> lk(op_mu_);
        op_ec_ = ec;
        op_n_ = n;
        op_done_ = true;
        op_cv_.notify_one();
      });
    });
    std::unique_lock<std::mutex> lk(op_mu_);
    op_cv_.wait(lk, [&] { return op_done_; });
    return {op_ec_, op_n_};
  }

  asio::awaitable<void> Run(bool over_limit);

  // Per-request state, touched by the pool thread that serves it.
  struct Exchange;
  class Body;
  class Writer;
  void Serve(Exchange& x);
  Status ReadBody(Exchange& x, void* buf, size_t n, size_t* got);
  Status ReadBodyDirect(Exchange& x, void* buf, size_t n, size_t* got);
  bool BodyDone(const Exchange& x) const { return x.direct ? x.body_left == 0 : parser_->is_done(); }
  uint64_t BodyRemaining(const Exchange& x) const {
    return x.direct ? x.body_left : parser_->content_length_remaining().value_or(0);
  }
  // Plain HTTP, on the pool thread: waits (at most the I/O timeout) until the socket can be
  // read or written; false (and x.dead) when it cannot.
  bool WaitSocket(Exchange& x, bool write, beast::error_code* ec);
  // Plain HTTP, on the pool thread: sends all of iov directly (non-blocking sends, waiting for
  // the socket when it is full). flags: e.g. MSG_MORE.
  beast::error_code SendAll(Exchange& x, struct iovec* iov, int iovcnt, int flags);
  Status SendContinue(Exchange& x);
  void Discard(Exchange& x);

  // Checks the head parser_ holds against the limits: 0 when it may be served, else the status
  // to answer (and close) with, err its reason. *fields: the head's field count.
  int CheckHead(bool over_limit, size_t* fields, Status* err) const;
  // A new parser_ for the next request head (the last one's fields are dropped).
  void NewParser();
  // Fills x from the head parser_ holds (after CheckHead), request_id its id.
  void StartExchange(Exchange& x, size_t fields, const char* request_id);
  // Plain HTTP, on the pool thread after a response that keeps the connection: serves the
  // connection's next requests on this thread while they come back to back, instead of a hop to
  // the network thread and back per request. False when the connection is to be closed.
  bool ServeMore();
  // Plain HTTP, on the pool thread: a whole next request head parsed into parser_ from buf_, read
  // without blocking (or waiting until linger_until when may_linger); *used: its length, still in
  // buf_. False when there is none, or it is malformed or over a limit (the network thread
  // parses it again and answers those).
  bool NextHead(Clock::time_point linger_until, bool may_linger, size_t* used);

  asio::awaitable<void> SendSimple(int status, const Status& err, std::string_view resource,
                                   const char* request_id, int64_t start_ns, Clock::time_point t0,
                                   std::string_view method, std::string_view path);

  HttpServer::Impl& srv_;
  Stream stream_;
  asio::any_io_executor ex_;
  asio::steady_timer timer_;
  uint64_t timer_gen_ = 0;
  bool timed_out_ = false;
  bool idle_ = true;
  // What was read from the socket and not yet used (a head, and body bytes that came with it).
  // Read kReadChunk at a time: a 4 KiB PUT's head and body (~4.6 KiB) in one recv, not two.
  static constexpr size_t kReadChunk = 8192;
  beast::flat_buffer buf_;
  std::string head_buf_;  // a serialized response head (plain HTTP), reused across requests
  HeadArena head_arena_;  // parser_'s fields (NewParser)
  std::optional<RequestParser> parser_;
  // The request state of the connection's last exchange, kept for its strings' and vectors'
  // capacity: the next StartExchange assigns into them instead of allocating anew.
  HttpRequest spare_req_;
  std::string remote_;
  // Plain HTTP: the socket's descriptor, set when the connection starts; -1 once closed (on the
  // strand). While a pool thread serves the connection the descriptor is taken out of Asio's
  // epoll set (released, then assigned again afterwards), so that the requests it reads itself
  // do not wake a network thread each; released_ says so. A chunked body is read through the
  // strand (Blocking), so a connection whose request has one keeps it registered.
  int fd_ = -1;
  bool released_ = false;
  tcp proto_ = tcp::v4();

  std::mutex op_mu_;
  std::condition_variable op_cv_;
  bool op_done_ = false;
  beast::error_code op_ec_;
  size_t op_n_ = 0;
};

template <class Stream>
struct Connection<Stream>::Exchange {
  HttpRequest req;
  int64_t start_ns = 0;
  Clock::time_point t0;
  bool keep_alive = true;
  bool expect_continue = false;
  bool continue_sent = false;
  bool head = false;
  uint64_t bytes_in = 0;
  // Plain HTTP with a Content-Length: the body is read straight from the socket on the pool
  // thread (Beast parsed the head; the body is counted here), body_left bytes still to come.
  bool direct = false;
  uint64_t body_left = 0;
  // A direct read or write failed, or waiting for the socket did (timed_out: for io_timeout):
  // the descriptor is not used again by this exchange.
  bool dead = false;
  bool timed_out = false;
  // Plain HTTP: the serialized head waits here for the first body bytes, so head and body leave
  // in one system call.
  bool head_pending = false;
  // response
  // The head goes through Beast's serializer; the body (Content-Length framed) is written to the
  // stream directly, one write_some at a time, so the timeout bounds a stall, not a slow reader.
  http::response<http::empty_body> res;
  std::optional<http::response_serializer<http::empty_body>> sr;
  int status = 0;
  bool begun = false;
  bool broken = false;  // a write failed: the connection is closed
  uint64_t content_length = 0, bytes_out = 0, bytes_out_body = 0;
};

template <class Stream>
class Connection<Stream>::Body : public Source {
 public:
  Body(Connection& c, Exchange& x) : c_(c), x_(x) {}
  Result<size_t> Read(void* buf, size_t n) override {
    size_t got = 0;
    RETURN_IF_ERROR(c_.ReadBody(x_, buf, n, &got));
    return got;
  }

 private:
  Connection& c_;
  Exchange& x_;
};

template <class Stream>
class Connection<Stream>::Writer : public ResponseWriter {
 public:
  Writer(Connection& c, Exchange& x) : c_(c), x_(x) {}

  bool begun() const override { return x_.begun; }

  Status Begin(int status, const Fields& headers, uint64_t content_length) override {
    if (x_.begun) return Internal("response begun twice");
    x_.begun = true;
    x_.status = status;
    x_.content_length = content_length;
    char date[32];
    const size_t date_len = FormatHttpDate(WallNs() / 1000000000, date);
    const bool has_length = status != 304 && !(status >= 100 && status < 200) && status != 204;
    // An "Expect: 100-continue" request without a body (Content-Length: 0) gets its 100 first, as
    // if the empty body had been read. RFC 9110 lets a server omit it there, but botocore (boto3,
    // aws cli) takes a final status in place of the 100 as the answer to the headers and keeps
    // that status line for the next request on the connection that also expects a 100: that
    // response is then read with its own status line as a header, without a length, until the
    // connection closes (a 60 s stall after every empty PUT).
    if (x_.expect_continue && !x_.continue_sent && c_.BodyDone(x_)) {
      if (Status st = c_.SendContinue(x_); !st.ok()) {
        x_.broken = true;
        return st;
      }
    }
    // A body the handler left unread that cannot be dropped cheaply ends the connection.
    if (!c_.BodyDone(x_)) {
      const bool can_discard =
          !(x_.expect_continue && !x_.continue_sent) &&
          (c_.parser_->chunked() || c_.BodyRemaining(x_) <= c_.srv_.opt.discard_limit);
      if (!can_discard) x_.keep_alive = false;
    }
    if (c_.srv_.stopping.load()) x_.keep_alive = false;
    if constexpr (!kTls) {
      // Serialized here straight into the reused buffer (what Beast's serializer writes for the
      // response below, without its field list: no allocation per field), sent with the first
      // body bytes (or now, when no body follows).
      std::string& hb = c_.head_buf_;
      hb.clear();
      auto field = [&hb](std::string_view n, std::string_view v) {
        hb.append(n);
        hb.append(": ", 2);
        hb.append(v);
        hb.append("\r\n", 2);
      };
      hb.append("HTTP/1.1 ");
      hb.append(std::to_string(status));
      hb.push_back(' ');
      const auto reason = http::obsolete_reason(static_cast<http::status>(status));
      hb.append(reason.data(), reason.size());
      hb.append("\r\n", 2);
      for (const auto& [n, v] : headers) {
        if (UnsafeField(n, v)) continue;
        // Beast's set() below replaces these: so does this.
        if (IEquals(n, "x-amz-request-id") || IEquals(n, "server") || IEquals(n, "date") ||
            (has_length && IEquals(n, "content-length"))) {
          continue;
        }
        field(n, v);
      }
      field("x-amz-request-id", x_.req.request_id);
      field("Server", "cairn");
      field("Date", std::string_view(date, date_len));
      if (has_length) {
        char num[24];
        const auto [end, ec] = std::to_chars(num, num + sizeof(num), content_length);
        (void)ec;
        field("Content-Length", std::string_view(num, size_t(end - num)));
      }
      if (!x_.keep_alive) field("Connection", "close");
      hb.append("\r\n", 2);
      x_.head_pending = true;
      if (x_.head || content_length == 0 || status == 304 || status == 204) return FlushHead();
      return Status::Ok();
    } else {
      auto& res = x_.res;
      res = {};
      res.version(11);
      res.result(static_cast<unsigned>(status));
      for (const auto& [n, v] : headers) {
        if (!UnsafeField(n, v)) res.insert(n, v);
      }
      res.set("x-amz-request-id", x_.req.request_id);
      res.set(http::field::server, "cairn");
      res.set(http::field::date, date);
      if (has_length) res.set(http::field::content_length, std::to_string(content_length));
      res.keep_alive(x_.keep_alive);
      x_.sr.emplace(res);
      auto [ec, n] = c_.Blocking(c_.srv_.opt.io_timeout, [&](auto done) {
        http::async_write_header(c_.stream_, *x_.sr, std::move(done));
      });
      if (ec) return Broken(ec);
      x_.bytes_out += n;
      return Status::Ok();
    }
  }

  // Plain HTTP: sends the head if it still waits.
  Status FlushHead(int flags = 0) {
    if (!x_.head_pending) return Status::Ok();
    x_.head_pending = false;
    struct iovec iov[1] = {{c_.head_buf_.data(), c_.head_buf_.size()}};
    if (auto ec = c_.SendAll(x_, iov, 1, flags)) return Broken(ec);
    x_.bytes_out += c_.head_buf_.size();
    return Status::Ok();
  }

  Status Write(const void* data, size_t n) override {
    if (!x_.begun) return Internal("response body before its head");
    if (x_.broken) return Status(Code::kAborted, "the client connection is closed");
    if (x_.head || n == 0) return Status::Ok();
    if (x_.bytes_out_body + n > x_.content_length) {
      x_.broken = true;
      return Internal("response body longer than its Content-Length");
    }
    if constexpr (!kTls) {
      // Straight from this thread: the head (if it still waits) and these bytes in one call.
      struct iovec iov[2];
      int cnt = 0;
      const size_t head = x_.head_pending ? c_.head_buf_.size() : 0;
      if (head > 0) iov[cnt++] = {c_.head_buf_.data(), head};
      iov[cnt++] = {const_cast<void*>(data), n};
      x_.head_pending = false;
      if (auto ec = c_.SendAll(x_, iov, cnt, 0)) return Broken(ec);
      x_.bytes_out += head + n;
    } else {
      const char* p = static_cast<const char*>(data);
      size_t left = n;
      while (left > 0) {
        auto [ec, w] = c_.Blocking(c_.srv_.opt.io_timeout, [&](auto done) {
          c_.stream_.async_write_some(asio::buffer(p, left), std::move(done));
        });
        if (ec) return Broken(ec);
        p += w;
        left -= w;
        x_.bytes_out += w;
      }
    }
    x_.bytes_out_body += n;
    return Status::Ok();
  }

  bool CanSendFile() const override { return !kTls; }

  Status SendFile(int fd, uint64_t offset, uint64_t length) override {
    if constexpr (kTls) {
      return Status(Code::kNotImplemented, "sendfile is not available over TLS");
    } else {
      if (!x_.begun) return Internal("response body before its head");
      if (x_.broken) return Status(Code::kAborted, "the client connection is closed");
      if (x_.head || length == 0) return Status::Ok();
      if (x_.bytes_out_body + length > x_.content_length) {
        x_.broken = true;
        return Internal("response body longer than its Content-Length");
      }
      // A small body with the head still held back: read here and sent with the head in one
      // sendmsg (cheaper than a second call through sendfile's splice for a few KiB).
      if (x_.head_pending && length <= kSmallFileBody) {
        char buf[kSmallFileBody];
        size_t got = 0;
        while (got < length) {
          const ssize_t r = ::pread(fd, buf + got, size_t(length) - got, off_t(offset + got));
          if (r > 0) {
            got += size_t(r);
            continue;
          }
          if (r < 0 && errno == EINTR) continue;
          x_.broken = true;  // an error, or the file is shorter than the range it promised
          return PosixError("reading the object's file", r < 0 ? errno : EIO);
        }
        return Write(buf, got);
      }
      // The head first (held back for the body), with MSG_MORE so it leaves with the file's
      // first bytes; then sendfile straight from this thread, waiting only when the socket is
      // full.
      RETURN_IF_ERROR(FlushHead(MSG_MORE));
      off_t off = static_cast<off_t>(offset);
      uint64_t left = length;
      const int sock = c_.fd_;
      while (left > 0) {
        const size_t chunk = size_t(std::min<uint64_t>(left, uint64_t(1) << 30));
        const ssize_t n = ::sendfile(sock, fd, &off, chunk);
        if (n > 0) {
          left -= uint64_t(n);
          x_.bytes_out += uint64_t(n);
          continue;
        }
        if (n == 0) {
          x_.broken = true;  // the file is shorter than the range it promised
          return PosixError("sendfile from the object's file", EIO);
        }
        const int e = errno;
        if (e == EINTR) continue;
        if (e == EAGAIN) {
          beast::error_code ec;
          if (!c_.WaitSocket(x_, true, &ec)) return Broken(ec);
          continue;
        }
        if (e == EBADF || e == EINVAL || e == EOVERFLOW || e == EIO) {
          x_.broken = true;
          return PosixError("sendfile from the object's file", e);
        }
        x_.dead = true;
        return Broken(beast::error_code(e, beast::system_category()));
      }
      x_.bytes_out_body += length;
      return Status::Ok();
    }
  }

  // SendFile reads a body of at most this many bytes and sends it with the head in one call.
  static constexpr uint64_t kSmallFileBody = 16 << 10;

  // After the handler: ends the body; marks the exchange broken when it cannot be ended.
  void Finish() {
    if constexpr (!kTls) {
      // A head still held back (the handler failed before its first body byte): send it, so
      // the client sees the answer begin, then a short body.
      if (x_.begun && !x_.broken && x_.head_pending) FlushHead().IgnoreError();
    }
    if (!x_.begun || x_.broken || x_.head) return;
    if (x_.bytes_out_body != x_.content_length) {
      x_.broken = true;  // the client waits for bytes that will not come
      return;
    }
  }

 private:
  Status Broken(const beast::error_code& ec) {
    x_.broken = true;
    if (c_.timed_out_ || x_.timed_out) {
      return Status(Code::kRequestTimeout, "the client did not read the response in time");
    }
    return Status(Code::kAborted, "writing the response: " + ec.message());
  }

  Connection& c_;
  Exchange& x_;
};

template <class Stream>
Status Connection<Stream>::SendContinue(Exchange& x) {
  static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
  x.continue_sent = true;
  beast::error_code ec;
  if constexpr (!kTls) {
    struct iovec iov[1] = {{const_cast<char*>(kContinue), sizeof(kContinue) - 1}};
    ec = SendAll(x, iov, 1, 0);
  } else {
    ec = Blocking(srv_.opt.io_timeout, [&](auto done) {
           asio::async_write(stream_, asio::buffer(kContinue, sizeof(kContinue) - 1),
                             std::move(done));
         }).first;
  }
  if (ec) {
    x.keep_alive = false;
    return Status(Code::kAborted, "sending 100 Continue: " + ec.message());
  }
  return Status::Ok();
}

template <class Stream>
bool Connection<Stream>::WaitSocket(Exchange& x, bool write, beast::error_code* ec) {
  // poll(2) on this thread: no round trip through the strand. A forced stop shuts the socket
  // down, which ends the wait; silence for io_timeout ends it too.
  struct pollfd pfd = {};
  pfd.fd = fd_;
  pfd.events = write ? POLLOUT : POLLIN;
  const int timeout_ms = int(std::min<int64_t>(srv_.opt.io_timeout.count(), INT32_MAX));
  for (;;) {
    const int r = ::poll(&pfd, 1, timeout_ms);
    if (r > 0) return true;  // ready, or an error/hangup the next call reports
    if (r < 0 && errno == EINTR) continue;
    x.dead = true;
    if (r == 0) {
      x.timed_out = true;
      *ec = asio::error::make_error_code(asio::error::timed_out);
    } else {
      *ec = beast::error_code(errno, beast::system_category());
    }
    return false;
  }
}

template <class Stream>
beast::error_code Connection<Stream>::SendAll(Exchange& x, struct iovec* iov, int iovcnt,
                                              int flags) {
  if (x.dead) return asio::error::make_error_code(asio::error::broken_pipe);
  const int sock = fd_;
  while (iovcnt > 0) {
    struct msghdr m = {};
    m.msg_iov = iov;
    m.msg_iovlen = size_t(iovcnt);
    const ssize_t n = ::sendmsg(sock, &m, flags | MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
      const int e = errno;
      if (e == EINTR) continue;
      if (e == EAGAIN) {
        beast::error_code ec;
        if (!WaitSocket(x, true, &ec)) return ec;
        continue;
      }
      x.dead = true;
      return beast::error_code(e, beast::system_category());
    }
    size_t left = size_t(n);
    while (iovcnt > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      ++iov;
      --iovcnt;
    }
    if (iovcnt > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + left;
      iov->iov_len -= left;
    }
  }
  return {};
}

template <class Stream>
Status Connection<Stream>::ReadBodyDirect(Exchange& x, void* buf, size_t n, size_t* got) {
  *got = 0;
  if (n == 0 || x.body_left == 0) return Status::Ok();
  if (x.dead) return Status(Code::kIncompleteBody, "the connection failed");
  if (x.expect_continue && !x.continue_sent) RETURN_IF_ERROR(SendContinue(x));
  n = size_t(std::min<uint64_t>(n, x.body_left));
  if (buf_.size() > 0) {
    // Body bytes that arrived with the head.
    const size_t k = std::min(n, buf_.size());
    std::memcpy(buf, buf_.data().data(), k);
    buf_.consume(k);
    *got = k;
  } else {
    const int sock = fd_;
    for (;;) {
      const ssize_t r = ::recv(sock, buf, n, MSG_DONTWAIT);
      if (r > 0) {
        *got = size_t(r);
        break;
      }
      const int e = r == 0 ? 0 : errno;
      if (e == EINTR) continue;
      beast::error_code ec;
      if (e == EAGAIN && WaitSocket(x, false, &ec)) continue;
      // An end or a reset leaves the descriptor open (the answer may still go out); a failed
      // wait marked the exchange dead already.
      x.keep_alive = false;
      if (x.timed_out) {
        return Status(Code::kRequestTimeout, "the client stopped sending the body");
      }
      if (e == 0 || e == ECONNRESET) {
        return Status(Code::kIncompleteBody, "the body ended before its announced length");
      }
      return Status(Code::kIncompleteBody,
                    "reading the body: " + (e == EAGAIN ? ec.message() : std::strerror(e)));
    }
  }
  x.body_left -= *got;
  x.bytes_in += *got;
  return Status::Ok();
}

template <class Stream>
Status Connection<Stream>::ReadBody(Exchange& x, void* buf, size_t n, size_t* got) {
  if (x.direct) return ReadBodyDirect(x, buf, n, got);
  *got = 0;
  auto& p = *parser_;
  if (n == 0 || p.is_done()) return Status::Ok();
  if (x.expect_continue && !x.continue_sent) RETURN_IF_ERROR(SendContinue(x));
  while (*got == 0 && !p.is_done()) {
    p.get().body().data = buf;
    p.get().body().size = n;
    auto [ec, r] = Blocking(srv_.opt.io_timeout, [&](auto done) {
      http::async_read_some(stream_, buf_, p, std::move(done));
    });
    *got = n - p.get().body().size;
    x.bytes_in += *got;
    if (ec && ec != http::error::need_buffer) {
      x.keep_alive = false;
      if (timed_out_) return Status(Code::kRequestTimeout, "the client stopped sending the body");
      if (ec == http::error::body_limit) {
        return Status(Code::kEntityTooLarge, "the body is larger than the server takes");
      }
      if (ec == http::error::partial_message || ec == asio::error::eof ||
          ec == asio::error::connection_reset) {
        return Status(Code::kIncompleteBody, "the body ended before its announced length");
      }
      return Status(Code::kIncompleteBody, "reading the body: " + ec.message());
    }
  }
  return Status::Ok();
}

template <class Stream>
void Connection<Stream>::Discard(Exchange& x) {
  if (!x.keep_alive || BodyDone(x)) return;
  char sink[16 << 10];
  uint64_t dropped = 0;
  while (!BodyDone(x)) {
    size_t got = 0;
    if (!ReadBody(x, sink, sizeof(sink), &got).ok()) return;  // keep_alive already false
    dropped += got;
    if (dropped > srv_.opt.discard_limit) {
      x.keep_alive = false;
      return;
    }
  }
}

template <class Stream>
void Connection<Stream>::Serve(Exchange& x) {
  HttpRequest& req = x.req;
  Body body(*this, x);
  Writer out(*this, x);
  Status st;
  auto target = ParseTarget(req.target);
  if (!target.ok()) {
    st = target.status();
  } else {
    req.raw_path = std::move(target->raw_path);
    req.path = std::move(target->path);
    req.query = std::move(target->query);
    const std::string* host = req.Header("host");
    auto addr = ResolveAddress(req.raw_path, host ? *host : std::string(), srv_.opt.domain);
    if (!addr.ok()) {
      st = addr.status();
    } else {
      req.bucket = std::move(addr->bucket);
      req.key = std::move(addr->key);
    }
  }
  if (st.ok() && req.method == "GET" && req.raw_path == "/health" && req.query.empty()) {
    if (srv_.opt.health_body) {
      st = out.Send(200, {{"Content-Type", "application/json"}}, srv_.opt.health_body());
    } else {
      st = out.Send(200, {{"Content-Type", "text/plain"}}, "ok\n");
    }
  } else if (st.ok()) {
    Identity who;
    std::unique_ptr<Source> wrapped;
    st = srv_.auth->Authenticate(req, body, &who, &wrapped);
    if (st.ok()) st = srv_.handler->Handle(req, who, wrapped ? *wrapped : body, out);
  }
  if (st.ok() && !out.begun()) st = Internal("the handler sent no response");
  if (!st.ok() && !out.begun()) {
    const s3::S3Error& info = s3::S3ErrorFor(st.code());
    Fields h;
    if (info.http_status == 503 || st.code() == Code::kSlowDown) h.emplace_back("Retry-After", "1");
    if (info.http_status == 304 || x.head) {
      out.Begin(info.http_status, h, 0).IgnoreError();
    } else {
      h.emplace_back("Content-Type", "application/xml");
      out.Send(info.http_status, h, s3::ErrorXml(st, req.path, req.request_id)).IgnoreError();
    }
  }
  out.Finish();
  if (x.broken || x.dead) x.keep_alive = false;
  Discard(x);
  if (srv_.opt.access_log) {
    AccessRecord r;
    r.time_ns = x.start_ns;
    r.remote = remote_;
    r.method = req.method;
    r.path = req.target;
    r.status = x.status;
    r.bytes_in = x.bytes_in;
    r.bytes_out = x.bytes_out;
    r.micros = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - x.t0).count();
    r.request_id = req.request_id;
    srv_.opt.access_log->Append(r);
  }
  spare_req_ = std::move(req);  // for the next exchange's StartExchange
}

template <class Stream>
int Connection<Stream>::CheckHead(bool over_limit, size_t* fields, Status* err) const {
  const auto& h = parser_->get();
  *fields = 0;
  for (auto it = h.begin(); it != h.end(); ++it) ++*fields;
  if (*fields > srv_.opt.max_header_count) {
    *err = Status(Code::kInvalidArgument, "too many request header fields");
    return 431;
  }
  if (h.target().size() > srv_.opt.max_target_bytes) {
    *err = Status(Code::kInvalidArgument, "the request target is too long");
    return 414;
  }
  if (over_limit) {
    *err = Status(Code::kSlowDown, "too many connections; reduce your request rate");
    return 503;
  }
  if (h.version() != 11 && h.version() != 10) {
    *err = Status(Code::kNotImplemented, "HTTP version not supported");
    return 505;
  }
  return 0;
}

template <class Stream>
void Connection<Stream>::NewParser() {
  parser_.reset();
  head_arena_.Reset();
  parser_.emplace(std::piecewise_construct, std::make_tuple(),
                  std::make_tuple(ArenaAllocator<char>(&head_arena_)));
  parser_->header_limit(static_cast<std::uint32_t>(srv_.opt.header_limit));
  parser_->body_limit(srv_.opt.max_body_bytes);
}

template <class Stream>
void Connection<Stream>::StartExchange(Exchange& x, size_t fields, const char* request_id) {
  const auto& h = parser_->get();
  // The last exchange's buffers, every member set again below: assign() keeps their capacity.
  x.req = std::move(spare_req_);
  x.req.raw_path.clear();
  x.req.path.clear();
  x.req.query.clear();
  x.req.bucket.clear();
  x.req.key.clear();
  x.req.content_length.reset();
  x.req.request_id.assign(request_id);
  x.req.method.assign(h.method_string().data(), h.method_string().size());
  x.req.target.assign(h.target().data(), h.target().size());
  x.req.remote.assign(remote_);
  x.req.headers.resize(fields);
  size_t i = 0;
  for (auto it = h.begin(); it != h.end() && i < fields; ++it, ++i) {
    std::string& name = x.req.headers[i].first;
    name.assign(it->name_string().data(), it->name_string().size());
    for (char& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
    x.req.headers[i].second.assign(it->value().data(), it->value().size());
  }
  x.req.headers.resize(i);
  x.req.chunked = parser_->chunked();
  if (auto cl = parser_->content_length()) x.req.content_length = *cl;
  if constexpr (!kTls) {
    if (!x.req.chunked && x.req.content_length) {
      x.direct = true;
      x.body_left = *x.req.content_length;
    }
  }
  x.keep_alive = parser_->keep_alive();
  x.head = x.req.method == "HEAD";
  // No 1xx to an HTTP/1.0 client (RFC 9110 15.2).
  if (const std::string* e = x.req.Header("expect"); e != nullptr && h.version() == 11) {
    x.expect_continue = IEquals(*e, "100-continue");
  }
}

template <class Stream>
bool Connection<Stream>::NextHead(Clock::time_point linger_until, bool may_linger,
                                  size_t* used) {
  const int sock = fd_;
  for (;;) {
    if (buf_.size() > 0) {
      NewParser();
      beast::error_code ec;
      // Beast takes a head only when it is whole (it consumes nothing before), and stops at its
      // end (the parser is not eager): the body stays in buf_, as after async_read_header.
      *used = parser_->put(buf_.data(), ec);
      if (!ec && parser_->is_header_done()) return true;
      if (ec != http::error::need_more) return false;  // the network thread answers it
      if (buf_.size() >= srv_.opt.header_limit) return false;
    }
    const ssize_t r = ::recv(sock, buf_.prepare(kReadChunk).data(), kReadChunk, MSG_DONTWAIT);
    if (r > 0) {
      buf_.commit(size_t(r));
      continue;
    }
    // An end or an error: the network thread meets it again on its own read and closes.
    if (r == 0 || (errno != EAGAIN && errno != EINTR)) return false;
    if (errno == EINTR) continue;
    if (!may_linger) return false;
    const auto left = std::chrono::duration_cast<std::chrono::microseconds>(linger_until -
                                                                            Clock::now());
    if (left.count() <= 0) return false;
    struct pollfd pfd = {};
    pfd.fd = sock;
    pfd.events = POLLIN;
    struct timespec ts = {time_t(left.count() / 1000000), long(left.count() % 1000000) * 1000};
    srv_.lingering.fetch_add(1, std::memory_order_relaxed);
    const int pr = ::ppoll(&pfd, 1, &ts, nullptr);
    srv_.lingering.fetch_sub(1, std::memory_order_relaxed);
    if (pr == 0) return false;
    if (pr < 0 && errno != EINTR) return false;
    if (srv_.stopping.load()) return false;
  }
}

template <class Stream>
bool Connection<Stream>::ServeMore() {
  // A turn: at most kTurnRequests requests or kTurnTime, and only while no other task waits for
  // a pool thread (queued with every thread busy); then the connection goes back to the network
  // thread, and its next request queues behind the others', so a busy connection does not hold
  // a pool thread from them. Between requests the thread waits at most kLinger for the next one
  // (the client reads the answer and sends again), and only while fewer than half the pool's
  // threads wait so; a head that is not whole by then goes back with its bytes in buf_. Each
  // return costs a network thread's read and wake-up and a hand-off to the pool again (~2
  // context switches): under 16 connections of 4 KiB GETs on two busy cores a client's next
  // request comes 1-3 ms after its answer, so the wait (5 ms) and the turn (100 ms) are long
  // enough that ~2% of the requests go back instead of ~15% (1 ms, 20 ms); a task that queues
  // meanwhile with every pool thread busy waits at most one such wait.
  static constexpr int kTurnRequests = 64;
  static constexpr Millis kTurnTime{100};
  static constexpr std::chrono::microseconds kLinger{5000};
  const Clock::time_point turn_end = Clock::now() + kTurnTime;
  const int max_lingering = srv_.opt.storage_threads / 2;
  for (int served = 1; served < kTurnRequests; ++served) {
    if (srv_.stopping.load()) break;
    if (srv_.pool_queued.load(std::memory_order_relaxed) +
            srv_.pool_busy.load(std::memory_order_relaxed) >
        srv_.opt.storage_threads) {
      srv_.turns_handed_back.fetch_add(1, std::memory_order_relaxed);
      break;
    }
    const Clock::time_point now = Clock::now();
    if (now >= turn_end) break;
    const bool may_linger = srv_.lingering.load(std::memory_order_relaxed) < max_lingering;
    size_t used = 0;
    if (!NextHead(std::min(turn_end, now + kLinger), may_linger, &used)) break;
    size_t fields = 0;
    Status err;
    if (CheckHead(false, &fields, &err) != 0) break;  // still in buf_: the network thread answers
    if (released_ && parser_->chunked()) break;        // read through the strand: not here
    buf_.consume(used);
    Exchange x;
    x.start_ns = WallNs();
    x.t0 = Clock::now();
    char request_id[17];
    srv_.NewRequestId(request_id);
    StartExchange(x, fields, request_id);
    Serve(x);
    if (!x.keep_alive) return false;
  }
  return true;
}

template <class Stream>
asio::awaitable<void> Connection<Stream>::SendSimple(int status, const Status& err,
                                                     std::string_view resource,
                                                     const char* request_id, int64_t start_ns,
                                                     Clock::time_point t0, std::string_view method,
                                                     std::string_view path) {
  http::response<http::string_body> res;
  res.version(11);
  res.result(static_cast<unsigned>(status));
  res.set("x-amz-request-id", request_id);
  res.set(http::field::server, "cairn");
  res.set(http::field::content_type, "application/xml");
  if (status == 503) res.set(http::field::retry_after, "1");
  res.body() = s3::ErrorXml(err, resource, request_id);
  res.keep_alive(false);
  res.prepare_payload();
  beast::error_code ec;
  Arm(srv_.opt.io_timeout);
  const size_t n =
      co_await http::async_write(stream_, res, asio::redirect_error(asio::use_awaitable, ec));
  Disarm();
  if (srv_.opt.access_log) {
    AccessRecord r;
    r.time_ns = start_ns;
    r.remote = remote_;
    r.method = method;
    r.path = path;
    r.status = status;
    r.bytes_out = n;
    r.micros = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
    r.request_id = request_id;
    srv_.opt.access_log->Append(r);
  }
}

template <class Stream>
asio::awaitable<void> Connection<Stream>::Run(bool over_limit) {
  beast::error_code ec;
  auto& sock = beast::get_lowest_layer(stream_);
  sock.set_option(tcp::no_delay(true), ec);
  // Plain HTTP: pool threads read and write the descriptor directly and must never block on it.
  if constexpr (!kTls) {
    sock.native_non_blocking(true, ec);
    fd_ = sock.native_handle();
    const auto local = sock.local_endpoint(ec);
    if (!ec) proto_ = local.protocol();
  }
  {
    auto ep = sock.remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
  }
  if constexpr (kTls) {
    Arm(srv_.opt.header_timeout);
    co_await stream_.async_handshake(asio::ssl::stream_base::server,
                                     asio::redirect_error(asio::use_awaitable, ec));
    Disarm();
    if (ec) {
      CloseSocket();
      co_return;
    }
  }
  bool first = true;
  while (!srv_.stopping.load()) {
    // Waiting for the next request: the idle timeout (the header timeout for the first one).
    idle_ = true;
    if (buf_.size() == 0) {
      Arm(first ? srv_.opt.header_timeout : srv_.opt.idle_timeout);
      const size_t n = co_await stream_.async_read_some(
          buf_.prepare(kReadChunk), asio::redirect_error(asio::use_awaitable, ec));
      Disarm();
      if (ec) break;
      buf_.commit(n);
    }
    idle_ = false;
    first = false;
    const int64_t start_ns = WallNs();
    const Clock::time_point t0 = Clock::now();
    char request_id[17];
    srv_.NewRequestId(request_id);

    NewParser();
    Arm(srv_.opt.header_timeout);
    co_await http::async_read_header(stream_, buf_, *parser_,
                                     asio::redirect_error(asio::use_awaitable, ec));
    Disarm();
    if (ec) {
      if (timed_out_ || ec == asio::error::eof || ec == asio::error::operation_aborted ||
          ec == asio::error::connection_reset || ec == http::error::end_of_stream) {
        break;  // cut off, or the client went away: nobody to answer
      }
      if (ec == http::error::header_limit) {
        co_await SendSimple(431, Status(Code::kInvalidArgument, "the request header is too large"),
                            "", request_id, start_ns, t0, "-", "-");
      } else if (ec == http::error::body_limit) {
        co_await SendSimple(400, Status(Code::kEntityTooLarge, "the body is larger than 5 GiB"), "",
                            request_id, start_ns, t0, "-", "-");
      } else {
        co_await SendSimple(
            400, Status(Code::kInvalidArgument, "malformed HTTP request: " + ec.message()), "",
            request_id, start_ns, t0, "-", "-");
      }
      break;
    }
    size_t fields = 0;
    Status err;
    if (const int status = CheckHead(over_limit, &fields, &err); status != 0) {
      const auto& h = parser_->get();
      const std::string_view method(h.method_string().data(), h.method_string().size());
      const std::string_view target(h.target().data(), h.target().size());
      co_await SendSimple(status, err, "", request_id, start_ns, t0, method,
                          status == 414 ? std::string_view("-") : target);
      break;
    }
    Exchange x;
    x.start_ns = start_ns;
    x.t0 = t0;
    StartExchange(x, fields, request_id);
    bool keep = true;
    if constexpr (!kTls) {
      // Out of the epoll set while a pool thread has the connection (see fd_): Asio would wake
      // a network thread for every request that arrives meanwhile, and it has nothing to do.
      if (!x.req.chunked) {
        sock.release(ec);
        released_ = !ec;
      }
    }
    co_await RunOnPool(srv_, [&] {
      try {
        Serve(x);
        keep = x.keep_alive;
        if constexpr (!kTls) {
          if (keep) keep = ServeMore();
        }
      } catch (...) {
        // Out of memory in a handler or the store (nothing else throws there): this connection
        // is closed, whatever it had sent; the server and its other connections go on. A PUT cut
        // off this way commits nothing (its temp files are removed, or left for gc).
        ReportException(std::current_exception());
        keep = false;
      }
    });
    if constexpr (!kTls) {
      if (released_) {
        released_ = false;
        // Registered again (EPOLL_CTL_ADD reports bytes that arrived meanwhile, and the next
        // read tries the socket before it waits). The descriptor stays non-blocking.
        sock.assign(proto_, fd_, ec);
        if (ec) {
          ::close(fd_);
          fd_ = -1;
          break;
        }
      }
    }
    if (!keep) break;
  }
  Disarm();
  if constexpr (kTls) {
    // No TLS close_notify exchange: it could wait on a client that is gone; close the socket.
  }
  CloseSocket();
}

}  // namespace

asio::awaitable<void> HttpServer::Impl::AcceptLoop() {
  Millis backoff(10);
  asio::steady_timer pause(ioc);
  const int refuse_above = opt.max_connections + opt.max_connections / 4 + 8;
  for (;;) {
    beast::error_code ec;
    tcp::socket sock(asio::make_strand(ioc));
    co_await acceptor.async_accept(sock, asio::redirect_error(asio::use_awaitable, ec));
    if (stopping.load() || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      if (IsOutOfDescriptors(ec)) {
        // Out of descriptors: try again later instead of spinning on the same error.
        pause.expires_after(backoff);
        co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        backoff = std::min(backoff * 2, Millis(1000));
      }
      continue;
    }
    backoff = Millis(10);
    const int n = connections.fetch_add(1) + 1;
    if (n > refuse_above) {
      beast::error_code ignored;
      sock.close(ignored);
      connections.fetch_sub(1);
      continue;
    }
    const bool over = n > opt.max_connections;
    auto ex = sock.get_executor();
    if (tls) {
      auto c = std::make_shared<Connection<asio::ssl::stream<tcp::socket>>>(
          *this, asio::ssl::stream<tcp::socket>(std::move(sock), *tls));
      asio::co_spawn(ex, c->Main(c, over), ReportException);
    } else {
      auto c = std::make_shared<Connection<tcp::socket>>(*this, std::move(sock));
      asio::co_spawn(ex, c->Main(c, over), ReportException);
    }
  }
}

void HttpServer::Impl::StopImpl() {
  {
    std::lock_guard<std::mutex> lk(stop_mu);
    if (stop_started) return;
    stop_started = true;
  }
  stopping.store(true);
  asio::post(ioc, [this] {
    beast::error_code ignored;
    acceptor.close(ignored);
    if (signals) signals->cancel(ignored);
  });
  // References are taken under the lock and dropped outside it: the last one may destroy a
  // connection, whose destructor takes conns_mu.
  auto poke = [this](bool force) {
    std::vector<std::shared_ptr<ConnBase>> live;
    {
      std::lock_guard<std::mutex> lk(conns_mu);
      for (ConnBase* c : conns) {
        if (auto p = c->Ref()) live.push_back(std::move(p));
      }
    }
    for (auto& c : live) c->RequestStop(force);
  };
  poke(false);
  {
    std::unique_lock<std::mutex> lk(stop_mu);
    stop_cv.wait_for(lk, opt.shutdown_grace, [&] { return connections.load() == 0; });
  }
  // Requests still running past the grace: their sockets are closed, so their reads and writes
  // fail at once; a handler inside the store still finishes its call (a PUT commits or not).
  while (connections.load() > 0) {
    poke(true);
    std::unique_lock<std::mutex> lk(stop_mu);
    stop_cv.wait_for(lk, Millis(100), [&] { return connections.load() == 0; });
  }
  work.reset();
  ioc.stop();
  for (auto& t : io_threads) t.join();
  io_threads.clear();
  pool.join();
  std::lock_guard<std::mutex> lk(stop_mu);
  stopped = true;
  stop_cv.notify_all();
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const ServerOptions& opt, Authenticator* auth,
                                                      S3Handler* handler) {
  if (auth == nullptr || handler == nullptr)
    return InvalidArgument("server: no authenticator or handler");
  if (opt.threads < 1 || opt.storage_threads < 1 || opt.max_connections < 1) {
    return InvalidArgument("server: threads and max connections must be at least 1");
  }
  auto impl = std::make_unique<Impl>(opt);
  impl->auth = auth;
  impl->handler = handler;
  impl->id_salt = std::random_device{}() * 0x100000001ull ^ uint64_t(WallNs());
  if (opt.tls_cert.empty() != opt.tls_key.empty()) {
    return InvalidArgument("--tls-cert and --tls-key go together");
  }
  beast::error_code ec;
  if (!opt.tls_cert.empty()) {
    impl->tls.emplace(asio::ssl::context::tls_server);
    impl->tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                           asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                           asio::ssl::context::no_tlsv1_1);
    impl->tls->use_certificate_chain_file(opt.tls_cert, ec);
    if (ec) return InvalidArgument("--tls-cert " + opt.tls_cert + ": " + ec.message());
    impl->tls->use_private_key_file(opt.tls_key, asio::ssl::context::pem, ec);
    if (ec) return InvalidArgument("--tls-key " + opt.tls_key + ": " + ec.message());
  }
  const auto address = asio::ip::make_address(opt.host, ec);
  if (ec) return InvalidArgument("address '" + opt.host + "': " + ec.message());
  const tcp::endpoint ep(address, opt.port);
  auto& acc = impl->acceptor;
  acc.open(ep.protocol(), ec);
  if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(ep, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status(Code::kIOError, "listening on " + opt.host + ":" + std::to_string(opt.port) +
                                      ": " + ec.message());
  }
  impl->bound_port = acc.local_endpoint(ec).port();
  Impl* p = impl.get();
  if (opt.handle_signals) {
    p->signals.emplace(p->ioc, SIGINT, SIGTERM);
    p->signals->async_wait([p](beast::error_code e, int) {
      if (!e) std::thread([p] { p->StopImpl(); }).detach();
    });
  }
  p->work.emplace(p->ioc.get_executor());
  asio::co_spawn(p->ioc, p->AcceptLoop(), asio::detached);
  // As many network threads as asked, or as the system lets start; none is an error.
  if (StartThreads(&p->io_threads, size_t(opt.threads), [p] { p->ioc.run(); }) == 0) {
    p->work.reset();
    p->ioc.stop();
    return Status(Code::kIOError,
                  "cannot start a network thread (the system is out of threads or memory)");
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

uint16_t HttpServer::port() const { return impl_->bound_port; }

bool HttpServer::tls() const { return impl_->tls.has_value(); }

int HttpServer::connections() const { return impl_->connections.load(); }

uint64_t HttpServer::turns_handed_back() const { return impl_->turns_handed_back.load(); }

void HttpServer::Stop() {
  impl_->StopImpl();
  Wait();
}

void HttpServer::Wait() {
  std::unique_lock<std::mutex> lk(impl_->stop_mu);
  impl_->stop_cv.wait(lk, [&] { return impl_->stopped; });
}

}  // namespace cairn::server
