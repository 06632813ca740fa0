#!/usr/bin/env python3
"""Writes a reproducible .tar.gz for scripts/dist.sh (the same on Linux, macOS and Windows).

    mktar.py OUT.tar.gz MTIME [--exec NAME]... NAME=PATH...

Entries are written in the order given, as USTAR regular files (no directory entries), with
mode 0644 (0755 for a NAME given to --exec), uid/gid 0 owned by root, and the modification
time MTIME (seconds since the epoch) for every entry and for the gzip header. The same inputs
give the same bytes. The output is written beside OUT and renamed into place.
"""

import gzip
import io
import os
import sys
import tarfile


def main(argv):
    if len(argv) < 3:
        sys.exit("usage: mktar.py OUT.tar.gz MTIME [--exec NAME]... NAME=PATH...")
    out, mtime = argv[0], int(argv[1])
    executable = set()
    entries = []
    args = iter(argv[2:])
    for arg in args:
        if arg == "--exec":
            executable.add(next(args))
            continue
        name, sep, path = arg.partition("=")
        if not sep or not name or name.startswith("/") or ".." in name.split("/"):
            sys.exit(f"mktar.py: bad entry {arg!r} (want NAME=PATH, NAME relative)")
        entries.append((name, path))
    unknown = executable - {name for name, _ in entries}
    if unknown:
        sys.exit(f"mktar.py: --exec names no entry: {', '.join(sorted(unknown))}")

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, path in entries:
            with open(path, "rb") as f:
                data = f.read()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = mtime
            info.mode = 0o755 if name in executable else 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.type = tarfile.REGTYPE
            tar.addfile(info, io.BytesIO(data))

    tmp = f"{out}.tmp.{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            # No file name in the gzip header, a fixed time: reproducible.
            with gzip.GzipFile(filename="", mode="wb", fileobj=f, compresslevel=9, mtime=mtime) as gz:
                gz.write(raw.getvalue())
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


if __name__ == "__main__":
    main(sys.argv[1:])
