#!/usr/bin/python3
"""Peer for bench/shards_vs_peers.sh: rebuild a file from any K share files of zfec_encode.py.

Usage: zfec_decode.py -o OUTFILE [--force] SHARE... | DIR

Reads the headers of the given share files (or of every *.zfw file in DIR), checks that they
agree and that each file has the expected length, picks K distinct shares (data shares first, so
the decoder only computes what is missing), and streams the stripes through zfec.Decoder.
"""
import argparse
import os
import struct
import sys

import zfec

MAGIC = b"ZFW1"
HEADER = struct.Struct("<4sBBBBIQ")


def die(msg):
    sys.exit("zfec_decode: " + msg)


def stripes(length, k, chunk):
    """(input bytes, bytes per share) of each stripe, as zfec_encode.py cut them."""
    full = k * chunk
    while length > 0:
        n = min(length, full)
        yield n, (chunk if n == full else -(-n // k))
        length -= n


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", required=True, help="file to write")
    ap.add_argument("--force", action="store_true", help="overwrite an existing output")
    ap.add_argument("shares", nargs="+")
    a = ap.parse_args()

    paths = []
    for p in a.shares:
        if os.path.isdir(p):
            paths += sorted(os.path.join(p, n) for n in os.listdir(p) if n.endswith(".zfw"))
        else:
            paths.append(p)

    byshare = {}
    meta = None
    for p in paths:
        with open(p, "rb") as f:
            raw = f.read(HEADER.size)
        if len(raw) != HEADER.size:
            print("zfec_decode: %s: short header, skipped" % p, file=sys.stderr)
            continue
        magic, k, m, num, _, chunk, length = HEADER.unpack(raw)
        if magic != MAGIC or num >= m or k < 1 or k > m or chunk < 1:
            print("zfec_decode: %s: not a share file, skipped" % p, file=sys.stderr)
            continue
        if meta is None:
            meta = (k, m, chunk, length)
        elif meta != (k, m, chunk, length):
            die("%s: belongs to another encoding (k, m, chunk, length differ)" % p)
        want = HEADER.size + sum(s for _, s in stripes(length, k, chunk))
        if os.path.getsize(p) != want:
            print("zfec_decode: %s: %d bytes, expected %d; skipped" % (p, os.path.getsize(p), want),
                  file=sys.stderr)
            continue
        byshare.setdefault(num, p)
    if meta is None:
        die("no share files")
    k, m, chunk, length = meta
    if len(byshare) < k:
        die("%d distinct shares, need %d" % (len(byshare), k))
    nums = tuple(sorted(byshare)[:k])

    try:
        out = open(a.output, "wb" if a.force else "xb")
    except FileExistsError:
        die("%s exists (use --force)" % a.output)
    dec = zfec.Decoder(k, m)
    ins = [open(byshare[n], "rb", buffering=0) for n in nums]
    for f in ins:
        f.seek(HEADER.size)
    bufs = [bytearray(chunk) for _ in nums]
    views = [memoryview(b) for b in bufs]
    for n, s in stripes(length, k, chunk):
        blocks = []
        for f, v in zip(ins, views):
            got = 0
            while got < s:
                r = f.readinto(v[got:s])
                if not r:
                    die("%s: truncated" % f.name)
                got += r
            blocks.append(v[:s])
        left = n
        for b in dec.decode(tuple(blocks), nums):
            if left >= len(b):
                out.write(b)
                left -= len(b)
            else:
                out.write(memoryview(b)[:left])
                left = 0
    for f in ins:
        f.close()
    out.close()


if __name__ == "__main__":
    main()
