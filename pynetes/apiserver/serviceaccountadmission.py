"""The ServiceAccount admission plugin on pods (upstream: plugin/pkg/admission/serviceaccount).

On pod create: ``spec.serviceAccountName`` defaults to ``default``; unless
the pod or its ServiceAccount says ``automountServiceAccountToken: false``
(the pod's choice wins), every container and init container without a mount
at :data:`TOKEN_MOUNT_PATH` gets the ``kube-api-access-XXXXX`` projected
volume there, read-only: a bound token, the cluster CA from the
``kube-root-ca.crt`` ConfigMap and the namespace. A pod without
``imagePullSecrets`` gets its account's. Mirror pods are left alone (the
kubelet would see their spec differ from the static pod's).

Deviation: upstream refuses a pod whose ServiceAccount does not exist yet;
here it is admitted, and only the pod's own field decides the automount.
"""

from __future__ import annotations

from typing import Any

from pynetes.api import meta

Object = dict[str, Any]

DEFAULT_SERVICE_ACCOUNT = "default"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
TOKEN_VOLUME_PREFIX = "kube-api-access-"
TOKEN_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
ROOT_CA_CONFIG_MAP = "kube-root-ca.crt"
#: Upstream's token lifetime for the volume: an hour and 7 s, so it can be told apart.
TOKEN_EXPIRATION_SECONDS = 3607
_PROJECTED_DEFAULT_MODE = 0o644


def is_mirror_pod(pod: Object) -> bool:
    return MIRROR_ANNOTATION in ((pod.get("metadata") or {}).get("annotations") or {})


def admit_pod(pod: Object, account: Object | None) -> None:
    """Applies the plugin to a pod being created (in place); ``account`` is its
    ServiceAccount, None when it does not exist."""
    if is_mirror_pod(pod):
        return
    spec = pod.setdefault("spec", {})
    if not spec.get("serviceAccountName"):
        spec["serviceAccountName"] = spec.get("serviceAccount") or DEFAULT_SERVICE_ACCOUNT
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    if should_automount(pod, account):
        mount_token(spec)
    if account is not None and not spec.get("imagePullSecrets"):
        pulls = [{"name": ref["name"]} for ref in account.get("imagePullSecrets") or []]
        if pulls:
            spec["imagePullSecrets"] = pulls


def should_automount(pod: Object, account: Object | None) -> bool:
    """The pod's ``automountServiceAccountToken``, else its account's, else True."""
    chosen = (pod.get("spec") or {}).get("automountServiceAccountToken")
    if chosen is None and account is not None:
        chosen = account.get("automountServiceAccountToken")
    return chosen is not False


def mount_token(spec: Object) -> None:
    """Mounts the token volume in every (init) container not already using the path,
    adding the volume (an existing ``kube-api-access-*`` one is reused) if one does."""
    volumes = spec.get("volumes") or []
    existing = next(
        (v["name"] for v in volumes if v.get("name", "").startswith(TOKEN_VOLUME_PREFIX)), None
    )
    name = existing or meta.generate_name(TOKEN_VOLUME_PREFIX)
    needed = False
    for key in ("initContainers", "containers"):
        for container in spec.get(key) or []:
            mounts = container.setdefault("volumeMounts", [])
            if any(mount.get("mountPath") == TOKEN_MOUNT_PATH for mount in mounts):
                continue
            mounts.append({"name": name, "readOnly": True, "mountPath": TOKEN_MOUNT_PATH})
            needed = True
    if needed and existing is None:
        spec["volumes"] = [*volumes, {"name": name, "projected": token_volume_source()}]


def token_volume_source() -> Object:
    """The projected source of the token volume (upstream's TokenVolumeSource)."""
    return {
        "defaultMode": _PROJECTED_DEFAULT_MODE,
        "sources": [
            {
                "serviceAccountToken": {
                    "expirationSeconds": TOKEN_EXPIRATION_SECONDS,
                    "path": "token",
                }
            },
            {
                "configMap": {
                    "name": ROOT_CA_CONFIG_MAP,
                    "items": [{"key": "ca.crt", "path": "ca.crt"}],
                }
            },
            {
                "downwardAPI": {
                    "items": [
                        {
                            "path": "namespace",
                            "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                        }
                    ]
                }
            },
        ],
    }
