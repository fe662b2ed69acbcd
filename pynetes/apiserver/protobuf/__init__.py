"""Protobuf request bodies of the built-in kinds (``application/vnd.kubernetes.protobuf``)."""

from pynetes.apiserver.protobuf.decoding import UnknownKind, decode

__all__ = ["UnknownKind", "decode"]
