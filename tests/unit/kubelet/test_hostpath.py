"""Unit tests of hostPath type checks, with upstream's messages."""

from __future__ import annotations

import socket

import pytest

from pynetes.kubelet.volumes.hostpath import HostPathTypeError, check_host_path


def test_or_create_types_create_what_is_missing(tmp_path):
    folder = tmp_path / "new" / "dir"
    assert check_host_path({"path": str(folder), "type": "DirectoryOrCreate"}) == folder
    assert folder.is_dir() and folder.stat().st_mode & 0o777 == 0o755
    file = tmp_path / "f"
    check_host_path({"path": str(file), "type": "FileOrCreate"})
    assert file.is_file() and file.read_bytes() == b""
    file.write_text("kept")
    check_host_path({"path": str(file), "type": "FileOrCreate"})
    assert file.read_text() == "kept"


def test_unset_type_checks_nothing(tmp_path):
    missing = tmp_path / "missing"
    assert check_host_path({"path": str(missing)}) == missing
    assert not missing.exists()


def test_socket_type(tmp_path):
    path = tmp_path / "s.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        check_host_path({"path": str(path), "type": "Socket"})
    with pytest.raises(HostPathTypeError, match="is not a socket file"):
        check_host_path({"path": str(tmp_path), "type": "Socket"})


@pytest.mark.parametrize(
    ("kind", "target", "message"),
    [
        ("Directory", "missing", "hostPath type check failed: {} does not exist"),
        ("Directory", "file", "hostPath type check failed: {} is not a directory"),
        ("DirectoryOrCreate", "file", "hostPath type check failed: {} is not a directory"),
        ("File", "missing", "hostPath type check failed: {} does not exist"),
        ("File", "dir", "hostPath type check failed: {} is not a file"),
        ("FileOrCreate", "dir", "hostPath type check failed: {} is not a file"),
        ("CharDevice", "file", "hostPath type check failed: {} is not a character device"),
        ("BlockDevice", "file", "hostPath type check failed: {} is not a block device"),
        ("Bogus", "file", "Bogus is an invalid volume type"),
    ],
)
def test_type_mismatches_fail_with_upstream_messages(tmp_path, kind, target, message):
    (tmp_path / "file").write_text("x")
    (tmp_path / "dir").mkdir()
    path = str(tmp_path / target)
    with pytest.raises(HostPathTypeError) as caught:
        check_host_path({"path": path, "type": kind})
    assert str(caught.value) == message.format(path)


def test_devices_pass_their_checks():
    check_host_path({"path": "/dev/null", "type": "CharDevice"})
