#!/usr/bin/python3
"""Peer for bench/shards_vs_peers.sh: split FILE into K+M share files with the zfec module.

Usage: zfec_encode.py -k K -m M [-o OUTDIR] [--chunk BYTES] FILE

Debian's python3-zfec ships the module but neither the zfec/zunfec tools nor pyutil (which
zfec.filefec imports), so this wrapper talks to zfec.Encoder directly. It streams the input in
stripes of K*CHUNK bytes (memory stays around (K+M)*CHUNK), and writes M files named
<basename>.<sharenum>_<M>.zfw (sharenum from 0, zero-padded; 0..K-1 hold the data) with our own
header:

    offset size  field
    0      4     magic b"ZFW1"
    4      1     k
    5      1     m (total number of shares, as zfec counts them)
    6      1     sharenum
    7      1     reserved (0)
    8      4     chunk: bytes per share per full stripe (little endian)
    12     8     length of the input file (little endian)

Stripe i covers input bytes [i*K*CHUNK, (i+1)*K*CHUNK); the last stripe of n < K*CHUNK bytes uses
ceil(n/K) bytes per share, zero-padded. zfec_decode.py undoes it.
"""
import argparse
import os
import struct
import sys

import zfec

MAGIC = b"ZFW1"
HEADER = struct.Struct("<4sBBBBIQ")


def share_name(base, sharenum, m):
    width = len(str(m - 1))
    return "%s.%0*d_%d.zfw" % (base, width, sharenum, m)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-k", type=int, required=True, help="shares needed to rebuild (data shares)")
    ap.add_argument("-m", type=int, required=True, help="total number of shares (zfec's m = K+M)")
    ap.add_argument("-o", "--outdir", default=None, help="directory of the share files (default: the file's)")
    ap.add_argument("--chunk", type=int, default=1 << 20, help="bytes per share per stripe (default 1 MiB)")
    ap.add_argument("--force", action="store_true", help="overwrite existing share files")
    ap.add_argument("file")
    a = ap.parse_args()
    if not (1 <= a.k <= a.m <= 256):
        sys.exit("zfec_encode: need 1 <= k <= m <= 256")
    if a.chunk <= 0:
        sys.exit("zfec_encode: --chunk must be positive")
    outdir = a.outdir if a.outdir is not None else (os.path.dirname(a.file) or ".")
    base = os.path.basename(a.file)
    enc = zfec.Encoder(a.k, a.m)

    mode = "wb" if a.force else "xb"
    names = [os.path.join(outdir, share_name(base, i, a.m)) for i in range(a.m)]
    outs = []
    try:
        for n in names:
            outs.append(open(n, mode))
    except FileExistsError as e:
        sys.exit("zfec_encode: %s exists (use --force)" % e.filename)

    stripe = bytearray(a.k * a.chunk)
    view = memoryview(stripe)
    total = 0
    with open(a.file, "rb", buffering=0) as f:
        # Placeholder headers; the length is patched in at the end.
        for i, o in enumerate(outs):
            o.write(HEADER.pack(MAGIC, a.k, a.m, i, 0, a.chunk, 0))
        while True:
            # Fill the stripe (readinto may return short counts).
            n = 0
            while n < len(stripe):
                got = f.readinto(view[n:])
                if not got:
                    break
                n += got
            if n == 0:
                break
            total += n
            if n == len(stripe):
                s = a.chunk
            else:
                s = -(-n // a.k)
                view[n:s * a.k] = bytes(s * a.k - n)  # zero padding of the last stripe
            blocks = tuple(view[i * s:(i + 1) * s] for i in range(a.k))
            for o, b in zip(outs, enc.encode(blocks)):
                o.write(b)
            if n < len(stripe):
                break
    for i, o in enumerate(outs):
        o.seek(0)
        o.write(HEADER.pack(MAGIC, a.k, a.m, i, 0, a.chunk, total))
        o.close()


if __name__ == "__main__":
    main()
