"""Compile every C file built with HDF5's headers against the headers of another
HDF5 release, with the flags the build uses (from meson's
compile_commands.json): a check that the sources build on Debian 13's HDF5
1.14 while this machine runs Debian 12's 1.10 (or the other way round).

    python tests/hdf5_compat.py BUILD_DIR [SUITE]

SUITE is the Debian release whose libhdf5-dev is fetched from
deb.debian.org (default: trixie, HDF5 1.14) into data/hdf5-compat/. The
package is only unpacked, never installed. Exit status 0 when every file
compiles without a warning, 1 when one does not, 2 when the package cannot
be fetched (offline).
"""
import json
import lzma
import os
import re
import shlex
import subprocess
import sys
import urllib.request

MIRROR = "http://deb.debian.org/debian"


def fetch_headers(suite, cache):
    """Unpack libhdf5-dev of suite into cache; returns its serial include
    folder and the HDF5 version."""
    inc = os.path.join(cache, suite, "usr/include/hdf5/serial")
    if not os.path.isfile(os.path.join(inc, "hdf5.h")):
        os.makedirs(os.path.join(cache, suite), exist_ok=True)
        index = f"{MIRROR}/dists/{suite}/main/binary-amd64/Packages.xz"
        with urllib.request.urlopen(index, timeout=60) as r:
            packages = lzma.decompress(r.read()).decode("utf-8", "replace")
        m = re.search(r"^Package: libhdf5-dev\n(?:.+\n)*?Filename: (\S+)", packages, re.M)
        if m is None:
            raise OSError(f"no libhdf5-dev in {suite}")
        deb = os.path.join(cache, suite, os.path.basename(m.group(1)))
        with urllib.request.urlopen(f"{MIRROR}/{m.group(1)}", timeout=120) as r, \
                open(deb, "wb") as f:
            f.write(r.read())
        subprocess.run(["dpkg-deb", "-x", deb, os.path.join(cache, suite)], check=True)
    with open(os.path.join(inc, "H5public.h"), encoding="latin-1") as f:
        version = re.search(r'H5_VERS_INFO "HDF5 library version: ([\d.]+)', f.read()).group(1)
    return inc, version


def main():
    build = os.path.abspath(sys.argv[1])
    suite = sys.argv[2] if len(sys.argv) > 2 else "trixie"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        inc, version = fetch_headers(suite, os.path.join(root, "data", "hdf5-compat"))
    except OSError as e:
        print(f"hdf5-compat: cannot fetch {suite}'s libhdf5-dev: {e}")
        return 2
    major_minor = tuple(int(v) for v in version.split(".")[:2])
    with open(os.path.join(build, "compile_commands.json")) as f:
        commands = json.load(f)
    failed = checked = 0
    for c in commands:
        src = os.path.normpath(os.path.join(c["directory"], c["file"]))
        args = shlex.split(c["command"])
        if not any(a.startswith("-I") and "hdf5" in a for a in args):
            continue    # built without HDF5's headers (the engine, core)
        out = []
        skip = False
        for a in args:
            if skip:
                skip = False
                continue
            if a in ("-o", "-MF", "-MQ"):
                skip = True
                continue
            if a in ("-MD", "-c") or a.startswith("-fdiagnostics-color"):
                continue
            if a.startswith("-I") and "hdf5" in a:
                a = "-I" + inc
            out.append(a)
        if major_minor >= (1, 12) and "-DH5_USE_110_API" not in out:
            out.append("-DH5_USE_110_API")    # what meson.build adds for >= 1.12
        r = subprocess.run(out + ["-fsyntax-only"], cwd=c["directory"],
                           capture_output=True, text=True)
        checked += 1
        if r.returncode != 0 or r.stderr.strip():
            failed += 1
            print(f"FAIL {os.path.relpath(src, root)}\n{r.stderr}")
    print(f"hdf5-compat: {checked} files against HDF5 {version} ({suite}): "
          f"{checked - failed} clean, {failed} failed")
    return 1 if failed or not checked else 0


if __name__ == "__main__":
    sys.exit(main())
