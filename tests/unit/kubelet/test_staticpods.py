"""Static pod manifests: upstream's file-source defaults, validation, the folder's reading."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pynetes.kubelet.staticpods import (
    CONFIG_HASH_ANNOTATION,
    CONFIG_SEEN_ANNOTATION,
    CONFIG_SOURCE_ANNOTATION,
    ManifestError,
    StaticPodSource,
    manifest_files,
    static_pod,
)

NOW = datetime(2024, 8, 13, 10, 0, 0, tzinfo=UTC)


def manifest(name: str = "web", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec},
    }


def test_file_pods_get_upstreams_file_source_defaults() -> None:
    pod = static_pod(manifest(), "/etc/manifests/web.yaml", "node1")
    metadata = pod["metadata"]
    assert metadata["name"] == "web-node1"
    assert metadata["namespace"] == "default"
    assert len(metadata["uid"]) == 32
    assert metadata["annotations"][CONFIG_HASH_ANNOTATION] == metadata["uid"]
    assert metadata["annotations"][CONFIG_SOURCE_ANNOTATION] == "file"
    assert pod["spec"]["nodeName"] == "node1"
    assert {"operator": "Exists", "effect": "NoExecute"} in pod["spec"]["tolerations"]
    assert pod["status"] == {"phase": "Pending"}
    # the API server's Pod defaults are there too
    assert pod["spec"]["restartPolicy"] == "Always"
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == "Always"


def test_the_uid_hashes_contents_node_and_file() -> None:
    uid = static_pod(manifest(), "/m/web.yaml", "node1")["metadata"]["uid"]
    assert static_pod(manifest(), "/m/web.yaml", "node1")["metadata"]["uid"] == uid
    assert static_pod(manifest(), "/m/web.yaml", "node2")["metadata"]["uid"] != uid
    assert static_pod(manifest(), "/m/other.yaml", "node1")["metadata"]["uid"] != uid
    changed = manifest(restartPolicy="Never")
    assert static_pod(changed, "/m/web.yaml", "node1")["metadata"]["uid"] != uid


def test_a_namespace_and_a_system_priority_class_are_kept() -> None:
    document = manifest(priorityClassName="system-node-critical")
    document["metadata"]["namespace"] = "kube-system"
    pod = static_pod(document, "/m/x", "n")
    assert pod["metadata"]["namespace"] == "kube-system"
    assert pod["spec"]["priority"] == 2000001000


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (["not", "an", "object"], "not an object"),
        ({"apiVersion": "apps/v1", "kind": "Deployment"}, "not a v1 Pod"),
        ({**manifest(), "spec": {"containers": "many"}}, "cannot unmarshal"),
        (manifest(restartPolicy="Sometimes"), "spec.restartPolicy"),
        ({**manifest(), "spec": {"containers": [{"name": "c"}]}}, "image: Required value"),
        (manifest(name="Not_A_Name"), "metadata.name"),
    ],
)
def test_a_broken_manifest_is_refused_with_the_reason(document: Any, reason: str) -> None:
    with pytest.raises(ManifestError, match=reason):
        static_pod(document, "/m/x", "n")


def test_dotfiles_and_folders_are_not_manifests(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("{}")
    (tmp_path / ".hidden.yaml").write_text("{}")
    (tmp_path / "sub").mkdir()
    assert [path.name for path in manifest_files(tmp_path)] == ["a.yaml"]
    assert list(manifest_files(tmp_path / "missing")) == []


def test_the_source_reports_the_complete_set_on_each_change(tmp_path: Path) -> None:
    updates: list[list[dict[str, Any]]] = []
    source = StaticPodSource(tmp_path, "n", updates.append, clock=lambda: NOW)
    source.scan()
    assert updates == [[]]  # the first read is reported even when empty
    (tmp_path / "a.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n"
        "spec: {containers: [{name: c, image: busybox}]}\n"
    )
    (tmp_path / "b.json").write_text(
        '{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "b"},'
        ' "spec": {"containers": [{"name": "c", "image": "busybox"}]}}'
    )
    (tmp_path / "broken.yaml").write_text("kind: [")
    source.scan()
    assert [pod["metadata"]["name"] for pod in updates[-1]] == ["a-n", "b-n"]
    seen = updates[-1][0]["metadata"]["annotations"][CONFIG_SEEN_ANNOTATION]
    assert seen.startswith("2024-08-13T10:00:00")
    source.scan()
    assert len(updates) == 2  # nothing changed: nothing reported
    (tmp_path / "b.json").unlink()
    source.scan()
    assert [pod["metadata"]["name"] for pod in updates[-1]] == ["a-n"]


async def test_without_inotify_the_folder_is_read_every_period(tmp_path: Path) -> None:
    """A folder that does not exist yet cannot be watched: the period finds it once made."""
    folder = tmp_path / "manifests"
    updates: asyncio.Queue[list[dict[str, Any]]] = asyncio.Queue()
    source = StaticPodSource(folder, "n", updates.put_nowait, period=0.05)
    task = asyncio.create_task(source.run())
    try:
        assert await asyncio.wait_for(updates.get(), 30) == []
        folder.mkdir()
        (folder / "a.yaml").write_text(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n"
            "spec: {containers: [{name: c, image: busybox}]}\n"
        )
        pods = await asyncio.wait_for(updates.get(), 30)
        assert [pod["metadata"]["name"] for pod in pods] == ["a-n"]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
