#!/usr/bin/env python3
"""Writes the seed inputs of rind's fuzz targets into fuzz/seeds/<target>/.

    fuzz/make-seeds.py [RIND_BINARY]

The seeds come from the real producers where there is one: `runc spec`, `rind spec`,
`ctr oci spec` (containerd), podman's config.json for a created container, umoci and skopeo
for layers and images. The hostile layers (escapes by symlink, hardlink, `..`, absolute names,
whiteouts of and through symlinks) are written here with Python's tarfile. Run as root (podman,
device nodes). The seeds are merged into fuzz/corpus/<target>/ by scripts/fuzz.sh --cmin.
"""

import gzip
import hashlib
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "seeds")
RIND = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.join(HERE, "..", "target", "release", "rind")
SEP = b"\n%%\n"


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def run(*cmd, cwd=None):
    return subprocess.run(cmd, cwd=cwd, check=True, capture_output=True).stdout


def have(tool):
    return shutil.which(tool) is not None


def jdump(v):
    return json.dumps(v, separators=(",", ":")).encode()


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


# ---------------------------------------------------------------- config.json (config)

def configs(tmp):
    out = {}
    for name, cmd in [("runc", ["runc", "spec"]), ("runc-rootless", ["runc", "spec", "--rootless"]),
                      ("rind", [RIND, "spec"])]:
        d = tempfile.mkdtemp(dir=tmp)
        if have(cmd[0]) or os.path.exists(cmd[0]):
            run(*cmd, cwd=d)
            out[name] = open(os.path.join(d, "config.json"), "rb").read()
    if have("ctr"):
        out["containerd"] = run("ctr", "oci", "spec")
    if have("podman"):
        root = tempfile.mkdtemp(dir=tmp)
        os.makedirs(os.path.join(root, "bin"))
        open(os.path.join(root, "bin", "true"), "w").write("x")
        tar = os.path.join(tmp, "rootfs.tar")
        run("tar", "-C", root, "-cf", tar, ".")
        n = "rind-fuzz-seed-%d" % os.getpid()
        run("podman", "import", tar, "localhost/%s:latest" % n)
        try:
            for name, extra in [("podman", []),
                                ("podman-privileged", ["--privileged", "-e", "A=B", "-u", "1000:1000",
                                                       "--tmpfs", "/run", "--read-only"])]:
                cid = run("podman", "create", "--name", n + name, *extra,
                          "localhost/%s:latest" % n, "/bin/true").decode().strip()
                subprocess.run(["podman", "init", n + name], capture_output=True, timeout=60)
                p = "/var/lib/containers/storage/overlay-containers/%s/userdata/config.json" % cid
                if os.path.exists(p):
                    out[name] = open(p, "rb").read()
                subprocess.run(["podman", "rm", "-f", n + name], capture_output=True)
        finally:
            subprocess.run(["podman", "rmi", "localhost/%s:latest" % n], capture_output=True)
    return out


# ---------------------------------------------------------------- tar helpers

def tar_bytes(entries, fmt=tarfile.PAX_FORMAT):
    """entries: (TarInfo, data or None)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for info, data in entries:
            if data is not None:
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
            else:
                t.addfile(info)
    return trim(buf.getvalue())


def trim(tar):
    """Drops the zero padding after the end-of-archive blocks (tarfile pads to 10 KiB)."""
    end = len(tar.rstrip(b"\0"))
    end = (end + 511) // 512 * 512
    return tar[:end] + b"\0" * 1024


def ent(name, kind=tarfile.REGTYPE, data=None, link="", mode=0o644, pax=None, uid=0, gid=0,
        devmajor=0, devminor=0):
    i = tarfile.TarInfo(name)
    i.type = kind
    i.linkname = link
    i.mode = mode
    i.uid, i.gid = uid, gid
    i.mtime = 1700000000
    i.devmajor, i.devminor = devmajor, devminor
    if pax:
        i.pax_headers = pax
    if kind == tarfile.REGTYPE and data is None:
        data = b""
    return (i, data)


def d(name, mode=0o755):
    return ent(name, tarfile.DIRTYPE, mode=mode)


def zstd(b):
    return subprocess.run(["zstd", "-q", "-c"], input=b, check=True, capture_output=True).stdout


def two(lower, upper):
    return b"2L" + struct.pack("<I", len(lower)) + lower + upper


def layers(tmp):
    # A small tree written by GNU tar: every kind of entry, owners, modes, a sparse file.
    root = os.path.join(tmp, "tree")
    os.makedirs(os.path.join(root, "etc"))
    os.makedirs(os.path.join(root, "usr/bin"))
    open(os.path.join(root, "etc/hostname"), "w").write("box\n")
    os.chmod(os.path.join(root, "etc/hostname"), 0o600)
    open(os.path.join(root, "usr/bin/su"), "w").write("#!/bin/sh\n")
    os.chmod(os.path.join(root, "usr/bin/su"), 0o4755)
    os.link(os.path.join(root, "usr/bin/su"), os.path.join(root, "usr/bin/su2"))
    os.symlink("../etc/hostname", os.path.join(root, "usr/name"))
    os.symlink("/etc/passwd", os.path.join(root, "abs"))
    os.mkfifo(os.path.join(root, "fifo"))
    os.mknod(os.path.join(root, "null"), 0o666 | 0o020000, os.makedev(1, 3))
    os.chown(os.path.join(root, "etc/hostname"), 1000, 1000)
    with open(os.path.join(root, "sparse"), "wb") as f:
        f.seek(1 << 20)
        f.write(b"end")
    gnu = run("tar", "--sparse", "--xattrs", "-C", root, "-cf", "-", ".")
    posix = trim(run("tar", "--format=posix", "-C", root, "-cf", "-", "."))
    write("layer", "gnutar.tar", trim(gnu))
    write("layer", "gnutar-posix.tar.gz", gzip.compress(posix, mtime=0))
    write("layer", "gnutar-posix.tar.zst", zstd(posix))

    bait = "../../bait"
    hostile = {
        "symlink-escape-relative": [ent("evil", tarfile.SYMTYPE, link=bait), ent("evil/pwned", data=b"x")],
        "symlink-escape-absolute": [ent("evil", tarfile.SYMTYPE, link="/tmp/bait"), ent("evil/pwned", data=b"x")],
        "symlink-chain": [d("a"), ent("a/b", tarfile.SYMTYPE, link="../c"), ent("c", tarfile.SYMTYPE, link=bait),
                          ent("a/b/pwned", data=b"x")],
        "dir-then-symlink": [d("a"), ent("a", tarfile.SYMTYPE, link=bait), ent("a/pwned", data=b"x")],
        "hardlink-outside": [ent("hl", tarfile.LNKTYPE, link="../bait/secret")],
        "hardlink-absolute": [ent("hl", tarfile.LNKTYPE, link="/tmp/bait/secret")],
        "hardlink-through-symlink": [ent("s", tarfile.SYMTYPE, link=bait), ent("hl", tarfile.LNKTYPE, link="s/secret")],
        "hardlink-to-symlink": [ent("s", tarfile.SYMTYPE, link="/tmp/bait/secret"), ent("hl", tarfile.LNKTYPE, link="s"),
                                ent("hl", data=b"overwrite")],
        "dotdot-name": [ent("../pwned", data=b"x"), ent("a/../../pwned", data=b"x")],
        "absolute-name": [ent("/tmp/bait/pwned", data=b"x"), d("/"), ent("/etc/x", data=b"x")],
        "pax-path": [ent("innocent", data=b"x", pax={"path": "../../bait/pwned"})],
        "pax-linkpath": [ent("l", tarfile.SYMTYPE, link="x", pax={"linkpath": bait}), ent("l/pwned", data=b"x")],
        "whiteouts": [ent("dir/.wh..wh..opq"), d("dir"), ent("dir/f", data=b"x"), ent(".wh.gone"),
                      ent("dir/.wh.f"), ent(".wh..wh.plnk"), ent(".wh.."), ent(".wh.")],
        "whiteout-through-symlink": [ent("s", tarfile.SYMTYPE, link=bait), ent("s/.wh.secret"),
                                     ent("s/.wh..wh..opq")],
        "xattrs": [ent("f", data=b"x", pax={"SCHILY.xattr.trusted.overlay.opaque": "y",
                                            "SCHILY.xattr.user.note": "v",
                                            "SCHILY.xattr.security.capability": "\x01\x00\x00\x02"}),
                   ent("d", tarfile.DIRTYPE, pax={"SCHILY.xattr.trusted.overlay.redirect": "/x"})],
        "root-entry": [d("./", mode=0o700), d(".", mode=0o000), ent("f", data=b"x")],
        "devices": [ent("c", tarfile.CHRTYPE, devmajor=1, devminor=3), ent("b", tarfile.BLKTYPE, devmajor=8),
                    ent("p", tarfile.FIFOTYPE), ent("wh", tarfile.CHRTYPE)],
        "replace-kinds": [d("x"), ent("x/f", data=b"1"), ent("x", data=b"file now"), d("x"),
                          ent("x", tarfile.SYMTYPE, link=bait), ent("x", data=b"2")],
        "owners-modes": [ent("f", data=b"x", mode=0o7777, uid=4294967294, gid=65534,
                             pax={"uid": "123456789", "gid": "x", "mtime": "1700000000.123456789"}),
                         d("ro", mode=0o500), ent("ro/f", data=b"x")],
    }
    for name, entries in hostile.items():
        write("layer", name + ".tar", tar_bytes(entries))
    write("layer", "gnu-longname.tar",
          tar_bytes([ent("a" * 150 + "/" + "b" * 150, data=b"x"), ent("l", tarfile.SYMTYPE, link="c" * 200)],
                    fmt=tarfile.GNU_FORMAT))

    lower = tar_bytes([d("a"), ent("a/f", data=b"lower"), ent("s", tarfile.SYMTYPE, link=bait),
                       d("keep"), ent("keep/x", data=b"x"), ent("ls", tarfile.SYMTYPE, link="a")])
    uppers = {
        "through-lower-symlink": [ent("s/pwned", data=b"x")],
        "through-lower-symlink-dir": [ent("ls/pwned", data=b"x")],
        "hardlink-copy-up": [ent("h", tarfile.LNKTYPE, link="a/f"), ent("a/h2", tarfile.LNKTYPE, link="a/f")],
        "hardlink-lower-symlink": [ent("h", tarfile.LNKTYPE, link="s/secret"), ent("h2", tarfile.LNKTYPE, link="s")],
        "whiteout-then-reuse": [ent(".wh.a"), d("a"), ent("a/g", data=b"new"), ent("keep/.wh..wh..opq")],
        "whiteout-lower-symlink": [ent(".wh.s"), d("s"), ent("s/f", data=b"x")],
        "implicit-parents": [ent("keep/deep/er/f", data=b"x"), ent("a/f", data=b"upper")],
    }
    for name, entries in uppers.items():
        write("layer", "two-" + name + ".bin", two(lower, tar_bytes(entries)))
    write("layer", "two-gzip-zstd.bin", two(gzip.compress(lower, mtime=0), zstd(tar_bytes(uppers["hardlink-copy-up"]))))


# ---------------------------------------------------------------- images (image, archive, registry)

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
LAYER_GZ = "application/vnd.oci.image.layer.v1.tar+gzip"


def umoci_image(tmp):
    """A one-layer OCI layout made by umoci, with a full config; returns its directory."""
    oci = os.path.join(tmp, "oci")
    run("umoci", "init", "--layout", oci)
    run("umoci", "new", "--image", oci + ":tiny")
    bundle = os.path.join(tmp, "bundle")
    run("umoci", "unpack", "--image", oci + ":tiny", bundle)
    rootfs = os.path.join(bundle, "rootfs")
    os.makedirs(os.path.join(rootfs, "etc"), exist_ok=True)
    open(os.path.join(rootfs, "etc/passwd"), "w").write("root:x:0:0:root:/root:/bin/sh\nweb:x:33:33::/var/www:/bin/false\n")
    open(os.path.join(rootfs, "etc/group"), "w").write("root:x:0:\nweb:x:33:\n")
    run("umoci", "repack", "--image", oci + ":tiny", bundle)
    run("umoci", "config", "--image", oci + ":tiny", "--config.entrypoint", "/bin/sh", "--config.cmd", "-c",
        "--config.cmd", "echo hi", "--config.env", "PATH=/bin", "--config.env", "A=1",
        "--config.workingdir", "/srv", "--config.user", "web", "--config.label", "k=v",
        "--config.stopsignal", "SIGQUIT", "--config.exposedports", "8080/tcp",
        "--config.volume", "/data")
    run("umoci", "gc", "--layout", oci)
    return oci


def blobs_of(oci):
    index = open(os.path.join(oci, "index.json"), "rb").read()
    get = lambda dg: open(os.path.join(oci, "blobs/sha256", dg.split(":")[1]), "rb").read()
    mdesc = json.loads(index)["manifests"][0]
    manifest = get(mdesc["digest"])
    m = json.loads(manifest)
    config = get(m["config"]["digest"])
    layer = get(m["layers"][0]["digest"])
    return index, manifest, config, layer


def images(tmp):
    oci = umoci_image(tmp)
    index, manifest, config, layer = blobs_of(oci)
    write("layer", "umoci-layer.tar.gz", layer)
    cfg = json.loads(config)

    def fix_sizes(b):
        # "size":"@S2" -> "size":@S2 (the placeholder becomes a number)
        return re.sub(rb'"(@S\d)"', rb"\1", b)

    def manifest_doc(media=OCI_MANIFEST, config_ref=2, layers=(3,)):
        return fix_sizes(jdump({"schemaVersion": 2, "mediaType": media,
                                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                           "digest": "@D%d" % config_ref, "size": "@S%d" % config_ref},
                                "layers": [{"mediaType": LAYER_GZ, "digest": "@D%d" % n, "size": "@S%d" % n}
                                           for n in layers]}))

    def index_doc(entries, media=OCI_INDEX):
        return fix_sizes(jdump({"schemaVersion": 2, "mediaType": media, "manifests": entries}))

    def entry(n, media=OCI_MANIFEST, platform=None, ann=None):
        e = {"mediaType": media, "digest": "@D%d" % n, "size": "@S%d" % n}
        if platform:
            e["platform"] = platform
        if ann:
            e["annotations"] = ann
        return e

    tiny_layer = gzip.compress(tar_bytes([ent("f", data=b"x")]), mtime=0)
    cfg1 = dict(cfg)
    cfg1["rootfs"] = {"type": "layers", "diff_ids": [sha(gzip.decompress(layer))]}
    config_bytes = jdump(cfg1)
    amd = {"architecture": "amd64", "os": "linux"}
    docs = {
        # index.json -> manifest -> config, layer
        "layout": [index_doc([entry(1, ann={"org.opencontainers.image.ref.name": "tiny"})]),
                   manifest_doc(), config_bytes, layer],
        # index.json -> index (platforms, an attestation) -> manifest
        "nested-index": [index_doc([entry(1, OCI_INDEX)]),
                         index_doc([entry(2, platform={"architecture": "arm64", "os": "linux", "variant": "v8"}),
                                    entry(2, platform=amd, ann={"vnd.docker.reference.type": "attestation-manifest"}),
                                    entry(2, platform=amd)]),
                         manifest_doc(config_ref=3, layers=(4,)), config_bytes, layer],
        "docker-list": [index_doc([entry(1, DOCKER_LIST)]),
                        index_doc([entry(2, DOCKER_MANIFEST, platform=amd)], media=DOCKER_LIST),
                        manifest_doc(DOCKER_MANIFEST, 3, (4,)), config_bytes, tiny_layer],
        "umoci-verbatim": [index, manifest, config, layer],
        "schema1": [index_doc([entry(1)]), b'{"schemaVersion":1,"name":"x","fsLayers":[]}'],
    }
    minimal_cfg = jdump({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []},
                         "config": {"Cmd": ["sh"], "User": "1000:1000", "Env": ["A"], "StopSignal": "SIGRTMIN+3"}})
    docs["no-layers"] = [index_doc([entry(1)]), manifest_doc(layers=()), minimal_cfg]
    for name, parts in docs.items():
        # The layer blob itself is never read by resolve; keep seeds small.
        parts = [p if len(p) < 4096 else tiny_layer for p in parts]
        write("image", name + ".txt", SEP.join(parts))
    write("image", "config-umoci.json", config)

    # Registry: the answers in order.
    challenge = b'401 Bearer realm="https://auth.example/token",service="registry.example",scope="repository:fuzz/x:pull"'
    ok = lambda body: b"200\n" + body
    reg = {
        "token-then-manifest": [challenge + b"\n", ok(b'{"token":"abc"}'), ok(manifest_doc(config_ref=3, layers=(4,))),
                                ok(config_bytes), ok(tiny_layer)],
        "index-then-manifest": [ok(index_doc([entry(1, platform=amd)])), ok(manifest_doc(config_ref=2, layers=(3,))),
                                ok(config_bytes), ok(tiny_layer)],
        "errors": [b'404\n{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}'],
        "access-token": [b'401 bearer realm=token,service=x\n', ok(b'{"access_token":"t","expires_in":300}'),
                         b'401 Bearer realm="https://auth.example/token"\n'],
        "basic-auth": [b'401 Basic realm="Registry"\n'],
        "token-error": [challenge + b"\n", b"500\n", ok(b"")],
    }
    for name, parts in reg.items():
        write("registry", name + ".txt", SEP.join(parts))

    # Archives: an oci-archive and a docker-archive of a tiny image (skopeo), gzip'd too.
    small = os.path.join(tmp, "small")
    run("umoci", "init", "--layout", small)
    run("umoci", "new", "--image", small + ":s")
    b2 = os.path.join(tmp, "b2")
    run("umoci", "unpack", "--image", small + ":s", b2)
    open(os.path.join(b2, "rootfs", "hello"), "w").write("hi\n")
    run("umoci", "repack", "--image", small + ":s", b2)
    run("umoci", "config", "--image", small + ":s", "--config.cmd", "/hello")
    run("umoci", "gc", "--layout", small)
    if have("skopeo"):
        oa = os.path.join(tmp, "s-oci.tar")
        da = os.path.join(tmp, "s-docker.tar")
        run("skopeo", "copy", "--quiet", "oci:%s:s" % small, "oci-archive:%s:s" % oa)
        run("skopeo", "copy", "--quiet", "oci:%s:s" % small, "docker-archive:%s:rind/s:latest" % da)
        write("archive", "oci-archive.tar", open(oa, "rb").read())
        write("archive", "docker-archive.tar", open(da, "rb").read())
        write("archive", "docker-archive.tar.gz", gzip.compress(open(da, "rb").read(), mtime=0))
    # A hand-made docker-archive with member symlinks, as Docker 25+ writes them.
    cfgb = minimal_cfg.replace(b'"diff_ids":[]', b'"diff_ids":["%s"]' % sha(tar_bytes([])).encode())
    lay = tar_bytes([])
    lay_name = "blobs/sha256/" + hashlib.sha256(lay).hexdigest()
    mj = jdump([{"Config": "blobs/sha256/" + hashlib.sha256(cfgb).hexdigest(), "RepoTags": ["x:y"],
                 "Layers": ["layer.tar"]}])
    write("archive", "docker-archive-links.tar", tar_bytes([
        ent("manifest.json", data=mj), ent("blobs/sha256/" + hashlib.sha256(cfgb).hexdigest(), data=cfgb),
        ent(lay_name, data=lay), ent("layer.tar", tarfile.SYMTYPE, link=lay_name),
        ent("loop", tarfile.SYMTYPE, link="loop"), ent("up", tarfile.SYMTYPE, link="../../etc/passwd"),
        ent("hard", tarfile.LNKTYPE, link="manifest.json")]))


# ---------------------------------------------------------------- seccomp

def seccomp(cfgs):
    for name, raw in cfgs.items():
        prof = json.loads(raw).get("linux", {}).get("seccomp")
        if prof:
            write("seccomp", name + "-profile.json", jdump(prof))
    small = {
        "notify": {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock",
                   "listenerMetadata": "m", "flags": ["SECCOMP_FILTER_FLAG_TSYNC"],
                   "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]},
        "args-32-64": {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
                       "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                       "syscalls": [
                           {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                            "args": [{"index": 0, "value": 4294967295, "op": "SCMP_CMP_EQ"}]},
                           {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                            "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
                           {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 97,
                            "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_NE"},
                                     {"index": 1, "value": 4294967296, "op": "SCMP_CMP_GE"}]},
                           {"names": ["read", "write", "exit_group", "socketcall"], "action": "SCMP_ACT_ALLOW"},
                           {"names": ["kill"], "action": "SCMP_ACT_TRACE", "errnoRet": 5,
                            "args": [{"index": 5, "value": 1, "op": "SCMP_CMP_LT"},
                                     {"index": 5, "value": 3, "op": "SCMP_CMP_LE"}]},
                           {"names": ["ptrace"], "action": "SCMP_ACT_KILL_PROCESS"},
                           {"names": ["not_a_syscall", "uname"], "action": "SCMP_ACT_LOG"}]},
        "deny-list": {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_NATIVE"],
                      "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                                "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
                      "syscalls": [{"names": ["mount", "umount2"], "action": "SCMP_ACT_ERRNO"},
                                   {"names": ["reboot"], "action": "SCMP_ACT_KILL_THREAD"},
                                   {"names": ["mount"], "action": "SCMP_ACT_TRAP"}]},
        "invalid": {"defaultAction": "SCMP_ACT_NOTIFY", "architectures": ["SCMP_ARCH_AARCH64"],
                    "syscalls": [{"names": [""], "action": "SCMP_ACT_ALLOW", "errnoRet": 1,
                                  "args": [{"index": 6, "value": 0, "op": "SCMP_CMP_EQ"}]}]},
    }
    for name, prof in small.items():
        write("seccomp", name + ".json", jdump(prof))


def seccomp_cache(tmp):
    """A compiled filter as rind caches it (`<root>/.seccomp-cache/*.bpf`), from `rind create`."""
    if not os.path.exists(RIND):
        return
    bundle = os.path.join(tmp, "cachebundle")
    os.makedirs(os.path.join(bundle, "rootfs"))
    run(RIND, "spec", cwd=bundle)
    root = os.path.join(tmp, "state")
    subprocess.run([RIND, "--root", root, "create", "--bundle", bundle, "rind-fuzz-seed-%d" % os.getpid()],
                   capture_output=True, timeout=60)
    subprocess.run([RIND, "--root", root, "delete", "--force", "rind-fuzz-seed-%d" % os.getpid()],
                   capture_output=True, timeout=60)
    cache = os.path.join(root, ".seccomp-cache")
    for i, f in enumerate(sorted(os.listdir(cache)) if os.path.isdir(cache) else []):
        write("seccomp", "cache-%d.bpf" % i, open(os.path.join(cache, f), "rb").read())


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    tmp = tempfile.mkdtemp(prefix="rind-fuzz-seeds.")
    try:
        cfgs = configs(tmp)
        for name, raw in cfgs.items():
            write("config", name + ".json", raw)
        seccomp(cfgs)
        seccomp_cache(tmp)
        layers(tmp)
        images(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for t in sorted(os.listdir(OUT)):
        files = os.listdir(os.path.join(OUT, t))
        size = sum(os.path.getsize(os.path.join(OUT, t, f)) for f in files)
        print("%-10s %3d seeds, %7d bytes" % (t, len(files), size))


if __name__ == "__main__":
    main()
