"""Discovery: what groups, versions and resources the server offers.

Both forms clients use: legacy (``/api``, ``/apis``, ``/apis/<g>``,
``/api/v1``, ``/apis/<g>/<v>``), read by kr8s, kopf and the Python
DynamicClient, and aggregated (``apidiscovery.k8s.io`` v2 and v2beta1),
which kubectl 1.30+ asks for first. The aggregated answer must carry the
exact media type it was asked for, or kubectl sees no resources.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from aiohttp import web

from pynetes.api import errors
from pynetes.api.resources import SUBRESOURCE_VERBS, Resource, ResourceRegistry
from pynetes.apiserver.negotiation import JSON, parse_media_types

Object = dict[str, Any]

_AGGREGATED_VERSIONS = ("v2", "v2beta1")

#: (group, version, kind) each subresource answers with, as upstream publishes.
_SUBRESOURCE_KINDS: dict[str, tuple[str, str, str] | None] = {
    "status": None,
    "finalize": None,
    "log": None,
    "scale": ("autoscaling", "v1", "Scale"),
    "binding": ("", "v1", "Binding"),
    "eviction": ("policy", "v1", "Eviction"),
    "token": ("authentication.k8s.io", "v1", "TokenRequest"),
    "exec": ("", "v1", "PodExecOptions"),
    "attach": ("", "v1", "PodAttachOptions"),
    "portforward": ("", "v1", "PodPortForwardOptions"),
}


def aggregated_version(accept_header: str | None) -> str | None:
    """The apidiscovery version the client asked for first, if any (exact parameters)."""
    for media in parse_media_types(accept_header):
        parameters = media.parameters
        if (
            media.essence == JSON
            and parameters.get("g") == "apidiscovery.k8s.io"
            and parameters.get("as") == "APIGroupDiscoveryList"
            and parameters.get("v") in _AGGREGATED_VERSIONS
        ):
            return parameters["v"]
        if media.matches_json() and not parameters:
            return None
    return None


class Discovery:
    def __init__(self, resources: ResourceRegistry) -> None:
        self._resources = resources

    def api_versions(self, server_address: str) -> Object:
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
            ],
        }

    def group_list(self) -> Object:
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [
                self._group(name, versions)
                for name, versions in self._resources.groups().items()
                if name
            ],
        }

    def group(self, name: str) -> Object:
        versions = self._resources.groups().get(name)
        if not name or not versions:
            raise errors.ApiError(
                404, "NotFound", "the server could not find the requested resource"
            )
        return {"kind": "APIGroup", "apiVersion": "v1", **self._group(name, versions)}

    def _group(self, name: str, versions: list[str]) -> Object:
        entries = [
            {"groupVersion": f"{name}/{version}", "version": version} for version in versions
        ]
        return {"name": name, "versions": entries, "preferredVersion": entries[0]}

    def resource_list(self, group: str, version: str) -> Object:
        resources = self._resources.in_group_version(group, version)
        if not resources:
            raise errors.ApiError(
                404, "NotFound", "the server could not find the requested resource"
            )
        listed: list[Object] = []
        for resource in sorted(resources, key=lambda r: r.plural):
            listed.append(_legacy_resource(resource))
            for sub in resource.subresources:
                listed.append(_legacy_subresource(resource, sub))
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": resources[0].group_version,
            "resources": listed,
        }

    def aggregated(self, *, core: bool, version: str) -> Object:
        """The APIGroupDiscoveryList for /api (core only) or /apis (all other groups)."""
        items = []
        for name, versions in self._resources.groups().items():
            if (name == "") != core:
                continue
            items.append(
                {
                    "metadata": {"name": name, "creationTimestamp": None}
                    if name
                    else {"creationTimestamp": None},
                    "versions": [
                        {
                            "version": served,
                            "resources": [
                                _aggregated_resource(resource)
                                for resource in sorted(
                                    self._resources.in_group_version(name, served),
                                    key=lambda r: r.plural,
                                )
                            ],
                            "freshness": "Current",
                        }
                        for served in versions
                    ],
                }
            )
        return {
            "kind": "APIGroupDiscoveryList",
            "apiVersion": f"apidiscovery.k8s.io/{version}",
            "metadata": {},
            "items": items,
        }


def aggregated_response(body: Object, version: str) -> web.Response:
    data = orjson.dumps(body)
    response = web.Response(body=data)
    response.headers["Content-Type"] = (
        f"application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList"
    )
    response.headers["ETag"] = '"' + hashlib.sha256(data).hexdigest() + '"'
    return response


def _storage_version_hash(resource: Resource) -> str:
    digest = hashlib.sha256(f"{resource.group}/{resource.version}/{resource.kind}".encode())
    return digest.digest()[:8].hex()


def _legacy_resource(resource: Resource) -> Object:
    entry: Object = {
        "name": resource.plural,
        "singularName": resource.singular,
        "namespaced": resource.namespaced,
        "kind": resource.kind,
        "verbs": list(resource.verbs),
    }
    if resource.short_names:
        entry["shortNames"] = list(resource.short_names)
    if resource.categories:
        entry["categories"] = list(resource.categories)
    entry["storageVersionHash"] = _storage_version_hash(resource)
    return entry


def _legacy_subresource(resource: Resource, sub: str) -> Object:
    entry: Object = {
        "name": f"{resource.plural}/{sub}",
        "singularName": "",
        "namespaced": resource.namespaced,
    }
    kind = _SUBRESOURCE_KINDS.get(sub)
    if kind is not None:
        group, version, name = kind
        if group:
            entry["group"] = group
        entry["version"] = version
        entry["kind"] = name
    else:
        entry["kind"] = resource.kind
    entry["verbs"] = list(SUBRESOURCE_VERBS.get(sub, ("get",)))
    return entry


def _aggregated_resource(resource: Resource) -> Object:
    entry: Object = {
        "resource": resource.plural,
        "responseKind": {
            "group": resource.group,
            "version": resource.version,
            "kind": resource.kind,
        },
        "scope": "Namespaced" if resource.namespaced else "Cluster",
        "singularResource": resource.singular,
        "verbs": list(resource.verbs),
    }
    if resource.short_names:
        entry["shortNames"] = list(resource.short_names)
    if resource.categories:
        entry["categories"] = list(resource.categories)
    subresources = []
    for sub in resource.subresources:
        kind = _SUBRESOURCE_KINDS.get(sub) or (resource.group, resource.version, resource.kind)
        subresources.append(
            {
                "subresource": sub,
                "responseKind": {"group": kind[0], "version": kind[1], "kind": kind[2]},
                "verbs": list(SUBRESOURCE_VERBS.get(sub, ("get",))),
            }
        )
    if subresources:
        entry["subresources"] = subresources
    return entry
