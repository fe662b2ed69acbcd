"""The patch types of the Kubernetes API, as pure functions on JSON-shaped values.

- :func:`apply_json_patch`: ``application/json-patch+json`` (RFC 6902);
- :func:`apply_merge_patch`: ``application/merge-patch+json`` (RFC 7386);
- :func:`apply_strategic_merge_patch`: ``application/strategic-merge-patch+json``.

Each returns a new document and leaves its arguments untouched; a patch that
cannot be applied raises :class:`pynetes.api.errors.ApiError` as
kube-apiserver answers it, and nothing else.
"""

from pynetes.api.patch.json_patch import apply_json_patch
from pynetes.api.patch.merge_patch import apply_merge_patch
from pynetes.api.patch.strategic import apply_strategic_merge_patch

__all__ = ["apply_json_patch", "apply_merge_patch", "apply_strategic_merge_patch"]
