// The "remote" backend of the conformance suites: a `cairn serve` child process over a plain
// directory in a temp dir, on a free loopback port, and an S3ObjectStore talking to it with SigV4
// credentials. The cairn binary comes from CAIRN_REMOTE_BIN (set by the ctest entry
// `remote-conformance`); when it is set, the suites run over this backend only (the `unit` entry
// runs them over the local backends). The child is stopped (SIGTERM, then waited for) when the
// fixture goes, whatever path the test took; it also dies with the test process (PR_SET_PDEATHSIG).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "libstore/client/s3_store.h"
#include "tests/plain_test_util.h"

namespace cairn::test {

// The cairn binary for the remote backend, or null when the suites run over local backends.
inline const char* RemoteBin() {
  const char* b = std::getenv("CAIRN_REMOTE_BIN");
  return b != nullptr && *b != '\0' ? b : nullptr;
}

// `kinds` when the local backends run, {"remote"} when CAIRN_REMOTE_BIN is set.
template <size_t N>
std::vector<const char*> BackendsOr(const char* const (&kinds)[N]) {
  if (RemoteBin() != nullptr) return {"remote"};
  return std::vector<const char*>(kinds, kinds + N);
}

class RemoteServer {
 public:
  RemoteServer() {
    const char* bin = RemoteBin();
    REQUIRE(bin != nullptr);
    data_ = tmp_.path() + "/data";
    std::filesystem::create_directory(data_);
    const std::string port_file = tmp_.path() + "/port", log = tmp_.path() + "/serve.log";
    std::vector<std::string> args = {bin,           "serve",        "--no-fsync", "--address",
                                     "127.0.0.1:0", "--port-file",  port_file,    "--access-key",
                                     kAccessKey,    "--secret-key", kSecretKey,   data_};
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(bin, argv.data());
      ::_exit(127);
    }
    std::string port;
    for (int i = 0; i < 200 && port.empty(); ++i) {
      std::ifstream in(port_file);
      std::getline(in, port);
      if (port.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    if (port.empty()) {
      Stop();
      std::ifstream in(log);
      std::string why((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      FAIL("cairn serve did not start: " << why);
    }
    endpoint_ = "http://127.0.0.1:" + port;
  }
  ~RemoteServer() { Stop(); }
  RemoteServer(const RemoteServer&) = delete;
  RemoteServer& operator=(const RemoteServer&) = delete;

  // A client of the server (retries as the CLI's default).
  std::unique_ptr<s3::S3Client> Client() const {
    s3::S3ClientOptions o;
    o.config.access_key = kAccessKey;
    o.config.secret_key = kSecretKey;
    o.config.region = "us-east-1";
    auto ep = s3::ParseEndpointUrl(endpoint_);
    REQUIRE(ep.ok());
    o.config.endpoint = *ep;
    o.config.endpoint.path_style = true;
    auto c = s3::S3Client::Create(std::move(o));
    REQUIRE(c.ok());
    return std::move(c).value();
  }
  std::unique_ptr<s3::S3ObjectStore> Store() const {
    auto s = s3::S3ObjectStore::Create(Client());
    REQUIRE(s.ok());
    return std::move(s).value();
  }
  const std::string& data_dir() const { return data_; }
  const std::string& endpoint() const { return endpoint_; }

 private:
  static constexpr const char* kAccessKey = "AKREMOTETEST0001";
  static constexpr const char* kSecretKey = "remote-test-secret-0123456789";
  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 200; ++i) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  PlainTmpDir tmp_;
  std::string data_, endpoint_;
  pid_t pid_ = -1;
};

}  // namespace cairn::test
