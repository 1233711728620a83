#!/usr/bin/env python3
"""The recording runtime's helper (rootfs-fixtures/foreign/configs.sh): copies a bundle's
config.json to DEST.json, byte for byte, and writes DEST.binds: one line per bind mount,
"file DESTINATION" or "dir DESTINATION", for the sources that exist now (they are gone when
the tests run, and must be recreated with the same kind)."""
import json
import os
import shutil
import sys

config, dest = sys.argv[1], sys.argv[2]
shutil.copyfile(config, dest + ".json")
with open(config) as f:
    spec = json.load(f)
lines = []
for m in spec.get("mounts") or []:
    opts = m.get("options") or []
    if m.get("type") != "bind" and "bind" not in opts and "rbind" not in opts:
        continue
    src = m.get("source", "")
    if os.path.isdir(src):
        lines.append("dir " + m["destination"])
    elif os.path.exists(src):
        lines.append("file " + m["destination"])
with open(dest + ".binds", "w") as f:
    f.write("".join(line + "\n" for line in lines))
