"""Unit tests of the AtomicWriter layout: versions, the ..data swap, cheap repeats."""

from __future__ import annotations

import os

import pytest

from pynetes.kubelet.volumes.atomic_writer import (
    FileProjection,
    PayloadError,
    write_payload,
)


def _versions(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("..2"))


def test_layout_is_upstreams(tmp_path):
    assert write_payload(
        tmp_path, {"a": FileProjection(b"1", 0o644), "d/b": FileProjection(b"2", 0o400)}
    )
    (version,) = _versions(tmp_path)
    assert version.startswith("..20")
    assert os.readlink(tmp_path / "..data") == version
    assert os.readlink(tmp_path / "a") == "..data/a"
    assert os.readlink(tmp_path / "d") == "..data/d"
    assert (tmp_path / "a").read_bytes() == b"1"
    assert (tmp_path / "d" / "b").read_bytes() == b"2"
    assert (tmp_path / "d" / "b").stat().st_mode & 0o777 == 0o400
    assert not (tmp_path / "..data_tmp").exists()


def test_same_payload_writes_nothing(tmp_path):
    payload = {"a": FileProjection(b"1", 0o644)}
    assert write_payload(tmp_path, payload)
    before = _versions(tmp_path)
    assert not write_payload(tmp_path, payload)
    assert _versions(tmp_path) == before
    assert write_payload(tmp_path, {"a": FileProjection(b"1", 0o600)})
    assert _versions(tmp_path) != before


def test_new_version_replaces_old_and_drops_removed_names(tmp_path):
    write_payload(tmp_path, {"a": FileProjection(b"1", 0o644), "gone": FileProjection(b"x", 0o644)})
    write_payload(tmp_path, {"a": FileProjection(b"2", 0o644)})
    assert len(_versions(tmp_path)) == 1
    assert (tmp_path / "a").read_bytes() == b"2"
    assert not os.path.lexists(tmp_path / "gone")
    assert sorted(os.listdir(tmp_path)) == sorted(["..data", *_versions(tmp_path), "a"])


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/etc/passwd", "the path must be relative, not absolute"),
        ("a/../../b", "must not contain '..'"),
        ("..hidden", "must not start with '..'"),
    ],
)
def test_bad_paths_are_refused(tmp_path, path, message):
    with pytest.raises(PayloadError, match=message):
        write_payload(tmp_path, {path: FileProjection(b"", 0o644)})
    assert list(tmp_path.iterdir()) == []
