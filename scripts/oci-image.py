#!/usr/bin/env python3
"""Container images without a container engine: one-layer docker-archive tars.

    scripts/oci-image.py build --out img.tar --tag crm-customers:0.1.0 \\
        --file target/release/crm-customers:/usr/local/bin/crm-customers:0755 \\
        --symlink /usr/local/bin/crm:crm-customers --libs-of target/release/crm-customers \\
        --passwd --ca-certs --zoneinfo --user 65532:65532 \\
        --entrypoint '["/usr/local/bin/crm"]' --cmd '["serve"]' --env CRM_SERVER__PORT=50051
    scripts/oci-image.py extract img.tar rootfs/   # unpack the layer, print the config JSON
    scripts/oci-image.py run --rootfs rootfs/ --config cfg.json -- ARGS...   # see run_rootfs()

The archive is what `docker save` writes (manifest.json, the config blob, one uncompressed
layer tar), so `ctr images import` and `docker load` both read it. It is reproducible: the
same inputs give the same bytes. Every entry has the mtime SOURCE_DATE_EPOCH (default 0),
owner 0:0 unless a --dir says otherwise, no user or group names, and the entries are
sorted, parents first; the config's "created" is that same instant.

Host files (--host, --libs-of, --tree) keep their host path and every symlink on the way
to them: on a merged-/usr host, /lib/x86_64-linux-gnu/libc.so.6 becomes the symlink /lib ->
usr/lib plus the file /usr/lib/x86_64-linux-gnu/libc.so.6, as the loader expects. An entry
under a path that is a symlink in the image is refused: give its real path instead.
"""

import argparse
import datetime
import fnmatch
import hashlib
import io
import json
import os
import posixpath
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile

CA_CERTS = "/etc/ssl/certs/ca-certificates.crt"
ZONEINFO = "/usr/share/zoneinfo"
# What distroless's base image has: root and nonroot (65532); nobody for completeness.
PASSWD = (
    "root:x:0:0:root:/root:/sbin/nologin\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
    "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
)
GROUP = "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n"
CHUNK = 1 << 20


class SpecError(Exception):
    """A spec that cannot be packed (conflicting entries, missing files, bad flags)."""


class Entry:
    """One layer entry: a directory, a regular file (from a host path or bytes) or a symlink."""

    def __init__(self, kind, mode, src=None, data=None, target=None, uid=0, gid=0, implicit=False):
        self.kind = kind
        self.mode = mode
        self.src = src
        self.data = data
        self.target = target
        self.uid = uid
        self.gid = gid
        # Parent directories nobody asked for: an explicit entry may replace them.
        self.implicit = implicit

    def key(self):
        content = self.data if self.data is not None else self.src
        return (self.kind, self.mode, content, self.target, self.uid, self.gid)


class Layer:
    """The image's file tree, keyed by absolute path without a trailing slash."""

    def __init__(self):
        self.entries = {}

    def _put(self, path, entry):
        path = norm(path)
        if path == "/":
            raise SpecError("cannot replace the root directory")
        self._parents(path)
        old = self.entries.get(path)
        if old is not None and not old.implicit:
            if entry.implicit and old.kind == "dir":
                return
            if old.key() != entry.key():
                raise SpecError(f"{path} is given twice, differently")
        self.entries[path] = entry

    def _parents(self, path):
        parent = posixpath.dirname(path)
        while parent != "/":
            if parent not in self.entries:
                self.entries[parent] = Entry("dir", 0o755, implicit=True)
            parent = posixpath.dirname(parent)

    def add_dir(self, path, mode=0o755, uid=0, gid=0):
        self._put(path, Entry("dir", mode, uid=uid, gid=gid))

    def add_file(self, src, dst, mode=None):
        st = os.stat(src)
        if not stat.S_ISREG(st.st_mode):
            raise SpecError(f"{src} is not a regular file")
        self._put(dst, Entry("file", perm(st.st_mode) if mode is None else mode, src=os.path.abspath(src)))

    def add_bytes(self, dst, data, mode=0o644):
        self._put(dst, Entry("file", mode, data=data))

    def add_symlink(self, path, target):
        self._put(path, Entry("symlink", 0o777, target=target))

    def add_host(self, path, depth=0):
        """The host path at the same path in the image, with the symlinks that lead to it."""
        if depth > 40:
            raise SpecError(f"too many levels of symlinks at {path}")
        path = norm(path)
        parts = path.strip("/").split("/")
        cur = ""
        for i, part in enumerate(parts):
            cur = f"{cur}/{part}"
            try:
                st = os.lstat(cur)
            except FileNotFoundError:
                raise SpecError(f"{cur} does not exist on this host") from None
            if stat.S_ISLNK(st.st_mode):
                target = os.readlink(cur)
                self.add_symlink(cur, target)
                resolved = posixpath.join(posixpath.dirname(cur), target)
                self.add_host(posixpath.join(resolved, *parts[i + 1 :]), depth + 1)
                return
            if i == len(parts) - 1:
                if stat.S_ISDIR(st.st_mode):
                    self.add_tree(cur, cur)
                else:
                    self.add_file(cur, cur)

    def add_tree(self, src, dst, excludes=()):
        """A host directory, recursively; symlinks stay symlinks (zoneinfo has loops)."""
        if not os.path.isdir(src):
            raise SpecError(f"{src} is not a directory")
        self.add_dir(dst, perm(os.stat(src).st_mode))
        for root, dirs, files in os.walk(src):
            dirs.sort()
            rel = os.path.relpath(root, src)
            for name in sorted(dirs) + sorted(files):
                hsrc = os.path.join(root, name)
                idst = norm(posixpath.join(dst, "" if rel == "." else rel, name))
                if any(fnmatch.fnmatchcase(idst, pat) for pat in excludes):
                    if name in dirs:
                        dirs.remove(name)
                    continue
                st = os.lstat(hsrc)
                if stat.S_ISLNK(st.st_mode):
                    self.add_symlink(idst, os.readlink(hsrc))
                elif stat.S_ISDIR(st.st_mode):
                    self.add_dir(idst, perm(st.st_mode))
                elif stat.S_ISREG(st.st_mode):
                    self.add_file(hsrc, idst)
                else:
                    raise SpecError(f"{hsrc}: only files, directories and symlinks can be packed")

    def check(self):
        """Refuse entries below a symlink or file: the runtime would write through the link."""
        for path in self.entries:
            parent = posixpath.dirname(path)
            while parent != "/":
                if self.entries[parent].kind != "dir":
                    raise SpecError(f"{path} is below {parent}, a {self.entries[parent].kind} in the image: use the real path")
                parent = posixpath.dirname(parent)

    def sorted_paths(self):
        # By components, so that a directory comes right before what it holds.
        return sorted(self.entries, key=lambda p: p.strip("/").split("/"))


def norm(path):
    if not path.startswith("/"):
        raise SpecError(f"image paths are absolute: {path}")
    return posixpath.normpath(path).replace("//", "/")


def perm(mode):
    # setuid/setgid bits never travel into an image that runs as non-root under "restricted".
    return stat.S_IMODE(mode) & 0o1777


def ldd_paths(binary):
    """The shared libraries `ldd` resolves for a binary or library, and its loader."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=False)
    text = out.stdout + out.stderr
    if "not a dynamic executable" in text or "statically linked" in text:
        return []
    if out.returncode != 0:
        raise SpecError(f"ldd {binary} failed: {text.strip()}")
    paths = []
    for line in text.splitlines():
        line = line.strip()
        if "=> not found" in line:
            raise SpecError(f"{binary}: {line}")
        m = re.match(r"^(?:\S+ => )?(/\S+) \(0x[0-9a-f]+\)$", line)
        if m:
            paths.append(m.group(1))
    return paths


def tarinfo(name, entry, mtime):
    ti = tarfile.TarInfo(name)
    ti.mtime = mtime
    ti.uid, ti.gid = entry.uid, entry.gid
    ti.uname = ti.gname = ""
    ti.mode = entry.mode
    if entry.kind == "dir":
        ti.type = tarfile.DIRTYPE
    elif entry.kind == "symlink":
        ti.type = tarfile.SYMTYPE
        ti.linkname = entry.target
    return ti


class HashingWriter:
    """A file object that hashes what it writes."""

    def __init__(self, f):
        self.f = f
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data):
        self.sha.update(data)
        self.size += len(data)
        return self.f.write(data)

    def tell(self):
        return self.size


def write_layer(layer, out, mtime):
    """The layer tar into the file object out; returns (sha256 hex, size)."""
    hw = HashingWriter(out)
    with tarfile.open(fileobj=hw, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for path in layer.sorted_paths():
            entry = layer.entries[path]
            name = path.lstrip("/")
            ti = tarinfo(name, entry, mtime)
            if entry.kind != "file":
                tar.addfile(ti)
            elif entry.data is not None:
                ti.size = len(entry.data)
                tar.addfile(ti, io.BytesIO(entry.data))
            else:
                ti.size = os.stat(entry.src).st_size
                with open(entry.src, "rb") as f:
                    tar.addfile(ti, f)
    return hw.sha.hexdigest(), hw.size


def iso8601(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def container_config(args):
    cfg = {}
    if args.env:
        cfg["Env"] = args.env
    if args.user:
        cfg["User"] = args.user
    if args.entrypoint is not None:
        cfg["Entrypoint"] = json_list(args.entrypoint, "--entrypoint")
    if args.cmd is not None:
        cfg["Cmd"] = json_list(args.cmd, "--cmd")
    if args.workdir:
        cfg["WorkingDir"] = args.workdir
    if args.label:
        cfg["Labels"] = dict(split_kv(kv, "--label") for kv in args.label)
    if args.stop_signal:
        cfg["StopSignal"] = args.stop_signal
    if args.expose:
        cfg["ExposedPorts"] = {p if "/" in p else f"{p}/tcp": {} for p in args.expose}
    return cfg


def image_config(args, cfg, diff_id, created):
    return {
        "architecture": args.arch,
        "os": "linux",
        "created": created,
        "config": cfg,
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
        "history": [{"created": created, "created_by": "scripts/oci-image.py"}],
    }


def json_list(text, flag):
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SpecError(f"{flag} wants a JSON list of strings, got {text}")
    return value


def split_kv(text, flag):
    if "=" not in text:
        raise SpecError(f"{flag} wants KEY=VALUE, got {text}")
    k, v = text.split("=", 1)
    return k, v


def parse_mode(text):
    return int(text, 8)


def build_layer(args):
    layer = Layer()
    for spec in args.dir:
        # PATH[:MODE[:UID:GID]]
        parts = spec.split(":")
        if len(parts) not in (1, 2, 4):
            raise SpecError(f"--dir wants PATH[:MODE[:UID:GID]], got {spec}")
        mode = parse_mode(parts[1]) if len(parts) > 1 else 0o755
        uid, gid = (int(parts[2]), int(parts[3])) if len(parts) == 4 else (0, 0)
        layer.add_dir(parts[0], mode, uid, gid)
    for spec in args.file:
        # SRC:DST[:MODE]
        parts = spec.split(":")
        if len(parts) not in (2, 3):
            raise SpecError(f"--file wants SRC:DST[:MODE], got {spec}")
        if not os.path.exists(parts[0]):
            raise SpecError(f"--file {spec}: {parts[0]} does not exist")
        layer.add_file(parts[0], parts[1], parse_mode(parts[2]) if len(parts) == 3 else None)
    for spec in args.symlink:
        path, _, target = spec.partition(":")
        if not target:
            raise SpecError(f"--symlink wants PATH:TARGET, got {spec}")
        layer.add_symlink(path, target)
    for path in args.host:
        layer.add_host(path)
    for spec in args.tree:
        src, _, dst = spec.partition(":")
        layer.add_tree(src, dst or src, args.exclude)
    for binary in args.libs_of:
        if not os.path.exists(binary):
            raise SpecError(f"--libs-of {binary}: no such file")
        for lib in ldd_paths(binary):
            layer.add_host(lib)
    if args.passwd:
        layer.add_bytes("/etc/passwd", PASSWD.encode())
        layer.add_bytes("/etc/group", GROUP.encode())
    if args.ca_certs:
        if not os.path.isfile(CA_CERTS):
            raise SpecError(f"--ca-certs: {CA_CERTS} is missing (apt-get install ca-certificates)")
        layer.add_file(CA_CERTS, CA_CERTS, 0o644)
    if args.zoneinfo:
        if not os.path.isdir(ZONEINFO):
            raise SpecError(f"--zoneinfo: {ZONEINFO} is missing (apt-get install tzdata)")
        layer.add_tree(ZONEINFO, ZONEINFO, args.exclude)
    layer.check()
    return layer


def build(args):
    if not args.tag:
        raise SpecError("at least one --tag")
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    created = iso8601(epoch)
    cfg = container_config(args)
    layer = build_layer(args)
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".oci-image.") as tmp:
        layer_path = os.path.join(tmp, "layer.tar")
        with open(layer_path, "wb") as f:
            diff_id, layer_size = write_layer(layer, f, epoch)
        config = json.dumps(image_config(args, cfg, diff_id, created), sort_keys=True, separators=(",", ":")).encode()
        config_id = hashlib.sha256(config).hexdigest()
        manifest = [{"Config": f"blobs/sha256/{config_id}", "RepoTags": args.tag, "Layers": [f"blobs/sha256/{diff_id}"]}]
        manifest_bytes = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
        part = os.path.join(tmp, "image.tar")
        with open(part, "wb") as raw, tarfile.open(fileobj=raw, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            dir_entry = Entry("dir", 0o755)
            for d in ("blobs", "blobs/sha256"):
                tar.addfile(tarinfo(d, dir_entry, epoch))
            # Sorted by name: the config and layer digests decide their order.
            blobs = sorted([(config_id, None, config), (diff_id, layer_path, None)])
            for digest, path, data in blobs:
                ti = tarinfo(f"blobs/sha256/{digest}", Entry("file", 0o644), epoch)
                if data is not None:
                    ti.size = len(data)
                    tar.addfile(ti, io.BytesIO(data))
                else:
                    ti.size = layer_size
                    with open(path, "rb") as f:
                        tar.addfile(ti, f)
            ti = tarinfo("manifest.json", Entry("file", 0o644), epoch)
            ti.size = len(manifest_bytes)
            tar.addfile(ti, io.BytesIO(manifest_bytes))
        os.replace(part, args.out)
    print(json.dumps({"out": args.out, "config": f"sha256:{config_id}", "layer": f"sha256:{diff_id}"}))


def extract(args):
    """Unpack the single layer of an archive into a directory, checking the digests."""
    with tarfile.open(args.archive) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))
        if len(manifest) != 1:
            raise SpecError(f"{args.archive}: {len(manifest)} images, want one")
        config_bytes = outer.extractfile(manifest[0]["Config"]).read()
        want = manifest[0]["Config"].rsplit("/", 1)[-1]
        if hashlib.sha256(config_bytes).hexdigest() != want:
            raise SpecError(f"{args.archive}: config digest mismatch")
        config = json.loads(config_bytes)
        os.makedirs(args.dir, exist_ok=True)
        for layer_name, diff_id in zip(manifest[0]["Layers"], config["rootfs"]["diff_ids"]):
            raw = outer.extractfile(layer_name)
            sha = hashlib.sha256()
            with tempfile.TemporaryFile() as tmp:
                while chunk := raw.read(CHUNK):
                    sha.update(chunk)
                    tmp.write(chunk)
                if f"sha256:{sha.hexdigest()}" != diff_id:
                    raise SpecError(f"{args.archive}: layer {layer_name} does not match its diff_id")
                tmp.seek(0)
                with tarfile.open(fileobj=tmp) as tar:
                    for member in tar:
                        if member.name.startswith("/") or ".." in member.name.split("/"):
                            raise SpecError(f"{args.archive}: unsafe path {member.name}")
                        tar.extract(member, args.dir, set_attrs=True, numeric_owner=True)
    print(json.dumps(config, sort_keys=True))


def run_rootfs(args):
    """Run a command of an extracted rootfs the way a runtime would, for checks on this host.

    Meant to be PID 1 of `unshare --mount --pid --fork`: mounts /proc, a small /dev and
    tmpfs dirs, binds the rootfs read-only (plus --volume HOST:PATH writable), chroots,
    drops to the config's User (or --user) with no supplementary groups, applies Env and
    WorkingDir, and execs Entrypoint + (ARGS or Cmd), ARGS may start with --entrypoint=X.
    """
    with open(args.config) as f:
        config = json.load(f)["config"]
    root = os.path.abspath(args.rootfs)
    # Mount points a runtime would create, made before the root turns read-only.
    points = ["proc", "dev", *[t.lstrip("/") for t in args.tmpfs], *[v.split(":", 1)[1].lstrip("/") for v in args.volume]]
    for p in points:
        os.makedirs(os.path.join(root, p), exist_ok=True)

    def mount(*a):
        subprocess.run(["mount", *a], check=True)

    mount("--make-rprivate", "/")
    mount("--bind", root, root)
    mount("-t", "proc", "proc", os.path.join(root, "proc"))
    dev = os.path.join(root, "dev")
    mount("-t", "tmpfs", "-o", "mode=755,nosuid", "tmpfs", dev)
    for node in ("null", "zero", "random", "urandom", "full", "tty"):
        open(os.path.join(dev, node), "w").close()
        mount("--bind", f"/dev/{node}", os.path.join(dev, node))
    os.makedirs(os.path.join(dev, "shm"))
    mount("-t", "tmpfs", "-o", "mode=1777,nosuid,nodev", "tmpfs", os.path.join(dev, "shm"))
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, os.path.join(dev, name))
    for t in args.tmpfs:
        mount("-t", "tmpfs", "-o", "mode=1777,nosuid,nodev", "tmpfs", os.path.join(root, t.lstrip("/")))
    for v in args.volume:
        host, path = v.split(":", 1)
        mount("--bind", host, os.path.join(root, path.lstrip("/")))
    mount("-o", "remount,bind,ro", root)

    user = args.user or config.get("User") or "0:0"
    uid, _, gid = user.partition(":")
    argv = list(args.args)
    if argv and argv[0] == "--":
        argv = argv[1:]
    entrypoint = config.get("Entrypoint") or []
    if argv and argv[0].startswith("--entrypoint="):
        entrypoint = [argv.pop(0).split("=", 1)[1]]
    argv = entrypoint + (argv or config.get("Cmd") or [])
    env = dict(split_kv(kv, "Env") for kv in config.get("Env", []))
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    env.setdefault("HOME", "/")
    env.update(split_kv(kv, "--env") for kv in args.env)
    os.chroot(root)
    os.chdir(config.get("WorkingDir") or "/")
    os.setgroups([])
    os.setgid(int(gid or uid))
    os.setuid(int(uid))
    exe = argv[0] if "/" in argv[0] else shutil.which(argv[0], path=env["PATH"])
    if exe is None:
        raise SpecError(f"{argv[0]} is not in the image's PATH")
    os.execve(exe, argv, env)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write a docker-archive tar")
    b.add_argument("--out", required=True, help="the archive to write")
    b.add_argument("--tag", action="append", default=[], help="a RepoTag such as crm-customers:0.1.0 (repeatable)")
    b.add_argument("--file", action="append", default=[], metavar="SRC:DST[:MODE]", help="a host file at DST (mode in octal)")
    b.add_argument("--symlink", action="append", default=[], metavar="PATH:TARGET")
    b.add_argument("--dir", action="append", default=[], metavar="PATH[:MODE[:UID:GID]]")
    b.add_argument("--host", action="append", default=[], metavar="PATH", help="a host file or directory at its own path, symlinks included")
    b.add_argument("--tree", action="append", default=[], metavar="SRC[:DST]", help="a host directory, recursively")
    b.add_argument("--exclude", action="append", default=[], metavar="GLOB", help="image paths --tree and --zoneinfo skip")
    b.add_argument("--libs-of", action="append", default=[], metavar="BINARY", help="the shared libraries ldd finds for BINARY, and the loader")
    b.add_argument("--passwd", action="store_true", help="/etc/passwd and /etc/group with root and nonroot (65532)")
    b.add_argument("--ca-certs", action="store_true", help=CA_CERTS)
    b.add_argument("--zoneinfo", action="store_true", help=ZONEINFO)
    b.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    b.add_argument("--user")
    b.add_argument("--entrypoint", metavar="JSON")
    b.add_argument("--cmd", metavar="JSON")
    b.add_argument("--workdir")
    b.add_argument("--label", action="append", default=[], metavar="KEY=VALUE")
    b.add_argument("--expose", action="append", default=[], metavar="PORT[/PROTO]")
    b.add_argument("--stop-signal", metavar="SIGNAL", help="e.g. SIGINT (docker honours it; Kubernetes sends SIGTERM)")
    b.add_argument("--arch", default="amd64", help="the config's architecture (default amd64)")
    e = sub.add_parser("extract", help="unpack an archive's layer into DIR and print its config")
    e.add_argument("archive")
    e.add_argument("dir")
    r = sub.add_parser("run", help="run an extracted rootfs (as PID 1 of unshare --mount --pid --fork)")
    r.add_argument("--rootfs", required=True, help="the directory extract wrote")
    r.add_argument("--config", required=True, help="the config JSON that extract printed")
    r.add_argument("--user", help="UID:GID instead of the config's User")
    r.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    r.add_argument("--tmpfs", action="append", default=[], metavar="PATH")
    r.add_argument("--volume", action="append", default=[], metavar="HOST:PATH")
    r.add_argument("args", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    try:
        {"build": build, "extract": extract, "run": run_rootfs}[args.command](args)
    except (SpecError, OSError, subprocess.CalledProcessError) as err:
        print(f"oci-image: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
