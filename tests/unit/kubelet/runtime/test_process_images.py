"""The process runtime's image catalog: Docker name normalisation, built-ins, the YAML
file, Docker's entrypoint/cmd combination, and the errors the kubelet shows users."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pynetes.kubelet.runtime.interface import ImagePullError, PodSandboxConfig
from pynetes.kubelet.runtime.process import ImageCatalog, ProcessRuntime
from pynetes.kubelet.runtime.process.images import normalize

from .conftest import Pod, log_entries


@pytest.mark.parametrize(
    ("name", "normalized"),
    [
        ("busybox", "docker.io/library/busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36"),
        ("docker.io/busybox", "docker.io/library/busybox:latest"),
        ("library/busybox:1", "docker.io/library/busybox:1"),
        ("someone/app", "docker.io/someone/app:latest"),
        ("registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.9"),
        ("localhost:5000/app", "localhost:5000/app:latest"),
        ("busybox@sha256:abc", "docker.io/library/busybox@sha256:abc"),
    ],
)
def test_names_are_normalised_as_docker_does(name: str, normalized: str) -> None:
    assert normalize(name) == normalized


def test_builtins_give_the_usual_images_their_default_commands() -> None:
    catalog = ImageCatalog(None)
    assert catalog.command("busybox", (), ()) == ["sh"]
    assert catalog.command("docker.io/library/busybox:1.36", (), ()) == ["sh"]
    assert catalog.command("python:3.12-slim", (), ()) == [sys.executable]
    assert catalog.command("registry.k8s.io/pause:3.10", (), ()) == ["sleep", "infinity"]
    # Docker's rules: args replace the image's cmd, a command replaces the entrypoint too.
    assert catalog.command("python:3.12", (), ("-c", "pass")) == ["-c", "pass"]
    assert catalog.command("pause", (), ("x",)) == ["sleep", "infinity", "x"]
    assert catalog.command("pause", ("true",), ("x",)) == ["true", "x"]


def test_the_catalog_file_adds_and_overrides_images(tmp_path: Path) -> None:
    path = tmp_path / "images.yaml"
    path.write_text(
        "images:\n"
        "  - name: example.com/app:*\n"
        "    entrypoint: [/usr/bin/app]\n"
        "    cmd: [--serve]\n"
        "  - name: busybox:*\n"
        "    cmd: [echo, overridden]\n"
    )
    catalog = ImageCatalog(path)
    assert catalog.command("example.com/app:v2", (), ()) == ["/usr/bin/app", "--serve"]
    assert catalog.command("busybox:1.36", (), ()) == ["echo", "overridden"]
    assert catalog.command("alpine", (), ()) == ["sh"]


async def test_an_unknown_image_without_a_command_cannot_be_pulled(
    pod: Pod, tmp_path: Path
) -> None:
    with pytest.raises(ImagePullError) as failure:
        await pod.create(image="example.com/unknown:1")
    assert failure.value.reason == "ErrImagePull"
    assert str(tmp_path / "images.yaml") in str(failure.value)
    assert "example.com/unknown:1" in str(failure.value)


async def test_an_unknown_image_runs_with_an_explicit_command(pod: Pod) -> None:
    assert await pod.runtime.pull_image("example.com/tool:2") == "example.com/tool:2"
    assert (await pod.runtime.image_status("example.com/tool:2")) is not None
    container_id = await pod.run(image="example.com/tool:2", command=["echo", "ran"])
    status = await pod.exited(container_id)
    assert status.image_ref == "example.com/tool:2"
    assert [e.content for e in log_entries(status.log_path)] == [b"ran\n"]


async def test_an_image_from_the_catalog_file_runs_its_command(tmp_path: Path) -> None:
    (tmp_path / "images.yaml").write_text(
        "images:\n  - name: greeter\n    entrypoint: [sh, -c]\n    cmd: [echo hello]\n"
    )
    runtime = ProcessRuntime(
        tmp_path / "state", images=ImageCatalog(tmp_path / "images.yaml"), cgroup_root=None
    )

    config = PodSandboxConfig(name="p", namespace="n", uid="u", log_directory=str(tmp_path))
    pod = Pod(runtime, await runtime.run_pod_sandbox(config), config)
    image = await runtime.image_status("greeter:latest")
    assert image is not None and image.entrypoint == ("sh", "-c")
    assert await runtime.pull_image("greeter") == image.id
    container_id = await pod.run(image="greeter", args=["echo custom"])
    status = await pod.exited(container_id)
    assert [e.content for e in log_entries(status.log_path)] == [b"custom\n"]
    await runtime.remove_pod_sandbox(pod.id)
    await runtime.close()
