"""Where a cluster's files live in its data folder, as kubeadm lays out ``/etc/kubernetes``.

::

    D/VERSION                   the pynetes data format this folder holds
    D/pki/                      the cluster CA, serving and signing keys (see pynetes.pki)
    D/manifests/                the control plane's static pod manifests (the kubelet's
                                staticPodPath): edit one and the kubelet restarts it
    D/kubeconfig                the admin's kubeconfig (kubeadm's admin.conf)
    D/scheduler.conf, D/controller-manager.conf, D/kubelet.conf
                                each component's own kubeconfig
    D/kubelet/                  the kubelet's root folder (pods, logs, its config.yaml)
    D/data/ or D/etcd/          the API server's SQLite store, or etcd's data
    D/logs/                     what the processes ``pynetes up`` starts itself write
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: Bumped when a data folder written by an older pynetes can no longer be read.
DATA_FORMAT = "1"


class DataFolderError(Exception):
    """The data folder is of another version, or cannot be used; the message says why."""


@dataclass(frozen=True)
class ClusterLayout:
    """The paths of one cluster's data folder ``root``."""

    root: Path

    @property
    def version_file(self) -> Path:
        return self.root / "VERSION"

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def manifests(self) -> Path:
        return self.root / "manifests"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    def kubeconfig_of(self, component: str) -> Path:
        """``scheduler.conf``, ``controller-manager.conf``, ``kubelet.conf``, ..."""
        return self.root / f"{component}.conf"

    @property
    def kubelet_dir(self) -> Path:
        return self.root / "kubelet"

    @property
    def kubelet_config(self) -> Path:
        return self.kubelet_dir / "config.yaml"

    @property
    def etcd_dir(self) -> Path:
        return self.root / "etcd"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def claim(self) -> None:
        """Make the folder (0700: it holds keys) and check it holds our data format.

        Raises DataFolderError for a folder written by another pynetes data format,
        so that nothing starts on data it would misread.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)
        try:
            found = self.version_file.read_text().strip()
        except FileNotFoundError:
            if any(self.root.iterdir()) and not self.pki.exists():
                raise DataFolderError(
                    f"{self.root} is not empty and holds no pynetes cluster; "
                    "give another --data-dir"
                ) from None
            self.version_file.write_text(DATA_FORMAT + "\n")
            return
        if found != DATA_FORMAT:
            raise DataFolderError(
                f"{self.root} holds a cluster in pynetes data format {found!r}, this pynetes "
                f"reads format {DATA_FORMAT!r}: use the pynetes that made it, or another "
                "--data-dir"
            )
