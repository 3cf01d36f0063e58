#!/usr/bin/env python3
"""Tests of scripts/oci-image.py (plain python3: `python3 scripts/test_oci_image.py`).

scripts/cluster-images.sh --check runs them before it builds anything.
"""

import contextlib
import hashlib
import importlib.util
import io
import json
import os
import shutil
import tarfile
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("oci_image", os.path.join(HERE, "oci-image.py"))
oci = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oci)


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = oci.main(list(argv))
    return rc, out.getvalue(), err.getvalue()


def layer_members(archive):
    with tarfile.open(archive) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))
        config = json.load(outer.extractfile(manifest[0]["Config"]))
        data = outer.extractfile(manifest[0]["Layers"][0]).read()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        order = [m.name for m in tar.getmembers()]
        contents = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    return manifest, config, order, members, contents, data


class OciImageTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="test-oci-image.")
        self.addCleanup(shutil.rmtree, self.tmp)
        self.bin = os.path.join(self.tmp, "app")
        with open(self.bin, "wb") as f:
            f.write(b"#!/bin/true\n")
        os.chmod(self.bin, 0o700)
        self.epoch = os.environ.pop("SOURCE_DATE_EPOCH", None)
        self.addCleanup(self._restore_epoch)

    def _restore_epoch(self):
        os.environ.pop("SOURCE_DATE_EPOCH", None)
        if self.epoch is not None:
            os.environ["SOURCE_DATE_EPOCH"] = self.epoch

    def build(self, name, *extra):
        out = os.path.join(self.tmp, name)
        rc, stdout, err = run(
            "build", "--out", out, "--tag", "crm-app:1.0", "--tag", "crm-app:latest",
            "--file", f"{self.bin}:/usr/local/bin/crm-app:0755",
            "--symlink", "/usr/local/bin/crm:crm-app",
            "--dir", "/tmp:1777", "--dir", "/home/nonroot:0700:65532:65532",
            "--passwd", "--env", "A=1", "--env", "B=x=y", "--user", "65532:65532",
            "--entrypoint", '["/usr/local/bin/crm"]', "--cmd", '["serve"]',
            "--workdir", "/", "--label", "org.opencontainers.image.title=crm-app",
            "--expose", "50051", *extra,
        )
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(stdout)["out"], out)
        return out

    def test_same_inputs_give_the_same_bytes(self):
        first = self.build("a.tar", "--libs-of", "/bin/true")
        # Other host mtimes and another build directory change nothing.
        os.utime(self.bin, (1_000_000, 1_000_000))
        second = self.build("b.tar", "--libs-of", "/bin/true")
        with open(first, "rb") as a, open(second, "rb") as b:
            self.assertEqual(hashlib.sha256(a.read()).digest(), hashlib.sha256(b.read()).digest())

    def test_source_date_epoch_sets_every_mtime_and_created(self):
        os.environ["SOURCE_DATE_EPOCH"] = "1700000000"
        _, config, _, members, _, _ = layer_members(self.build("e.tar"))
        self.assertEqual(config["created"], "2023-11-14T22:13:20Z")
        self.assertEqual({m.mtime for m in members.values()}, {1700000000})
        self.assertEqual(layer_members(self.build("z.tar"))[1]["created"], "2023-11-14T22:13:20Z")
        del os.environ["SOURCE_DATE_EPOCH"]
        self.assertEqual(layer_members(self.build("0.tar"))[1]["created"], "1970-01-01T00:00:00Z")

    def test_manifest_config_and_layer(self):
        manifest, config, order, members, contents, data = layer_members(self.build("m.tar"))
        self.assertEqual(manifest[0]["RepoTags"], ["crm-app:1.0", "crm-app:latest"])
        self.assertEqual(config["rootfs"]["diff_ids"], [f"sha256:{hashlib.sha256(data).hexdigest()}"])
        c = config["config"]
        self.assertEqual(c["Env"], ["A=1", "B=x=y"])
        self.assertEqual(c["User"], "65532:65532")
        self.assertEqual(c["Entrypoint"], ["/usr/local/bin/crm"])
        self.assertEqual(c["Cmd"], ["serve"])
        self.assertEqual(c["Labels"], {"org.opencontainers.image.title": "crm-app"})
        self.assertEqual(c["ExposedPorts"], {"50051/tcp": {}})
        self.assertEqual((config["os"], config["architecture"]), ("linux", "amd64"))
        # Sorted, every parent before its children, owned by root unless asked.
        self.assertEqual(order, sorted(order, key=lambda p: p.split("/")))
        for name in order:
            parent = os.path.dirname(name)
            if parent:
                self.assertLess(order.index(parent), order.index(name), name)
        bin_ = members["usr/local/bin/crm-app"]
        self.assertEqual((bin_.mode, bin_.uid, bin_.gid, bin_.uname), (0o755, 0, 0, ""))
        self.assertTrue(members["usr/local/bin/crm"].issym())
        self.assertEqual(members["usr/local/bin/crm"].linkname, "crm-app")
        self.assertEqual(members["tmp"].mode, 0o1777)
        home = members["home/nonroot"]
        self.assertEqual((home.mode, home.uid, home.gid), (0o700, 65532, 65532))
        self.assertEqual(members["usr/local"].mode, 0o755)
        self.assertIn(b"nonroot:x:65532:65532:", contents["etc/passwd"])
        self.assertIn(b"nonroot:x:65532:", contents["etc/group"])
        self.assertEqual(contents["usr/local/bin/crm-app"], b"#!/bin/true\n")

    def test_libs_keep_their_paths_and_symlinks(self):
        _, _, order, members, _, _ = layer_members(self.build("l.tar", "--libs-of", "/bin/true"))
        libs = oci.ldd_paths("/bin/true")
        self.assertTrue(any("ld-linux" in p or "ld-musl" in p for p in libs), libs)
        for lib in libs:
            # Each printed path resolves inside the image the way it does on the host.
            path = os.path.realpath(lib).lstrip("/")
            self.assertIn(path, members, lib)
            self.assertTrue(members[path].isfile())
        for name in ("lib", "lib64"):
            if os.path.islink(f"/{name}") and any(p.startswith(f"/{name}/") for p in libs):
                self.assertEqual(members[name].linkname, os.readlink(f"/{name}"))

    def test_extract_round_trip(self):
        archive = self.build("x.tar", "--ca-certs") if os.path.isfile(oci.CA_CERTS) else self.build("x.tar")
        root = os.path.join(self.tmp, "root")
        rc, stdout, err = run("extract", archive, root)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(stdout)["config"]["User"], "65532:65532")
        self.assertEqual(os.readlink(os.path.join(root, "usr/local/bin/crm")), "crm-app")
        with open(os.path.join(root, "usr/local/bin/crm-app"), "rb") as f:
            self.assertEqual(f.read(), b"#!/bin/true\n")

    def test_tree_with_excludes_and_symlinks(self):
        src = os.path.join(self.tmp, "share")
        os.makedirs(os.path.join(src, "extension"))
        for name in ("extension/plpgsql.control", "extension/other.control", "postgres.bki"):
            with open(os.path.join(src, name), "w") as f:
                f.write(name)
        os.symlink(".", os.path.join(src, "posix"))
        _, _, _, members, _, _ = layer_members(self.build(
            "t.tar", "--tree", f"{src}:/usr/share/pg", "--exclude", "/usr/share/pg/extension/o*",
        ))
        self.assertIn("usr/share/pg/extension/plpgsql.control", members)
        self.assertIn("usr/share/pg/postgres.bki", members)
        self.assertNotIn("usr/share/pg/extension/other.control", members)
        self.assertEqual(members["usr/share/pg/posix"].linkname, ".")
        # --host of a directory takes what it holds too.
        _, _, _, members, _, _ = layer_members(self.build("h.tar", "--host", src))
        self.assertIn(f"{src}/extension/other.control".lstrip("/"), members)

    def test_refusals(self):
        out = os.path.join(self.tmp, "bad.tar")
        cases = {
            "twice": ["--file", f"{self.bin}:/a:0755", "--file", f"{self.bin}:/a:0644"],
            "below /lib, a symlink": ["--symlink", "/lib:usr/lib", "--file", f"{self.bin}:/lib/x"],
            "JSON list": ["--entrypoint", "/bin/app"],
            "does not exist": ["--file", "/nonexistent:/x"],
            "absolute": ["--file", f"{self.bin}:relative"],
        }
        for want, flags in cases.items():
            rc, _, err = run("build", "--out", out, "--tag", "t:1", *flags)
            self.assertEqual(rc, 1, want)
            self.assertIn(want, err)
            self.assertFalse(os.path.exists(out), want)


if __name__ == "__main__":
    unittest.main()
