"""Pod volumes set up from objects in the API server, as a container would see them."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import shutil
import socket
import threading

import jwt
import pytest

from pynetes.api.resources import built_in
from pynetes.kubelet.env import ContainerConfigError
from pynetes.kubelet.lookup import CONFIG_MAPS, SECRETS, ApiObjectLookup
from pynetes.kubelet.runtime.interface import Mount
from pynetes.kubelet.volumes.manager import VolumeManager, VolumeSetupError
from pynetes.kubelet.volumes.tmpfs import mount_points_under, mount_tmpfs, unmount_all_under

PODS = built_in("", "v1", "pods")
SERVICE_ACCOUNTS = built_in("", "v1", "serviceaccounts")
ALLOCATABLE = {"cpu": "4", "memory": "8Gi", "ephemeral-storage": "100Gi"}


@pytest.fixture
async def manager(api, tmp_path):
    pods_dir = tmp_path / "pods"
    yield VolumeManager(pods_dir, ApiObjectLookup(api), node_allocatable=ALLOCATABLE)
    await unmount_all_under(tmp_path)


async def _pod(api, volumes, mounts=(), *, name="p", **spec):
    container = {"name": "app", "image": "busybox", "volumeMounts": list(mounts)}
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": "web"}},
        # no token volume: these tests set up only the volumes they name
        "spec": {
            "containers": [container],
            "volumes": volumes,
            "automountServiceAccountToken": False,
            **spec,
        },
    }
    return await api.create(PODS, pod)


async def _config_map(api, name, data):
    return await api.create(
        CONFIG_MAPS, {"metadata": {"name": name}, "data": data}, namespace="default"
    )


def _mode(path):
    return path.stat().st_mode & 0o7777


async def test_config_map_volume_files_modes_and_mounts(api, manager):
    await _config_map(api, "cfg", {"app.conf": "port=80", "extra": "x"})
    pod = await _pod(
        api,
        [
            {"name": "all", "configMap": {"name": "cfg"}},
            {
                "name": "some",
                "configMap": {
                    "name": "cfg",
                    "defaultMode": 0o600,
                    "items": [
                        {"key": "app.conf", "path": "conf/app.conf", "mode": 0o400},
                        {"key": "extra", "path": "extra.txt"},
                    ],
                },
            },
        ],
        [
            {"name": "all", "mountPath": "/etc/all"},
            {"name": "some", "mountPath": "/etc/some", "readOnly": False},
            {"name": "all", "mountPath": "/etc/app.conf", "subPath": "app.conf"},
        ],
    )
    mounts = await manager.mount_pod(pod)
    uid = pod["metadata"]["uid"]
    folder = manager.pods_dir / uid / "volumes" / "kubernetes.io~configmap"
    assert mounts == {
        "app": [
            Mount("/etc/all", str(folder / "all"), read_only=True),
            Mount("/etc/some", str(folder / "some"), read_only=True),
            Mount("/etc/app.conf", str(folder / "all" / "app.conf"), read_only=True),
        ]
    }
    assert (folder / "all" / "app.conf").read_text() == "port=80"
    assert _mode(folder / "all" / "extra") == 0o644
    assert sorted(os.listdir(folder / "some"))[-2:] == ["conf", "extra.txt"]
    assert (folder / "some" / "conf" / "app.conf").read_text() == "port=80"
    assert _mode(folder / "some" / "conf" / "app.conf") == 0o400
    assert _mode(folder / "some" / "extra.txt") == 0o600


async def test_updated_config_map_reaches_files_at_next_mount(api, manager):
    await _config_map(api, "cfg", {"a": "1", "old": "x"})
    pod = await _pod(api, [{"name": "cfg", "configMap": {"name": "cfg"}}])
    await manager.mount_pod(pod)
    folder = manager.volume_dir(pod["metadata"]["uid"], "configMap", "cfg")
    version = os.readlink(folder / "..data")
    await manager.mount_pod(pod)
    assert os.readlink(folder / "..data") == version, "an unchanged ConfigMap is not rewritten"
    await api.patch(
        CONFIG_MAPS, "cfg", {"data": {"a": "2", "old": None, "new": "y"}}, namespace="default"
    )
    await manager.mount_pod(pod)
    assert (folder / "a").read_text() == "2"
    assert (folder / "new").read_text() == "y"
    assert "old" not in os.listdir(folder)
    assert os.readlink(folder / "..data") != version
    assert not (folder / version).exists()


async def test_readers_never_see_a_partial_version(api, manager):
    """A reader that lists and reads the volume while it is rewritten sees whole versions."""
    keys = [f"k{i}" for i in range(20)]
    await _config_map(api, "cfg", dict.fromkeys(keys, "v0"))
    pod = await _pod(api, [{"name": "cfg", "configMap": {"name": "cfg"}}])
    await manager.mount_pod(pod)
    data = manager.volume_dir(pod["metadata"]["uid"], "configMap", "cfg") / "..data"
    seen: list[set[str]] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                # one snapshot: the version ..data points at now
                version = data.parent / os.readlink(data)
                seen.append({(version / key).read_text() for key in keys})
            except FileNotFoundError:
                continue  # that version was replaced and removed since readlink: read again

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for version in range(1, 15):
            await api.patch(
                CONFIG_MAPS,
                "cfg",
                {"data": dict.fromkeys(keys, f"v{version}")},
                namespace="default",
            )
            await manager.mount_pod(pod)
    finally:
        stop.set()
        await asyncio.to_thread(reader.join)
    assert seen
    assert all(len(values) == 1 for values in seen), "a version mixed old and new files"
    assert (data.parent / "k0").read_text() == "v14"


async def test_missing_config_map_fails_with_upstream_message_unless_optional(api, manager):
    pod = await _pod(
        api,
        [
            {"name": "cfg", "configMap": {"name": "missing"}},
            {"name": "opt", "configMap": {"name": "missing", "optional": True}},
            {"name": "sec", "secret": {"secretName": "nosecret"}},
        ],
    )
    with pytest.raises(VolumeSetupError) as caught:
        await manager.mount_pod(pod)
    assert caught.value.reason == "FailedMount"
    assert caught.value.messages == [
        'MountVolume.SetUp failed for volume "cfg" : configmap "missing" not found',
        'MountVolume.SetUp failed for volume "sec" : secret "nosecret" not found',
    ]
    optional = manager.volume_dir(pod["metadata"]["uid"], "configMap", "opt")
    assert sorted(os.listdir(optional))[-1] == "..data"
    await _config_map(api, "missing", {"k": "v"})
    await api.create(SECRETS, {"metadata": {"name": "nosecret"}}, namespace="default")
    await manager.mount_pod(pod)
    assert (optional / "k").read_text() == "v"


async def test_missing_item_key_fails(api, manager):
    await _config_map(api, "cfg", {"a": "1"})
    pod = await _pod(
        api, [{"name": "cfg", "configMap": {"name": "cfg", "items": [{"key": "b", "path": "b"}]}}]
    )
    with pytest.raises(VolumeSetupError) as caught:
        await manager.mount_pod(pod)
    assert caught.value.messages == [
        'MountVolume.SetUp failed for volume "cfg" : '
        "configmap references non-existent config key: b"
    ]


async def test_secret_volume_is_decoded_in_memory(api, manager):
    await api.create(
        SECRETS,
        {
            "metadata": {"name": "creds"},
            "data": {"password": base64.b64encode(b"hunter2\x00").decode()},
        },
        namespace="default",
    )
    pod = await _pod(
        api, [{"name": "creds", "secret": {"secretName": "creds", "defaultMode": 0o400}}]
    )
    await manager.mount_pod(pod)
    folder = manager.volume_dir(pod["metadata"]["uid"], "secret", "creds")
    assert (folder / "password").read_bytes() == b"hunter2\x00"
    assert _mode(folder / "password") == 0o400
    assert folder in mount_points_under(folder), "secrets stay in memory (a tmpfs, as root)"


async def test_downward_api_and_projected_volumes_follow_the_pod(api, manager):
    await _config_map(api, "cfg", {"setting": "on"})
    await api.create(SERVICE_ACCOUNTS, {"metadata": {"name": "default"}}, namespace="default")
    await api.create(
        SECRETS,
        {"metadata": {"name": "s"}, "data": {"token": base64.b64encode(b"t").decode()}},
        namespace="default",
    )
    pod = await _pod(
        api,
        [
            {
                "name": "info",
                "downwardAPI": {
                    "items": [
                        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                        {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
                        {
                            "path": "mem",
                            "resourceFieldRef": {
                                "containerName": "app",
                                "resource": "limits.memory",
                                "divisor": "1Mi",
                            },
                        },
                    ]
                },
            },
            {
                "name": "all",
                "projected": {
                    "defaultMode": 0o440,
                    "sources": [
                        {"configMap": {"name": "cfg"}},
                        {"secret": {"name": "s", "items": [{"key": "token", "path": "tok"}]}},
                        {
                            "downwardAPI": {
                                "items": [
                                    {"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace"}}
                                ]
                            }
                        },
                        {"serviceAccountToken": {"path": "token"}},
                    ],
                },
            },
        ],
    )
    await manager.mount_pod(pod)
    uid = pod["metadata"]["uid"]
    info = manager.volume_dir(uid, "downwardAPI", "info")
    assert (info / "labels").read_text() == 'app="web"'
    assert (info / "name").read_text() == "p"
    assert (info / "mem").read_text() == "8192"
    projected = manager.volume_dir(uid, "projected", "all")
    assert {name for name in os.listdir(projected) if not name.startswith("..")} == {
        "setting",
        "tok",
        "ns",
        "token",
    }
    assert (projected / "tok").read_text() == "t"
    claims = jwt.decode((projected / "token").read_text(), options={"verify_signature": False})
    assert claims["kubernetes.io"]["pod"] == {"name": "p", "uid": pod["metadata"]["uid"]}
    assert _mode(projected / "ns") == 0o440
    pod = await api.patch(PODS, "p", {"metadata": {"labels": {"app": "db"}}}, namespace="default")
    await manager.mount_pod(pod)
    assert (info / "labels").read_text() == 'app="db"'


async def test_host_path_types(api, manager, tmp_path):
    socket_path = tmp_path / "agent.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(socket_path))
    created = tmp_path / "made" / "here"
    pod = await _pod(
        api,
        [
            {"name": "made", "hostPath": {"path": str(created), "type": "DirectoryOrCreate"}},
            {"name": "sock", "hostPath": {"path": str(socket_path), "type": "Socket"}},
        ],
        [{"name": "made", "mountPath": "/data"}],
    )
    try:
        mounts = await manager.mount_pod(pod)
    finally:
        server.close()
    assert created.is_dir()
    assert mounts["app"] == [Mount("/data", str(created))]
    bad = await _pod(
        api, [{"name": "f", "hostPath": {"path": str(created), "type": "File"}}], name="q"
    )
    with pytest.raises(VolumeSetupError) as caught:
        await manager.mount_pod(bad)
    assert caught.value.messages == [
        f'MountVolume.SetUp failed for volume "f" : hostPath type check failed: {created} '
        "is not a file"
    ]


async def test_memory_empty_dir_is_a_sized_tmpfs_and_unmount_cleans_up(api, manager):
    pod = await _pod(
        api,
        [
            {"name": "cache", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
            {"name": "scratch", "emptyDir": {}},
        ],
        [{"name": "cache", "mountPath": "/cache"}, {"name": "scratch", "mountPath": "/tmp"}],
    )
    mounts = await manager.mount_pod(pod)
    uid = pod["metadata"]["uid"]
    cache = manager.volume_dir(uid, "emptyDir", "cache")
    scratch = manager.volume_dir(uid, "emptyDir", "scratch")
    assert [m.read_only for m in mounts["app"]] == [False, False]
    assert _mode(scratch) == 0o777
    assert cache in mount_points_under(cache)
    stats = os.statvfs(cache)
    assert stats.f_blocks * stats.f_frsize == 64 * 1024 * 1024
    (cache / "kept").write_text("x")
    await manager.mount_pod(pod)
    assert (cache / "kept").read_text() == "x", "a repeat keeps the volume's contents"
    assert manager.pod_dirs() == {uid}
    (manager.pods_dir / uid / "etc-hosts").write_text("the kubelet's own file\n")
    await manager.unmount_pod(uid)
    assert mount_points_under(manager.pods_dir) == []
    assert not (manager.pods_dir / uid).exists()
    assert manager.pod_dirs() == set()


async def test_a_mount_cancelled_while_its_command_runs_is_not_left_behind(tmp_path, monkeypatch):
    # a kubelet stopping cancels pod set-ups; the teardown that follows must find
    # every mount they made, including one whose command was still running (a slow
    # `mount` first in PATH makes the moment certain)
    slow = tmp_path / "bin"
    slow.mkdir()
    (slow / "mount").write_text(f'#!/bin/sh\nsleep 0.3\nexec {shutil.which("mount")} "$@"\n')
    (slow / "mount").chmod(0o755)
    monkeypatch.setenv("PATH", f"{slow}:{os.environ['PATH']}")
    folder = tmp_path / "volume"
    folder.mkdir()
    mounting = asyncio.create_task(mount_tmpfs(folder, 1024 * 1024))
    await asyncio.sleep(0.15)
    mounting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await mounting
    await unmount_all_under(folder)
    await asyncio.sleep(0.3)  # where a mount left running would land
    assert mount_points_under(folder) == []


async def test_two_teardowns_of_the_same_mounts_both_succeed(tmp_path):
    # two teardowns of the same pod's folder (the pod worker's and the kubelet's
    # at stop): neither fails on the points the other got to first
    points = [tmp_path / f"volume-{index}" for index in range(4)]
    for point in points:
        point.mkdir()
        await mount_tmpfs(point, 1024 * 1024)
    await asyncio.gather(unmount_all_under(tmp_path), unmount_all_under(tmp_path))
    assert mount_points_under(tmp_path) == []


async def test_orphaned_pod_volumes_are_cleaned_up(api, manager):
    await api.create(
        SECRETS,
        {"metadata": {"name": "s"}, "data": {"k": base64.b64encode(b"v").decode()}},
        namespace="default",
    )
    pod = await _pod(api, [{"name": "s", "secret": {"secretName": "s"}}])
    await manager.mount_pod(pod)
    uid = pod["metadata"]["uid"]
    # a kubelet restarted after the pod was deleted knows only what is on disk
    restarted = VolumeManager(manager.pods_dir, ApiObjectLookup(api))
    assert restarted.pod_dirs() == {uid}
    assert await restarted.cleanup_orphans([uid]) == []
    assert await restarted.cleanup_orphans(["other-pod"]) == [uid]
    assert mount_points_under(manager.pods_dir) == []
    assert restarted.pod_dirs() == set()


async def test_sub_paths_and_sub_path_expressions(api, manager):
    pod = await _pod(
        api,
        [{"name": "data", "emptyDir": {}}],
        [
            {"name": "data", "mountPath": "/logs", "subPath": "logs/app"},
            {"name": "data", "mountPath": "/mine", "subPathExpr": "pods/$(POD_NAME)"},
        ],
    )
    mounts = await manager.mount_pod(pod, environments={"app": [("POD_NAME", "p")]})
    data = manager.volume_dir(pod["metadata"]["uid"], "emptyDir", "data")
    assert mounts["app"] == [
        Mount("/logs", str(data / "logs" / "app")),
        Mount("/mine", str(data / "pods" / "p")),
    ]
    assert (data / "logs" / "app").is_dir()
    assert _mode(data / "pods" / "p") == 0o777, "a created subPath has the volume's mode"
    with pytest.raises(ContainerConfigError, match="missing value for POD_NAME"):
        await manager.mount_pod(pod)


async def test_mount_of_an_unknown_volume_is_a_config_error(api, manager):
    """The API server refuses such pods; a static pod's file is not validated by it."""
    pod = await _pod(api, [])
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "ghost", "mountPath": "/x"}]
    with pytest.raises(ContainerConfigError) as caught:
        await manager.mount_pod(pod)
    assert str(caught.value) == 'cannot find volume "ghost" to mount into container "app"'
