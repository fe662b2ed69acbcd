"""Printers of the smaller groups: coordination, scheduling, policy, rbac,
storage, node, admissionregistration and certificates.

roles and clusterroles have no printer upstream (NAME / CREATED AT).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pynetes.apiserver.tables import age
from pynetes.apiserver.tables.cells import NONE, Object, created, metadata, name, section
from pynetes.apiserver.tables.columns import AGE, META, NAME, Cells, Column, Doc, Printer

# -- leases ------------------------------------------------------------------

_LEASE_COLUMNS = (
    NAME,
    Column("Holder", "string", Doc("io.k8s.api.coordination.v1.LeaseSpec", "holderIdentity")),
    AGE,
)


def _lease(lease: Object, now: datetime) -> Cells:
    holder = section(lease, "spec").get("holderIdentity") or ""
    return [name(lease), holder, age.since(created(lease), now)]


# -- priorityclasses ---------------------------------------------------------

_PRIORITY_CLASS = "io.k8s.api.scheduling.v1.PriorityClass"
_PRIORITYCLASS_COLUMNS = (
    NAME,
    Column("Value", "integer", Doc(_PRIORITY_CLASS, "value")),
    Column("Global-Default", "boolean", Doc(_PRIORITY_CLASS, "globalDefault")),
    AGE,
    Column("PreemptionPolicy", "string", Doc(_PRIORITY_CLASS, "preemptionPolicy")),
)


def _priorityclass(priority_class: Object, now: datetime) -> Cells:
    return [
        name(priority_class),
        priority_class.get("value", 0),
        bool(priority_class.get("globalDefault")),
        age.since(created(priority_class), now),
        priority_class.get("preemptionPolicy") or "",
    ]


# -- poddisruptionbudgets ----------------------------------------------------

_PDB_COLUMNS = (
    NAME,
    Column("Min Available", "string", "The minimum number of pods that must be available."),
    Column("Max Unavailable", "string", "The maximum number of pods that may be unavailable."),
    Column(
        "Allowed Disruptions",
        "integer",
        "Calculated number of pods that may be disrupted at this time.",
    ),
    AGE,
)


def _poddisruptionbudget(budget: Object, now: datetime) -> Cells:
    spec = section(budget, "spec")
    minimum, maximum = spec.get("minAvailable"), spec.get("maxUnavailable")
    return [
        name(budget),
        "N/A" if minimum is None else str(minimum),
        "N/A" if maximum is None else str(maximum),
        section(budget, "status").get("disruptionsAllowed", 0),
        age.since(created(budget), now),
    ]


# -- rolebindings and clusterrolebindings ------------------------------------


def _binding_columns(kind: str) -> tuple[Column, ...]:
    noun = kind[0].lower() + kind[1:]
    return (
        NAME,
        Column("Role", "string", Doc(f"io.k8s.api.rbac.v1.{kind}", "roleRef")),
        AGE,
        Column("Users", "string", f"Users in the {noun}", 1),
        Column("Groups", "string", f"Groups in the {noun}", 1),
        Column("ServiceAccounts", "string", f"ServiceAccounts in the {noun}", 1),
    )


def _binding(binding: Object, now: datetime) -> Cells:
    role = section(binding, "roleRef")
    users, groups, accounts = _subjects(binding.get("subjects") or [])
    return [
        name(binding),
        f"{role.get('kind', '')}/{role.get('name', '')}",
        age.since(created(binding), now),
        ", ".join(users),
        ", ".join(groups),
        ", ".join(accounts),
    ]


def _subjects(subjects: list[Object]) -> tuple[list[str], list[str], list[str]]:
    """``rbac.SubjectsStrings``: user names, group names, ``namespace/name`` accounts."""
    users, groups, accounts = [], [], []
    for subject in subjects:
        kind, subject_name = subject.get("kind"), subject.get("name", "")
        if kind == "ServiceAccount":
            accounts.append(f"{subject.get('namespace', '')}/{subject_name}")
        elif kind == "User":
            users.append(subject_name)
        elif kind == "Group":
            groups.append(subject_name)
    return users, groups, accounts


# -- storageclasses ----------------------------------------------------------

_STORAGE_CLASS = "io.k8s.api.storage.v1.StorageClass"
_STORAGECLASS_COLUMNS = (
    NAME,
    Column("Provisioner", "string", Doc(_STORAGE_CLASS, "provisioner")),
    Column("ReclaimPolicy", "string", Doc(_STORAGE_CLASS, "reclaimPolicy")),
    Column("VolumeBindingMode", "string", Doc(_STORAGE_CLASS, "volumeBindingMode")),
    Column("AllowVolumeExpansion", "string", Doc(_STORAGE_CLASS, "allowVolumeExpansion")),
    AGE,
)
_DEFAULT_CLASS_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)


def _storageclass(storage_class: Object, now: datetime) -> Cells:
    annotations = metadata(storage_class).get("annotations") or {}
    is_default = any(annotations.get(key) == "true" for key in _DEFAULT_CLASS_ANNOTATIONS)
    return [
        name(storage_class) + (" (default)" if is_default else ""),
        storage_class.get("provisioner", ""),
        storage_class.get("reclaimPolicy") or "Delete",
        storage_class.get("volumeBindingMode") or "Immediate",
        bool(storage_class.get("allowVolumeExpansion")),
        age.since(created(storage_class), now),
    ]


# -- runtimeclasses and webhook configurations -------------------------------

# Upstream describes HANDLER with ObjectMeta's (absent) "handler" doc: "".
_RUNTIMECLASS_COLUMNS = (NAME, Column("Handler", "string", Doc(META, "handler")), AGE)


def _runtimeclass(runtime_class: Object, now: datetime) -> Cells:
    handler = runtime_class.get("handler", "")
    return [name(runtime_class), handler, age.since(created(runtime_class), now)]


_WEBHOOK_COLUMNS = (
    NAME,
    Column(
        "Webhooks",
        "integer",
        "Webhooks indicates the number of webhooks registered in this configuration",
    ),
    AGE,
)


def _webhooks(configuration: Object, now: datetime) -> Cells:
    count = len(configuration.get("webhooks") or [])
    return [name(configuration), count, age.since(created(configuration), now)]


# -- certificatesigningrequests ----------------------------------------------

_CSR_SPEC = "io.k8s.api.certificates.v1.CertificateSigningRequestSpec"
_CSR_COLUMNS = (
    NAME,
    AGE,
    Column("SignerName", "string", Doc(_CSR_SPEC, "signerName")),
    Column("Requestor", "string", Doc(_CSR_SPEC, "request")),
    Column("RequestedDuration", "string", Doc(_CSR_SPEC, "expirationSeconds")),
    Column(
        "Condition",
        "string",
        Doc("io.k8s.api.certificates.v1.CertificateSigningRequestStatus", "conditions"),
    ),
)


def _csr(request: Object, now: datetime) -> Cells:
    spec = section(request, "spec")
    seconds = spec.get("expirationSeconds")
    return [
        name(request),
        age.since(created(request), now),
        spec.get("signerName") or NONE,
        spec.get("username", ""),
        NONE if seconds is None else age.human_duration(timedelta(seconds=seconds)),
        _csr_condition(section(request, "status")),
    ]


def _csr_condition(status: Object) -> str:
    """``Denied``, else ``Approved``, else ``Pending``; then ``,Failed`` and ``,Issued``."""
    kinds = {condition.get("type") for condition in status.get("conditions") or []}
    state = "Denied" if "Denied" in kinds else "Approved" if "Approved" in kinds else "Pending"
    if "Failed" in kinds:
        state += ",Failed"
    if status.get("certificate"):
        state += ",Issued"
    return state


PRINTERS = {
    ("coordination.k8s.io", "leases"): Printer(_LEASE_COLUMNS, _lease),
    ("scheduling.k8s.io", "priorityclasses"): Printer(_PRIORITYCLASS_COLUMNS, _priorityclass),
    ("policy", "poddisruptionbudgets"): Printer(_PDB_COLUMNS, _poddisruptionbudget),
    ("rbac.authorization.k8s.io", "rolebindings"): Printer(
        _binding_columns("RoleBinding"), _binding
    ),
    ("rbac.authorization.k8s.io", "clusterrolebindings"): Printer(
        _binding_columns("ClusterRoleBinding"), _binding
    ),
    ("storage.k8s.io", "storageclasses"): Printer(_STORAGECLASS_COLUMNS, _storageclass),
    ("node.k8s.io", "runtimeclasses"): Printer(_RUNTIMECLASS_COLUMNS, _runtimeclass),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"): Printer(
        _WEBHOOK_COLUMNS, _webhooks
    ),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"): Printer(
        _WEBHOOK_COLUMNS, _webhooks
    ),
    ("certificates.k8s.io", "certificatesigningrequests"): Printer(_CSR_COLUMNS, _csr),
}
