"""cgroup limits (memory with OOM kills, cpu quota and shares) and volume mounts of the
process runtime, with real processes; cgroup tests need the v1 hierarchies writable."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from pynetes.kubelet.runtime.interface import ContainerState, LinuxResources, Mount
from pynetes.kubelet.runtime.process import shim
from tests.conftest import require

from .conftest import Pod, log_contains, require_cgroups

CGROUPS = Path("/sys/fs/cgroup")


async def test_a_container_over_its_memory_limit_is_oom_killed(pod: Pod) -> None:
    require_cgroups()
    hog = "blocks = [bytearray(1024 * 1024) for _ in range(200)]"
    container_id = await pod.run(
        command=[sys.executable, "-c", hog],
        resources=LinuxResources(memory_limit_in_bytes=50 * 1024 * 1024),
    )
    status = await pod.exited(container_id)
    assert (status.exit_code, status.reason) == (137, "OOMKilled")


async def test_cpu_and_memory_settings_are_written_and_removed_with_the_container(
    pod: Pod,
) -> None:
    require_cgroups()
    resources = LinuxResources(
        cpu_period=100_000, cpu_quota=50_000, cpu_shares=512, memory_limit_in_bytes=64 << 20
    )
    container_id = await pod.run(
        command=["sh", "-c", "cat /proc/self/cgroup; sleep 300"], resources=resources
    )
    cpu = CGROUPS / "cpu" / "pynetes" / pod.config.uid / container_id
    memory = CGROUPS / "memory" / "pynetes" / pod.config.uid / container_id
    assert (cpu / "cpu.cfs_quota_us").read_text().strip() == "50000"
    assert (cpu / "cpu.cfs_period_us").read_text().strip() == "100000"
    assert (cpu / "cpu.shares").read_text().strip() == "512"
    assert (memory / "memory.limit_in_bytes").read_text().strip() == str(64 << 20)
    cgroup = f"pynetes/{pod.config.uid}/{container_id}".encode()
    status = await pod.runtime.container_status(container_id)
    await log_contains(status.log_path, b"cpu:/" + cgroup)
    await log_contains(status.log_path, b"memory:/" + cgroup)
    result = await pod.runtime.exec_sync(container_id, ["cat", "/proc/self/cgroup"], 10)
    assert b"memory:/" + cgroup in result.stdout  # exec'd processes count against the limits
    await pod.runtime.remove_container(container_id)
    assert not cpu.exists() and not memory.exists()


async def test_a_stopped_sandbox_leaves_no_cgroup_behind(pod: Pod) -> None:
    """A stopped sandbox never runs again (the kubelet makes a new one), and a node that
    is shut down stops every sandbox: their cgroups must not pile up on the machine."""
    require_cgroups()
    container_id = await pod.run(
        command=["sleep", "300"], resources=LinuxResources(memory_limit_in_bytes=64 << 20)
    )
    folders = [
        CGROUPS / controller / "pynetes" / pod.config.uid for controller in ("cpu", "memory")
    ]
    assert all((folder / container_id).is_dir() for folder in folders)
    await pod.runtime.stop_pod_sandbox(pod.id)
    assert not any(folder.exists() for folder in folders)
    status = await pod.runtime.container_status(container_id)
    assert (status.state, status.exit_code) == (ContainerState.EXITED, 137)


async def test_volumes_appear_at_their_mount_paths(pod: Pod, tmp_path: Path) -> None:
    volume = tmp_path / "volume"
    volume.mkdir()
    (volume / "greeting").write_text("hello from the volume\n")
    mount_point = tmp_path / "container" / "data"  # does not exist yet
    read_only = tmp_path / "container" / "config"
    container_id = await pod.run(
        command=["sh", "-c", f"cat {mount_point}/greeting; sleep 300"],
        mounts=[
            Mount(container_path=str(mount_point), host_path=str(volume)),
            Mount(container_path=str(read_only), host_path=str(volume), read_only=True),
        ],
    )
    status = await pod.runtime.container_status(container_id)

    await log_contains(status.log_path, b"hello from the volume")
    written = await pod.runtime.exec_sync(
        container_id, ["sh", "-c", f"echo new > {mount_point}/written"], 10
    )
    assert written.exit_code == 0
    assert (volume / "written").read_text() == "new\n"
    refused = await pod.runtime.exec_sync(
        container_id, ["sh", "-c", f"echo no > {read_only}/other"], 10
    )
    assert refused.exit_code != 0 and b"Read-only" in refused.stderr
    # The bind mounts live only in the container's mount namespace.
    assert not (mount_point / "greeting").exists()
    await pod.runtime.stop_container(container_id, 5)
    assert (await pod.runtime.container_status(container_id)).state is ContainerState.EXITED


#: Run in a fresh interpreter (as root): becomes nobody, as the shim of a non-root kubelet
#: runs, makes the mount through a user namespace, then execs cat of the mounted file.
#: A fresh process, because a fork of the long-running test process can be refused
#: unshare(CLONE_NEWUSER) (EINVAL) by state it accumulated.
AS_NOBODY = """
import ctypes, os, sys
sys.path.insert(0, sys.argv[1])
import shim
os.setgroups([])
os.setresgid(65534, 65534, 65534)
os.setresuid(65534, 65534, 65534)
ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE: as a shim started as nobody is
shim.setup_mounts([{"host_path": sys.argv[2], "container_path": sys.argv[3], "read_only": True}])
os.execvp("cat", ["cat", os.path.join(sys.argv[3], "file")])
"""


def test_without_root_mounts_are_made_in_a_user_namespace() -> None:
    """The shim's mount setup as an unprivileged user (nobody): bind mounts still work."""
    require(os.getuid() == 0, "root (to become another user)")
    base = Path(tempfile.mkdtemp(prefix="pynetes-userns-"))
    try:
        base.chmod(0o755)
        (base / "volume").mkdir(mode=0o755)
        (base / "volume" / "file").write_text("seen through the mount\n")
        (base / "volume" / "file").chmod(0o644)
        (base / "target").mkdir(mode=0o755)
        arguments = [str(Path(shim.__file__).parent), str(base / "volume"), str(base / "target")]
        result = subprocess.run(
            [sys.executable, "-I", "-S", "-c", AS_NOBODY, *arguments],
            capture_output=True,
            check=False,
        )
        assert result.stdout == b"seen through the mount\n", result.stderr
        assert result.returncode == 0
    finally:
        shutil.rmtree(base)
