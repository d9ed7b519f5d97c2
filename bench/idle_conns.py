#!/usr/bin/env python3
"""Holds N idle keep-alive HTTP connections to 127.0.0.1:PORT for bench/s3_vs_peers.sh.

Usage: idle_conns.py PORT N READY_FILE [SECONDS]
Opens N connections, sends `GET /health` on each and reads its answer (the server must answer
200 and keep the connection), creates READY_FILE, then waits (SECONDS, default 600) holding them
open until it is killed. Exits 1 when a connection cannot be opened or is not answered 200.
"""
import socket
import sys
import time


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    port, n, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    hold = float(sys.argv[4]) if len(sys.argv) == 5 else 600
    conns = []
    for _ in range(n):
        c = socket.create_connection(("127.0.0.1", port), timeout=30)
        c.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        conns.append(c)
    for c in conns:
        data = b""
        while b"\r\n\r\n" not in data:
            more = c.recv(4096)
            if not more:
                sys.exit("idle_conns: the server closed a connection before answering")
            data += more
        if not data.startswith(b"HTTP/1.1 200"):
            sys.exit("idle_conns: answer %r" % data[:60])
        if b"connection: close" in data.lower():
            sys.exit("idle_conns: the server did not keep the connection")
    open(ready, "w").close()
    time.sleep(hold)


if __name__ == "__main__":
    main()
