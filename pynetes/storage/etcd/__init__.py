"""The etcd v3 storage backend, and a launcher for local etcd servers."""

from pynetes.storage.etcd.store import EtcdStore

__all__ = ["EtcdStore"]
