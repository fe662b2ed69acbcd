"""Subresources: status, finalize, scale, binding, eviction, and the streams a kubelet serves.

- ``status``: GET the object; PUT and PATCH change only its status.
- ``certificatesigningrequests/approval``: as ``status``, for the Approved and
  Denied conditions only.
- ``namespaces/finalize``: PUT changes a namespace's ``spec.finalizers``.
- ``scale``: an ``autoscaling/v1`` Scale view of the replicas of workloads
  (and of custom resources whose CRD declares the scale subresource).
- ``pods/binding``: the scheduler's POST that sets ``spec.nodeName`` once.
- ``pods/eviction``: a deletion that respects PodDisruptionBudgets (see eviction.py).
- ``serviceaccounts/token``: TokenRequest (see tokenrequest.py).
- ``pods/log|exec|attach|portforward``: proxied to the pod's kubelet (podstreams.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web
from multidict import MultiDict

from pynetes.api import errors, labels, meta, schema
from pynetes.api.resources import SUBRESOURCE_VERBS
from pynetes.api.validation import structural
from pynetes.apiserver import negotiation, podstreams, query
from pynetes.apiserver.eviction import Eviction
from pynetes.apiserver.patching import apply_patch, patched_object
from pynetes.apiserver.registry import ObjectStore
from pynetes.apiserver.responses import json_response, raw_json, read_body
from pynetes.apiserver.shapes import check_shape

if TYPE_CHECKING:
    from pynetes.apiserver.handlers import ResourceApi, Target

Object = dict[str, Any]
_STREAMS = ("log", "exec", "attach", "portforward")
_SCALE = schema.definition("io.k8s.api.autoscaling.v1.Scale")
_SCALE_PATHS = {
    "spec": ("spec", "replicas"),
    "status": ("status", "replicas"),
    "selector": ("spec", "selector"),
}


class Subresources:
    def __init__(self, api: ResourceApi) -> None:
        self._api = api

    async def serve(self, request: web.BaseRequest, target: Target) -> web.StreamResponse:
        sub = target.subresource
        if sub not in target.resource.subresources:
            raise errors.path_not_found()
        if target.verb not in SUBRESOURCE_VERBS.get(sub, ()):
            raise errors.method_not_allowed()
        store = self._api.store_for(target.resource)
        if sub in ("status", "approval", "ephemeralcontainers"):
            return await self._status(request, target, store)
        if sub == "finalize":
            return await self._finalize(request, target, store)
        if sub == "scale":
            return await self._scale(request, target, store)
        if sub == "binding" and target.verb == "create":
            return await self._binding(request, target, store)
        if sub == "eviction" and target.verb == "create":
            return await self._eviction(request, target, store)
        if sub == "token" and target.verb == "create":
            if self._api.token_requests is None:
                raise errors.service_unavailable("this API server issues no service account tokens")
            return await self._api.token_requests.create(self._api, request, target)
        if sub in _STREAMS:
            return await self._stream(request, target, store)
        raise errors.method_not_allowed()

    async def _status(
        self, request: web.BaseRequest, target: Target, store: ObjectStore
    ) -> web.StreamResponse:
        """GET, PATCH and PUT of a view of the whole object whose writes change only the
        part the subresource owns (``status``, ``approval``, a pod's ephemeral containers)."""
        sub = target.subresource
        if target.verb == "get":
            found = await store.get(target.namespace, target.name)
            if _wants_table(request):  # kubectl get --subresource=status: the kind's own columns
                return self._api.table_response(request, target.resource, [found.obj], None)
            return raw_json(found.encoded())
        if target.verb == "patch":
            return await apply_patch(self._api, request, target, store, subresource=sub)
        if target.verb == "update":
            return await self._replace(request, target, store, sub)
        raise errors.method_not_allowed()

    async def _finalize(
        self, request: web.BaseRequest, target: Target, store: ObjectStore
    ) -> web.StreamResponse:
        """PUT namespaces/NAME/finalize: the one way to change a namespace's spec.finalizers.

        The namespace controller removes ``kubernetes`` here once the
        namespace is empty; with no finalizer left, the namespace is deleted.
        """
        return await self._replace(request, target, store, "finalize")

    async def _replace(
        self, request: web.BaseRequest, target: Target, store: ObjectStore, subresource: str
    ) -> web.StreamResponse:
        """PUT of the request's object through ``subresource``'s update rules."""
        body = await read_body(request)
        obj, warnings = self._api.decoder.decode(target.resource, body, request.query)
        updated = await store.update(
            target.namespace,
            target.name,
            obj,
            subresource=subresource,
            dry_run=query.dry_run(request.query),
            track=lambda current, new: self._api.tracked(
                request, target.resource, current, new, subresource
            ),
        )
        return json_response(updated, warnings=warnings)

    # -- scale -----------------------------------------------------------------

    async def _scale(
        self, request: web.BaseRequest, target: Target, store: ObjectStore
    ) -> web.StreamResponse:
        if target.verb == "get":
            found = await store.get(target.namespace, target.name)
            scale = self._scale_of(target, found.obj)
            if _wants_table(request):
                return self._api.printed(request, "autoscaling", "scales", [scale])
            return json_response(scale)
        if target.verb not in ("update", "patch"):
            raise errors.method_not_allowed()
        body = await read_body(request)
        content_type = request.headers.get("Content-Type", "")

        def change(current: Object) -> Object:
            scale = self._scale_of(target, current)
            wanted = _desired_scale(scale, body, content_type, target.verb)
            replicas = (wanted.get("spec") or {}).get("replicas", 0)
            if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
                raise errors.invalid_object(
                    "autoscaling",
                    "Scale",
                    target.name,
                    [
                        errors.invalid(
                            "spec.replicas", replicas, "must be greater than or equal to 0"
                        )
                    ],
                )
            version = (wanted.get("metadata") or {}).get("resourceVersion")
            if version and version != current["metadata"]["resourceVersion"]:
                raise errors.conflict(
                    target.resource.group,
                    target.resource.plural,
                    target.name,
                    "the object has been modified; please apply your changes to the latest"
                    " version and try again",
                )
            _set_path(current, self._paths(target)["spec"], replicas)
            return current

        updated = await store.update_with(
            target.namespace, target.name, change, dry_run=query.dry_run(request.query)
        )
        return json_response(self._scale_of(target, updated))

    def _paths(self, target: Target) -> dict[str, tuple[str, ...]]:
        custom = target.resource.custom
        if custom and custom.get("scale"):
            scale = custom["scale"]
            assert isinstance(scale, dict)
            return {
                "spec": _json_path(scale.get("specReplicasPath", ".spec.replicas")),
                "status": _json_path(scale.get("statusReplicasPath", ".status.replicas")),
                "selector": _json_path(scale.get("labelSelectorPath") or ""),
            }
        return _SCALE_PATHS

    def _scale_of(self, target: Target, obj: Object) -> Object:
        paths = self._paths(target)
        metadata = obj.get("metadata") or {}
        selector = _get_path(obj, paths["selector"]) if paths["selector"] else None
        if isinstance(selector, dict):
            selector = str(_selector_of(target, selector))
        status: dict[str, Any] = {"replicas": _get_path(obj, paths["status"]) or 0}
        if selector:
            status["selector"] = selector
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                key: metadata[key]
                for key in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                if key in metadata
            },
            "spec": {"replicas": _get_path(obj, paths["spec"]) or 0},
            "status": status,
        }

    # -- pods ------------------------------------------------------------------

    async def _binding(
        self, request: web.BaseRequest, target: Target, store: ObjectStore
    ) -> web.StreamResponse:
        body = await read_body(request)
        check_shape(body, "io.k8s.api.core.v1.Binding", "Binding")
        node = (body.get("target") or {}).get("name")
        if not node:
            raise errors.invalid_object(
                "", "Binding", target.name, [errors.required("target.name")]
            )

        def bind(pod: Object) -> Object:
            spec = pod.setdefault("spec", {})
            if pod["metadata"].get("deletionTimestamp"):
                raise errors.conflict(
                    "",
                    "pods/binding",
                    target.name,
                    f"pod {target.name} is being deleted, cannot be assigned to a host",
                )
            if spec.get("nodeName"):
                raise errors.conflict(
                    "",
                    "pods/binding",
                    target.name,
                    f'pod {target.name} is already assigned to node "{spec["nodeName"]}"',
                )
            spec["nodeName"] = node
            _set_condition(pod, "PodScheduled", "True", meta.timestamp(self._api.clock()))
            return pod

        # Binding is the server's own change to an immutable field: no strategy, as upstream.
        await store.update_with(target.namespace, target.name, bind, trusted=True)
        return json_response(_success(), status=201)

    async def _eviction(
        self, request: web.BaseRequest, target: Target, store: ObjectStore
    ) -> web.StreamResponse:
        body = await read_body(request)
        check_shape(body, "io.k8s.api.policy.v1.Eviction", "Eviction", group_version="policy/v1")
        dry_run = MultiDict((key, value) for key, value in request.query.items() if key == "dryRun")
        options = query.delete_options(
            dry_run, (body or {}).get("deleteOptions") if isinstance(body, dict) else None
        )
        named = ((body or {}).get("metadata") or {}).get("name") if isinstance(body, dict) else None
        if named != target.name:
            raise errors.bad_request("name in URL does not match name in Eviction object")
        await Eviction(self._api, store).evict(target.namespace, target.name, options)
        return json_response(_success(), status=201)

    async def _stream(
        self, request: web.BaseRequest, target: Target, store: ObjectStore
    ) -> web.StreamResponse:
        pod = (await store.get(target.namespace, target.name)).obj
        if self._api.kubelet is None:
            raise errors.service_unavailable("this API server has no kubelet client")
        return await podstreams.serve(self._api.kubelet, request, pod, target.subresource)


def _wants_table(request: web.BaseRequest) -> bool:
    return negotiation.wants_table(negotiation.parse_media_types(request.headers.get("Accept")))


def _selector_of(target: Target, selector: Object) -> labels.Selector:
    """A workload's selector: a label map for ReplicationControllers (as upstream's
    SelectorFromSet), a LabelSelector for everything else."""
    if (target.resource.group, target.resource.plural) == ("", "replicationcontrollers"):
        return labels.selector_from_set(selector)
    return labels.selector_from_label_selector(selector)


def _desired_scale(scale: Object, body: Any, content_type: str, verb: str) -> Object:
    """The Scale the request asks for, decoded as upstream decodes one (400 if malformed)."""
    if verb == "update":
        wanted = body
    else:
        wanted = patched_object(negotiation.content_type_of(content_type), scale, body, _SCALE)
    if not isinstance(wanted, dict):
        raise errors.bad_request(
            'Scale in version "v1" cannot be handled as a Scale: the body must be an object'
        )
    problems, _unknown = structural.validate_structure(wanted, _SCALE)
    decode_error = structural.decode_error("Scale", "v1", problems)
    if decode_error is not None:
        raise decode_error
    return wanted


def _success() -> Object:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


def _set_condition(pod: Object, kind: str, status: str, now: str) -> None:
    conditions = pod.setdefault("status", {}).setdefault("conditions", [])
    for condition in conditions:
        if condition.get("type") == kind:
            if condition.get("status") != status:
                condition["lastTransitionTime"] = now
            condition["status"] = status
            return
    conditions.append(
        {"type": kind, "status": status, "lastProbeTime": None, "lastTransitionTime": now}
    )


def _json_path(path: str) -> tuple[str, ...]:
    return tuple(part for part in path.split(".") if part)


def _get_path(obj: Object, path: tuple[str, ...]) -> Any:
    node: Any = obj
    for part in path:
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _set_path(obj: Object, path: tuple[str, ...], value: Any) -> None:
    node = obj
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value
