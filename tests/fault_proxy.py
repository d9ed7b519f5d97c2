#!/usr/bin/env python3
"""A fault-injecting HTTP/1.1 proxy for the transfer tests (issue 11: "a fault-injecting proxy in
tests/ that fails 5% of requests with 500/503, answers 1% with SlowDown, resets 1% of connections
and corrupts one download body").

It sits between an S3 client and one upstream server (e.g. `cairn serve`) and forwards requests
unchanged, Host header included, so SigV4 signatures made for the proxy's address still verify
upstream. Per request it draws one fault (seeded, so a run can be replayed):

  error     answer 500 InternalError or 503 ServiceUnavailable without forwarding
  slowdown  answer 503 SlowDown without forwarding
  reset     reset the connection (RST), half of the time before forwarding, half of the time
            after the upstream answered (a GET then loses its body part way through)
  corrupt   forward, but flip one byte of a 200 or 206 GET body (at most --corrupt-count times, only
            bodies of at least --corrupt-min bytes)

Each injected fault is one line in --log ("FAULT kind METHOD TARGET"); the tests count them to
prove the faults happened. Usage:

  fault_proxy.py --upstream http://127.0.0.1:PORT --port-file FILE [--error-rate 0.05]
                 [--slowdown-rate 0.01] [--reset-rate 0.01] [--corrupt-count 1]
                 [--corrupt-min 1] [--seed N] [--log FILE]

Listens on 127.0.0.1 on a free port, written to --port-file once listening. Stops on SIGTERM.
Python standard library only (http.server, http.client).
"""
import argparse
import http.client
import http.server
import os
import random
import signal
import socket
import socketserver
import struct
import sys
import threading
import urllib.parse

CHUNK = 64 << 10
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"}


class Faults:
    def __init__(self, args):
        self.rng = random.Random(args.seed)
        self.lock = threading.Lock()
        self.error = args.error_rate
        self.slowdown = args.slowdown_rate
        self.reset = args.reset_rate
        self.corrupt_left = args.corrupt_count
        self.corrupt_min = args.corrupt_min
        self.log = open(args.log, "a", buffering=1) if args.log else None

    def draw(self, method):
        """One fault for a request: None, 'error', 'slowdown', 'reset-before', 'reset-after',
        or 'corrupt' (a GET only; whether it applies is decided on the answer)."""
        with self.lock:
            r = self.rng.random()
            if r < self.error:
                return "error"
            r -= self.error
            if r < self.slowdown:
                return "slowdown"
            r -= self.slowdown
            if r < self.reset:
                return "reset-before" if self.rng.random() < 0.5 else "reset-after"
            if method == "GET" and self.corrupt_left > 0:
                return "corrupt"
            return None

    def take_corruption(self, length):
        with self.lock:
            if self.corrupt_left <= 0 or length < self.corrupt_min:
                return None
            self.corrupt_left -= 1
            return self.rng.randrange(length)

    def note(self, kind, method, target):
        if self.log:
            with self.lock:
                self.log.write("FAULT %s %s %s\n" % (kind, method, target))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fault-proxy"

    def log_message(self, fmt, *args):  # quiet: the fault log says what matters
        pass

    # One upstream connection per client connection, kept alive across its requests.
    def setup(self):
        super().setup()
        self.upstream = None

    def finish(self):
        try:
            super().finish()
        finally:
            if self.upstream is not None:
                self.upstream.close()

    def reset(self):
        """Ends the client connection with an RST (SO_LINGER 0), as a dropped connection does."""
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close_connection = True
        try:
            self.connection.close()
        except OSError:
            pass

    def read_body(self):
        """The request body as an iterator of pieces (Content-Length or chunked)."""
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return
                left = size
                while left > 0:
                    piece = self.rfile.read(min(left, CHUNK))
                    if not piece:
                        raise ConnectionError("client body ended early")
                    left -= len(piece)
                    yield piece
                self.rfile.readline(16)
        else:
            left = int(self.headers.get("Content-Length", "0") or "0")
            while left > 0:
                piece = self.rfile.read(min(left, CHUNK))
                if not piece:
                    raise ConnectionError("client body ended early")
                left -= len(piece)
                yield piece

    def answer_error(self, status, code, message):
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code>"
                "<Message>%s</Message><Resource>%s</Resource><RequestId>FAULTPROXY</RequestId>"
                "</Error>" % (code, message, self.path)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        if code == "SlowDown":
            self.send_header("Retry-After", "1")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        faults = self.server.faults
        fault = faults.draw(self.command)
        if fault == "reset-before":
            faults.note("reset-before", self.command, self.path)
            self.reset()
            return
        if fault in ("error", "slowdown"):
            # The body is read (and dropped) first so that the connection stays usable.
            for _ in self.read_body():
                pass
            if fault == "slowdown":
                faults.note("slowdown", self.command, self.path)
                self.answer_error(503, "SlowDown", "Please reduce your request rate.")
            elif faults.rng.random() < 0.5:
                faults.note("error-500", self.command, self.path)
                self.answer_error(500, "InternalError", "injected by fault_proxy")
            else:
                faults.note("error-503", self.command, self.path)
                self.answer_error(503, "ServiceUnavailable", "injected by fault_proxy")
            return
        self.forward(fault)

    def forward(self, fault):
        faults = self.server.faults
        up = self.server.upstream
        if self.upstream is None:
            self.upstream = http.client.HTTPConnection(up.hostname, up.port, timeout=300)
        conn = self.upstream
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() in HOP_BY_HOP:
                    continue
                conn.putheader(name, value)
            conn.endheaders()
            for piece in self.read_body():
                if chunked:
                    conn.send(b"%x\r\n" % len(piece) + piece + b"\r\n")
                else:
                    conn.send(piece)
            if chunked:
                conn.send(b"0\r\n\r\n")
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            self.upstream = None
            self.answer_error(502, "BadGateway", "upstream: %s" % e)
            self.close_connection = True
            return
        length = resp.getheader("Content-Length")
        length = int(length) if length is not None else None
        self.send_response_only(resp.status, resp.reason)
        for name, value in resp.getheaders():
            if name.lower() in HOP_BY_HOP or name.lower() == "transfer-encoding":
                continue
            self.send_header(name, value)
        if length is None:
            self.close_connection = True  # no length: the end of the connection ends the body
        self.end_headers()
        flip = None
        if fault == "corrupt" and self.command == "GET" and resp.status in (200, 206) and length:
            flip = faults.take_corruption(length)
            if flip is not None:
                faults.note("corrupt", self.command, self.path)
        cut = None
        if fault == "reset-after":
            faults.note("reset-after", self.command, self.path)
            cut = (length or 0) // 2
        sent = 0
        while True:
            if self.command == "HEAD" or resp.status in (204, 304):
                break
            piece = resp.read(CHUNK)
            if not piece:
                break
            if flip is not None and sent <= flip < sent + len(piece):
                b = bytearray(piece)
                b[flip - sent] ^= 0x5A
                piece = bytes(b)
            if cut is not None and sent + len(piece) > cut:
                self.wfile.write(piece[:cut - sent])
                self.wfile.flush()
                resp.close()
                conn.close()
                self.upstream = None
                self.reset()
                return
            self.wfile.write(piece)
            sent += len(piece)
        if cut is not None:  # nothing to cut part way: reset after the head
            self.wfile.flush()
            self.reset()
            return
        if resp.will_close:
            conn.close()
            self.upstream = None

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def server_bind(self):
        # HTTPServer.server_bind looks up the host's FQDN, which can hang without DNS: not needed.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--upstream", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--error-rate", type=float, default=0.05)
    p.add_argument("--slowdown-rate", type=float, default=0.01)
    p.add_argument("--reset-rate", type=float, default=0.01)
    p.add_argument("--corrupt-count", type=int, default=1)
    p.add_argument("--corrupt-min", type=int, default=1)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--log")
    args = p.parse_args()
    up = urllib.parse.urlsplit(args.upstream)
    if up.scheme != "http" or not up.hostname or not up.port:
        p.error("--upstream must be http://HOST:PORT")
    srv = Server(("127.0.0.1", 0), Handler)
    srv.upstream = up
    srv.faults = Faults(args)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=srv.shutdown).start())
    with open(args.port_file + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.replace(args.port_file + ".tmp", args.port_file)
    srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
