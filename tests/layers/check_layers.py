"""An include that points up a layer does not compile.

Each probe below is compiled the way meson compiles the files of one layer
(that layer's include path and CW_BUILDING_<LAYER>); it must fail there and
compile where the include is legal, so the probe itself is known to be
sound.  Run by `meson test` as `layers`:

    python check_layers.py SOURCE_ROOT CC [CC_ARGS...]

storage/ is compiled with libhdf5's flags (from pkg-config, as meson finds
them) to find hdf5.h; the engine is compiled without them.
"""
import os
import subprocess
import sys
import tempfile

LAYERS = {  # layer: folders on its include path
    "CORE": ["include", "core"],
    "STORAGE": ["include", "core", "storage"],
    "ENGINE": ["include", "core", "storage", "engine"],
}

# (what is included, the layer that may not include it, one that may, and
# what the refusal must say: not found on the path, or the guard's #error)
NOT_FOUND = "No such file"
# How each compiler says NOT_FOUND: GCC, clang.
NOT_FOUND_MESSAGES = ("No such file", "file not found")
PROBES = [
    ('#include "storage_impl.h"', "CORE", "STORAGE", NOT_FOUND),
    ('#include "engine_impl.h"', "CORE", "ENGINE", NOT_FOUND),
    ('#include "engine_impl.h"', "STORAGE", "ENGINE", NOT_FOUND),
    # A relative path finds the file: the header's guard stops it.
    ('#include "../engine/engine_impl.h"', "STORAGE", "ENGINE", "internal to"),
    ('#include "../storage/storage_impl.h"', "CORE", "STORAGE", "internal to"),
    ('#include "../core/core_impl.h"', None, "CORE", None),
    ('#include "../storage/h5/h5_impl.h"', "ENGINE", "STORAGE", "internal to"),
    ('#include "../storage/h5/h5index_impl.h"', "ENGINE", "STORAGE", "internal to"),
    ('#include "../storage/h5/src_impl.h"', "ENGINE", "STORAGE", "internal to"),
    # libhdf5's header is not on the engine's path at all.
    ("#include <hdf5.h>", "ENGINE", "STORAGE", NOT_FOUND),
]


def compiles(root, cc, hdf5, code, layer):
    # The probe sits in the folder of the layer that includes it, as a file
    # of that layer would.
    folder = os.path.join(root, layer.lower())
    with tempfile.NamedTemporaryFile("w", suffix=".c", dir=folder,
                                     prefix=".layer-probe-") as f:
        f.write(code + "\nint cw_layer_probe(void);\nint cw_layer_probe(void) { return 0; }\n")
        f.flush()
        args = cc + ["-fsyntax-only", "-D_GNU_SOURCE", "-DCW_BUILDING_LIBRARY",
                     f"-DCW_BUILDING_{layer}"]
        args += [f"-I{os.path.join(root, d)}" for d in LAYERS[layer]]
        if layer == "STORAGE":
            args += hdf5
        r = subprocess.run(args + [f.name], capture_output=True, text=True)
        return r.returncode == 0, r.stderr


def main():
    root, cc = sys.argv[1], sys.argv[2:]
    hdf5 = subprocess.run(["pkg-config", "--cflags", "hdf5"], capture_output=True,
                          text=True, check=True).stdout.split()
    failures = 0
    for code, banned, allowed, why in PROBES:
        if banned is not None:
            ok, err = compiles(root, cc, hdf5, code, banned)
            said = NOT_FOUND_MESSAGES if why == NOT_FOUND else (why,)
            if ok or not any(m in err for m in said):
                print(f"FAIL: {code} in {banned}: expected '{why}', got:\n{err}")
                failures += 1
            else:
                print(f"ok: {code} refused in {banned} ({why})")
        ok, err = compiles(root, cc, hdf5, code, allowed)
        if not ok:
            print(f"FAIL: {code} does not compile in {allowed}:\n{err}")
            failures += 1
        else:
            print(f"ok: {code} compiles in {allowed}")
    print(f"layer probes: {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
