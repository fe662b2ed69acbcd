"""Per-resource write rules: what the server sets, keeps and bumps, as upstream's strategies do.

A :class:`Strategy` decides, for one resource, what a create resets (status),
what a main-resource update keeps from the stored object (status), what a
status update keeps (everything but status), when ``metadata.generation``
moves, and how deletion goes (graceful for pods, the returned body). The
kinds with rules of their own (pods, jobs, namespaces, ...) override a hook.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

from pynetes.api import errors, meta
from pynetes.api.defaults import label_namespace_name, namespace_finalizers_on_create
from pynetes.api.errors import FieldError
from pynetes.api.pods import qos_class
from pynetes.api.resources import Resource
from pynetes.api.validation import certificates, pods
from pynetes.apiserver.auth.authentication import UserInfo
from pynetes.apiserver.servicealloc import specs

Object = dict[str, Any]
Clock = Callable[[], datetime]

#: Resources whose spec changes bump metadata.generation (upstream's strategies).
_GENERATION_TRACKED = {
    ("apps", "deployments"),
    ("apps", "replicasets"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
    ("", "replicationcontrollers"),
    ("policy", "poddisruptionbudgets"),
    ("apiextensions.k8s.io", "customresourcedefinitions"),
}

#: Fields outside spec that count as the "spec" of kinds without one.
_METADATA_AND_STATUS = {"metadata", "status", "apiVersion", "kind"}


class Strategy:
    """The default rules; subclasses override the hooks their kind needs."""

    #: DELETE answers with the deleted object rather than a Success Status.
    returns_deleted_object: ClassVar[bool] = False
    #: The propagation of a DELETE that names none (upstream's DefaultGarbageCollectionPolicy).
    default_propagation_policy: ClassVar[str] = "Background"

    def __init__(self, resource: Resource, clock: Clock = lambda: datetime.now(UTC)) -> None:
        self.resource = resource
        self.clock = clock
        self.has_status = "status" in resource.subresources
        self.tracks_generation = (
            resource.group,
            resource.plural,
        ) in _GENERATION_TRACKED or resource.custom is not None

    def prepare_for_create(self, obj: Object) -> None:
        """Reset what clients may not set on create (status of kinds with a status subresource).

        Built-in kinds start with their zero status (``status: {}``); custom
        resources start with none, as upstream's customresource strategy drops it.
        """
        if self.has_status and self.resource.custom is not None:
            obj.pop("status", None)
        elif self.has_status:
            obj["status"] = self.initial_status(obj)
        if self.tracks_generation:
            meta.metadata(obj)["generation"] = 1

    def initial_status(self, obj: Object) -> Any:
        return {}

    def record_requester(self, obj: Object, user: UserInfo | None) -> None:
        """Note who asks for a create, for kinds that keep it (CertificateSigningRequests)."""

    def canonicalize(self, obj: Object) -> None:
        """Normalise a validated object just before it is written (upstream's Canonicalize):
        on every create attempt, after its name is final, and on every update."""

    def prepare_for_update(self, new: Object, old: Object) -> None:
        """A main-resource update: status stays as stored; generation follows spec changes."""
        if self.has_status:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        self.bump_generation(new, old)

    def bump_generation(self, new: Object, old: Object) -> None:
        generation = (old.get("metadata") or {}).get("generation")
        if generation is None:
            return
        if self.tracks_generation and _spec(new) != _spec(old):
            generation += 1
        meta.metadata(new)["generation"] = generation

    def prepare_for_status_update(self, new: Object, old: Object) -> None:
        """A status update: only status changes; everything else stays as stored."""
        status = new.get("status")
        new.clear()
        new.update({key: value for key, value in old.items() if key != "status"})
        if status is not None:
            new["status"] = status
        new["metadata"] = dict(old.get("metadata") or {})

    def prepare_for_finalize(self, new: Object, old: Object) -> None:
        """An update of the ``finalize`` subresource: everything but status may change."""
        if "status" in old:
            new["status"] = old["status"]
        else:
            new.pop("status", None)

    def prepare_for_approval(self, new: Object, old: Object) -> None:
        """An update of the ``approval`` subresource (only CertificateSigningRequests have one)."""
        self.prepare_for_status_update(new, old)

    def prepare_for_ephemeral_containers(self, new: Object, old: Object) -> None:
        """An update of pods' ``ephemeralcontainers`` subresource (pods only have one)."""
        raise errors.method_not_allowed()

    def subresource_update_errors(
        self, new: Object, old: Object, subresource: str | None
    ) -> list[FieldError]:
        """Field errors of an update that depend on the subresource it came through."""
        return []

    def grace_period(self, obj: Object, requested: int | None) -> int:
        """Seconds a deletion waits for (0: at once). Only pods are graceful."""
        return 0


def _keep_ephemeral_containers(new: Object, old: Object) -> None:
    spec = new.get("spec")
    if not isinstance(spec, dict):
        return
    stored = (old.get("spec") or {}).get("ephemeralContainers")
    if stored:
        spec["ephemeralContainers"] = stored
    else:
        spec.pop("ephemeralContainers", None)


def _spec(obj: Object) -> dict[str, Any]:
    return {key: value for key, value in obj.items() if key not in _METADATA_AND_STATUS}


class PodStrategy(Strategy):
    returns_deleted_object = True

    def prepare_for_update(self, new: Object, old: Object) -> None:
        """Ephemeral containers change only through their subresource (``kubectl debug``)."""
        super().prepare_for_update(new, old)
        _keep_ephemeral_containers(new, old)

    def prepare_for_ephemeral_containers(self, new: Object, old: Object) -> None:
        """Only ``spec.ephemeralContainers`` changes; everything else stays as stored."""
        spec = new.get("spec")
        ephemeral = spec.get("ephemeralContainers") if isinstance(spec, dict) else None
        new.clear()
        new.update(old)
        new["metadata"] = dict(old.get("metadata") or {})
        new["spec"] = dict(old.get("spec") or {})
        if ephemeral:
            new["spec"]["ephemeralContainers"] = ephemeral
        else:
            new["spec"].pop("ephemeralContainers", None)

    def subresource_update_errors(
        self, new: Object, old: Object, subresource: str | None
    ) -> list[FieldError]:
        if subresource != "ephemeralcontainers":
            return []
        return pods.validate_ephemeral_containers_update(new, old)

    def initial_status(self, obj: Object) -> Any:
        return {"phase": "Pending", "qosClass": qos_class(obj)}

    def grace_period(self, obj: Object, requested: int | None) -> int:
        """upstream podStrategy.CheckGracefulDelete: unbound or finished pods go at once."""
        spec = obj.get("spec") or {}
        phase = (obj.get("status") or {}).get("phase")
        if not spec.get("nodeName") or phase in ("Failed", "Succeeded"):
            return 0
        if requested is not None:
            return max(requested, 0)
        grace = spec.get("terminationGracePeriodSeconds")
        return 30 if grace is None else int(grace)


class JobStrategy(Strategy):
    def prepare_for_create(self, obj: Object) -> None:
        """upstream generateSelector: the controller-uid and job-name labels and selector."""
        super().prepare_for_create(obj)
        spec = obj.setdefault("spec", {})
        if spec.get("manualSelector"):
            return
        uid = meta.metadata(obj)["uid"]
        name = meta.name_of(obj)
        template_metadata = spec.setdefault("template", {}).setdefault("metadata", {})
        labels = template_metadata.setdefault("labels", {})
        labels.update(
            {
                "batch.kubernetes.io/controller-uid": uid,
                "batch.kubernetes.io/job-name": name,
                "controller-uid": uid,
                "job-name": name,
            }
        )
        spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}


class NamespaceStrategy(Strategy):
    def initial_status(self, obj: Object) -> Any:
        return {"phase": "Active"}

    def canonicalize(self, obj: Object) -> None:
        """The name label matches the name, also for generated names and the server's
        own namespaces, and whatever an update sent."""
        label_namespace_name(obj)

    def prepare_for_create(self, obj: Object) -> None:
        super().prepare_for_create(obj)
        obj["spec"] = namespace_finalizers_on_create(obj)["spec"]

    def prepare_for_update(self, new: Object, old: Object) -> None:
        """``spec.finalizers`` change only through the ``finalize`` subresource."""
        super().prepare_for_update(new, old)
        finalizers = (old.get("spec") or {}).get("finalizers")
        spec = new.setdefault("spec", {})
        if finalizers is None:
            spec.pop("finalizers", None)
        else:
            spec["finalizers"] = finalizers


class ReplicationControllerStrategy(Strategy):
    #: v1 ReplicationControllers orphan their pods unless told otherwise, for old clients.
    default_propagation_policy: ClassVar[str] = "Orphan"


class NodeStrategy(Strategy):
    def prepare_for_create(self, obj: Object) -> None:
        """upstream nodeStrategy: a Node keeps the status it is created with.

        A kubelet registers its node with capacity, conditions and addresses
        in one create; only ``status.config`` (dynamic kubelet config, gone
        upstream) is dropped.
        """
        status = obj.get("status")
        if isinstance(status, dict):
            status.pop("config", None)
        else:
            obj["status"] = self.initial_status(obj)


class SecretStrategy(Strategy):
    """upstream's v1 -> internal conversion of Secrets: ``stringData`` is write-only, its
    values are merged into ``data`` (base64, replacing keys of the same name) and it
    is never stored or returned."""

    def prepare_for_create(self, obj: Object) -> None:
        super().prepare_for_create(obj)
        _merge_string_data(obj)

    def prepare_for_update(self, new: Object, old: Object) -> None:
        super().prepare_for_update(new, old)
        _merge_string_data(new)


def _merge_string_data(secret: Object) -> None:
    string_data = secret.pop("stringData", None)
    if not isinstance(string_data, dict) or not string_data:
        return
    data = secret.get("data")
    if not isinstance(data, dict):
        data = secret["data"] = {}
    for key, value in string_data.items():
        data[key] = base64.b64encode(str(value).encode()).decode()


class ServiceStrategy(Strategy):
    """upstream svcStrategy: the clusterIP fields kept one statement, and an update that
    changes the type or omits allocated values judged as upstream's (see ``specs``)."""

    def initial_status(self, obj: Object) -> Any:
        return {"loadBalancer": {}}

    def prepare_for_create(self, obj: Object) -> None:
        super().prepare_for_create(obj)
        spec = obj.get("spec")
        if isinstance(spec, dict):
            specs.normalize_cluster_ips(spec, None)

    def prepare_for_update(self, new: Object, old: Object) -> None:
        super().prepare_for_update(new, old)
        spec, old_spec = new.get("spec"), old.get("spec") or {}
        if isinstance(spec, dict):
            specs.normalize_cluster_ips(spec, old_spec)
            specs.drop_type_dependent_fields(spec, old_spec)
            specs.patch_allocated_values(spec, old_spec)


class CertificateSigningRequestStrategy(Strategy):
    """upstream csrStrategy and its status and approval variants.

    The requester (username, uid, groups, extra) is the server's to fill on
    create, whatever the client sent; nobody creates an approved request.
    After that the spec never changes: a main-resource update changes
    metadata only, ``approval`` changes only the conditions (how
    ``kubectl certificate approve`` and the csrapproving controller
    decide), and ``status`` everything in status but the Approved and
    Denied conditions (how a signer issues the certificate or fails).
    """

    def prepare_for_create(self, obj: Object) -> None:
        super().prepare_for_create(obj)
        spec = obj.get("spec")
        if isinstance(spec, dict):
            for requester_field in ("username", "uid", "groups", "extra"):
                spec.pop(requester_field, None)

    def record_requester(self, obj: Object, user: UserInfo | None) -> None:
        spec = obj.get("spec")
        if user is None or not isinstance(spec, dict):
            return
        spec.update(user.api_fields())

    def prepare_for_update(self, new: Object, old: Object) -> None:
        _keep(new, old, "spec")
        _keep(new, old, "status")

    def prepare_for_status_update(self, new: Object, old: Object) -> None:
        super().prepare_for_status_update(new, old)
        for kind in (certificates.APPROVED, certificates.DENIED):
            _preserve_conditions(new, old, kind)
        self._stamp_conditions(new, old)

    def prepare_for_approval(self, new: Object, old: Object) -> None:
        conditions = (new.get("status") or {}).get("conditions")
        super().prepare_for_status_update(new, old)
        status = dict(old.get("status") or {})
        if conditions:
            status["conditions"] = conditions
        else:
            status.pop("conditions", None)
        new["status"] = status
        self._stamp_conditions(new, old)

    def subresource_update_errors(
        self, new: Object, old: Object, subresource: str | None
    ) -> list[FieldError]:
        return certificates.validate_subresource_update(new, old, subresource or "")

    def _stamp_conditions(self, new: Object, old: Object) -> None:
        """upstream populateConditionTimestamps: missing times are now, except that a
        condition whose type and status were already there keeps its transition time."""
        now = meta.timestamp(self.clock())
        previous = (old.get("status") or {}).get("conditions") or []
        for condition in (new.get("status") or {}).get("conditions") or []:
            if not isinstance(condition, dict):
                continue
            if not condition.get("lastUpdateTime"):
                condition["lastUpdateTime"] = now
            if not condition.get("lastTransitionTime"):
                condition["lastTransitionTime"] = next(
                    (
                        before["lastTransitionTime"]
                        for before in previous
                        if before.get("type") == condition.get("type")
                        and before.get("status") == condition.get("status")
                        and before.get("lastTransitionTime")
                    ),
                    now,
                )


def _keep(new: Object, old: Object, key: str) -> None:
    if key in old:
        new[key] = old[key]
    else:
        new.pop(key, None)


def _preserve_conditions(new: Object, old: Object, kind: str) -> None:
    """upstream preserveConditionInstances: a status update keeps the stored conditions of
    ``kind`` as they were; one that adds or removes some is left for validation to refuse."""
    before = [c for c in (old.get("status") or {}).get("conditions") or [] if c.get("type") == kind]
    conditions = (new.get("status") or {}).get("conditions") or []
    positions = [i for i, c in enumerate(conditions) if c.get("type") == kind]
    if len(positions) != len(before):
        return
    for position, condition in zip(positions, before, strict=True):
        conditions[position] = condition


_SPECIAL: dict[tuple[str, str], type[Strategy]] = {
    ("", "pods"): PodStrategy,
    ("batch", "jobs"): JobStrategy,
    ("", "namespaces"): NamespaceStrategy,
    ("", "replicationcontrollers"): ReplicationControllerStrategy,
    ("", "services"): ServiceStrategy,
    ("", "secrets"): SecretStrategy,
    ("", "nodes"): NodeStrategy,
    ("certificates.k8s.io", "certificatesigningrequests"): CertificateSigningRequestStrategy,
}


def strategy_for(resource: Resource, clock: Clock = lambda: datetime.now(UTC)) -> Strategy:
    return _SPECIAL.get((resource.group, resource.plural), Strategy)(resource, clock)
