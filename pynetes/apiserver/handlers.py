"""Resource requests: the verbs of the Kubernetes REST API over the generic registry.

Each handler turns an HTTP request on ``/api[s]/.../<resource>[/<name>[/<sub>]]``
into a registry call and the answer into the representation the client
asked for (JSON, or a server-side Table). Errors are raised as ApiError and
rendered as Status objects by the server's request handler.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from pynetes.api import errors, fieldmanager, fields, labels, meta
from pynetes.api.resources import Resource, ResourceRegistry
from pynetes.apiserver import negotiation, query, tables
from pynetes.apiserver.admission import Admission
from pynetes.apiserver.auth.authorization import request_user
from pynetes.apiserver.decoding import ObjectDecoder
from pynetes.apiserver.kubelet import KubeletClient
from pynetes.apiserver.patching import apply_patch
from pynetes.apiserver.registry import ObjectStore
from pynetes.apiserver.responses import json_response, raw_json, read_body, read_optional_body
from pynetes.apiserver.subresources import Subresources
from pynetes.apiserver.tokenrequest import TokenRequests
from pynetes.apiserver.watch import WatchRequest, json_frame, serve_watch, timeout_for
from pynetes.apiserver.watchcache import CachedObject, CacheEvent, Predicate
from pynetes.storage import CompactedError, InvalidContinueTokenError, StorageError, continuation

Object = dict[str, Any]

_CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can"
    " start a new list without the continue parameter, or use the continue token in this"
    " response to retrieve the remainder of the results. Continuing with the provided token"
    " results in an inconsistent list - objects that were created, modified, or deleted"
    " between the time the first chunk was returned and now may show up in the list."
)


@dataclass(frozen=True, slots=True)
class Target:
    """What a resource request addresses."""

    verb: str
    resource: Resource
    namespace: str
    name: str
    subresource: str


class ResourceApi:
    """The verbs, for every resource in ``resources`` backed by a store in ``stores``."""

    def __init__(
        self,
        resources: ResourceRegistry,
        stores: dict[Resource, ObjectStore],
        *,
        decoder: ObjectDecoder,
        admission: Admission,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        kubelet: KubeletClient | None = None,
        token_requests: TokenRequests | None = None,
    ) -> None:
        self.resources = resources
        #: Proxies pods/log, exec, attach and portforward to kubelets (None: a 503).
        self.kubelet = kubelet
        #: Answers serviceaccounts/token (None: a 503).
        self.token_requests = token_requests
        self.stores = stores
        self.decoder = decoder
        self.admission = admission
        self.clock = clock
        self._subresources = Subresources(self)

    def store_for(self, resource: Resource) -> ObjectStore:
        store = self.stores.get(resource)
        if store is None:
            raise errors.not_found_error(resource.group, resource.plural, "")
        return store

    async def serve(self, request: web.BaseRequest, target: Target) -> web.StreamResponse:
        _check_route(request.method, target)
        if target.subresource:
            return await self._subresources.serve(request, target)
        handler = {
            "get": self.get,
            "list": self.list,
            "watch": self.watch,
            "create": self.create,
            "update": self.update,
            "patch": self.patch,
            "delete": self.delete,
            "deletecollection": self.delete_collection,
        }.get(target.verb)
        if handler is None:
            raise errors.method_not_allowed()
        return await handler(request, target)

    # -- reads ---------------------------------------------------------------

    async def get(self, request: web.BaseRequest, target: Target) -> web.StreamResponse:
        store = self.store_for(target.resource)
        found = await store.get(target.namespace, target.name)
        accept = negotiation.parse_media_types(request.headers.get("Accept"))
        if negotiation.wants_table(accept):
            return self.table_response(request, target.resource, [found.obj], None)
        return raw_json(found.encoded())

    async def list(self, request: web.BaseRequest, target: Target) -> web.StreamResponse:
        store = self.store_for(target.resource)
        params = request.query
        predicate = self.predicate(target.resource, params)
        query.check_list_options(params)
        limit = max(query.integer(params, "limit") or 0, 0)  # upstream lists all for <= 0
        continue_token = params.get("continue") or None
        requested = query.resource_version(params.get("resourceVersion"))
        exact = params.get("resourceVersionMatch") == "Exact"
        prefix = store.key_prefix(target.namespace)
        items: list[CachedObject] | None = None
        revision = 0
        token = None
        remaining = None
        if continue_token is None and not exact and not _needs_storage(store, requested):
            if requested == 0:
                limit = 0  # as upstream's cache: "any version" lists are whole, limit or not
            await self._catch_up(store, requested)
            revision = store.cache.revision
            matching = (
                c for c in store.cache.iterate(prefix) if predicate is None or predicate(c.obj)
            )
            page = min(limit, _MAX_PAGE) + 1
            items = list(itertools.islice(matching, page)) if limit else list(matching)
            if limit and len(items) > limit:
                items = None  # paginate from storage, at one revision
        if items is None:
            items, revision, token, remaining = await self._list_from_storage(
                store,
                prefix,
                predicate,
                min(limit, _MAX_PAGE),
                continue_token,
                requested if exact else None,
            )
        list_meta: dict[str, Any] = {"resourceVersion": str(revision)}
        if token:
            list_meta["continue"] = token
            if remaining is not None:
                list_meta["remainingItemCount"] = remaining
        accept = negotiation.parse_media_types(request.headers.get("Accept"))
        if negotiation.wants_table(accept):
            return self.table_response(request, target.resource, [c.obj for c in items], list_meta)
        return await stream_list(request, target.resource, list_meta, items)

    async def _catch_up(self, store: ObjectStore, requested: int | None) -> None:
        """resourceVersion unset: a consistent read; "0": any; N: not older than N."""
        if requested is None:
            await store.fresh_cache()
        elif requested > 0:
            await store.reach(requested)

    async def _list_from_storage(
        self,
        store: ObjectStore,
        prefix: str,
        predicate: Predicate | None,
        limit: int,
        continue_token: str | None,
        revision: int | None,
    ) -> tuple[list[CachedObject], int, str | None, int | None]:
        """A page read at one revision, filled up to ``limit`` past filtered-out objects."""
        items: list[CachedObject] = []
        token = continue_token
        try:
            while True:
                page = await store.storage.list(
                    prefix, limit=limit, continue_token=token, revision=revision
                )
                for kv in page.items:
                    cached = store.cache.get(kv.key)
                    if cached is None or cached.revision != kv.mod_revision:
                        cached = CachedObject(kv.key, store.decode(kv), kv.mod_revision)
                    if predicate is None or predicate(cached.obj):
                        items.append(cached)
                token = page.continue_token
                revision = page.revision
                if token is None or (limit and len(items) >= limit):
                    remaining = page.remaining if predicate is None else None
                    return items, page.revision, token, remaining
        except CompactedError:
            raise _list_expired(continue_token, prefix) from None
        except InvalidContinueTokenError as error:
            raise errors.bad_request(str(error)) from None
        except StorageError as error:
            raise errors.bad_request(str(error)) from None

    def predicate(self, resource: Resource, params: Any) -> Predicate | None:
        """The label and field selectors of a request, as one test of an object."""
        label_selector = labels.parse_label_selector(params.get("labelSelector", ""))
        field_selector = fields.parse_field_selector(
            params.get("fieldSelector", ""), group=resource.group, resource=resource.plural
        )
        if label_selector.empty and field_selector.empty:
            return None
        group, plural = resource.group, resource.plural

        def matches(obj: Object) -> bool:
            metadata = obj.get("metadata") or {}
            if not label_selector.matches(metadata.get("labels") or {}):
                return False
            return field_selector.empty or field_selector.matches(
                fields.field_set(group, plural, obj)
            )

        return matches

    def table_response(
        self,
        request: web.BaseRequest,
        resource: Resource,
        objects: list[Object],
        list_meta: dict[str, Any] | None,
    ) -> web.Response:
        columns = resource.custom.get("printerColumns") if resource.custom else None
        return self.printed(
            request,
            resource.group,
            resource.plural,
            objects,
            list_meta,
            columns,  # type: ignore[arg-type]
        )

    def printed(
        self,
        request: web.BaseRequest,
        group: str,
        plural: str,
        objects: list[Object],
        list_meta: dict[str, Any] | None = None,
        printer_columns: list[dict[str, Any]] | None = None,
    ) -> web.Response:
        """The Table of ``objects`` printed as ``group``/``plural`` (a subresource's view
        may print as another kind's: a Scale)."""
        table = tables.table_for(
            group,
            plural,
            objects,
            include_object=request.query.get("includeObject", "Metadata"),
            now=self.clock(),
            list_metadata=list_meta,
            printer_columns=printer_columns,
        )
        return raw_json(orjson.dumps(table))

    async def watch(self, request: web.BaseRequest, target: Target) -> web.StreamResponse:
        store = self.store_for(target.resource)
        params = request.query
        requested = query.resource_version(params.get("resourceVersion"))
        send_initial = query.boolean(params, "sendInitialEvents")
        spec = WatchRequest(
            after=None if (requested in (None, 0) or send_initial) else requested,
            send_initial_events=send_initial,
            allow_bookmarks=query.boolean(params, "allowWatchBookmarks"),
            timeout=timeout_for(query.integer(params, "timeoutSeconds")),
            kind=target.resource.kind,
            api_version=target.resource.group_version,
        )
        if requested is None and not send_initial:
            await store.fresh_cache()
        elif spec.after is not None:
            await store.reach(spec.after)
        if request.method == "HEAD":
            return web.Response(content_type="application/json")
        accept = negotiation.parse_media_types(request.headers.get("Accept"))
        encode = self._table_frames(target.resource) if negotiation.wants_table(accept) else None
        return await serve_watch(
            request,
            store.cache,
            store.key_prefix(target.namespace),
            self.predicate(target.resource, params),
            spec,
            encode or json_frame,
        )

    def _table_frames(self, resource: Resource) -> Callable[[str, CacheEvent], bytes]:
        """Watch frames holding one-row Tables; column definitions in the first only."""
        first = True
        columns = resource.custom.get("printerColumns") if resource.custom else None

        def encode(kind: str, event: CacheEvent) -> bytes:
            nonlocal first
            table = tables.table_for(
                resource.group,
                resource.plural,
                [event.current.obj],
                include_object="Metadata",
                now=self.clock(),
                printer_columns=columns,  # type: ignore[arg-type]
            )
            if not first:
                table["columnDefinitions"] = []
            first = False
            return orjson.dumps({"type": kind, "object": table}) + b"\n"

        return encode

    # -- writes --------------------------------------------------------------

    async def create(self, request: web.BaseRequest, target: Target) -> web.StreamResponse:
        store = self.store_for(target.resource)
        body = await read_body(request)
        obj, warnings = self.decoder.decode(target.resource, body, request.query)
        dry_run = query.dry_run(request.query)
        await self.admission.admit_create(target.resource, target.namespace, obj)
        obj = self.tracked(request, target.resource, None, obj)
        created = await store.create(
            target.namespace,
            obj,
            dry_run=dry_run,
            admit=self.admission.validate_create(target.resource, target.namespace, dry_run),
            requester=request_user(request),
        )
        body = store.written_json(target.namespace, created, dry_run=dry_run)
        return raw_json(body, status=201, warnings=warnings)

    async def update(self, request: web.BaseRequest, target: Target) -> web.StreamResponse:
        store = self.store_for(target.resource)
        body = await read_body(request)
        obj, warnings = self.decoder.decode(target.resource, body, request.query)
        await self.admission.admit_update(target.resource, target.namespace, obj)
        dry_run = query.dry_run(request.query)
        updated = await store.update(
            target.namespace,
            target.name,
            obj,
            dry_run=dry_run,
            track=lambda current, new: self.tracked(request, target.resource, current, new),
            admit=self.admission.validate_update(target.resource, target.namespace, dry_run),
        )
        body = store.written_json(target.namespace, updated, dry_run=dry_run)
        return raw_json(body, warnings=warnings)

    async def patch(self, request: web.BaseRequest, target: Target) -> web.StreamResponse:
        store = self.store_for(target.resource)
        return await apply_patch(self, request, target, store, subresource=None)

    def tracked(
        self,
        request: web.BaseRequest,
        resource: Resource,
        old: Object | None,
        new: Object,
        subresource: str = "",
    ) -> Object:
        """``new`` with managedFields recording the request's field manager as upstream does."""
        manager = request.query.get("fieldManager") or fieldmanager.default_manager(
            request.headers.get("User-Agent", "")
        )
        return fieldmanager.track_update(
            old,
            new,
            manager=manager,
            node=resource.schema_node(),
            api_version=resource.group_version,
            now=meta.timestamp(self.clock()),
            subresource=subresource,
        )

    async def delete(self, request: web.BaseRequest, target: Target) -> web.StreamResponse:
        store = self.store_for(target.resource)
        body = await read_optional_body(request)
        options = query.delete_options(request.query, body)
        obj, gone = await store.delete(target.namespace, target.name, options)
        if not gone or store.strategy.returns_deleted_object:
            return json_response(obj)
        uid = (obj.get("metadata") or {}).get("uid")
        return json_response(success_status(target.resource, target.name, uid=uid))

    async def delete_collection(
        self, request: web.BaseRequest, target: Target
    ) -> web.StreamResponse:
        store = self.store_for(target.resource)
        body = await read_optional_body(request)
        options = query.delete_options(request.query, body)
        predicate = self.predicate(target.resource, request.query)
        await store.fresh_cache()
        deleted = []
        for cached in store.cache.list(store.key_prefix(target.namespace)):
            if predicate is not None and not predicate(cached.obj):
                continue
            try:
                obj, _gone = await store.delete(
                    meta.namespace_of(cached.obj), meta.name_of(cached.obj), options
                )
            except errors.ApiError as error:
                if error.code == 404:
                    continue
                raise
            deleted.append(obj)
        list_meta = {"resourceVersion": str(store.cache.revision)}
        deleted_items = [CachedObject("", obj, 0) for obj in deleted]
        return await stream_list(request, target.resource, list_meta, deleted_items)


def success_status(resource: Resource, name: str, *, uid: str | None) -> Object:
    """The Status a DELETE answers when the object is gone (details as upstream, omitempty)."""
    details: dict[str, Any] = {"name": name}
    if resource.group:
        details["group"] = resource.group
    details["kind"] = resource.plural
    if uid:
        details["uid"] = uid
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    }


#: Limits past this are "everything" (no cache or store holds more objects).
_MAX_PAGE = 2**40
#: A LIST is written in pieces of about this size, never joined into one body.
_LIST_CHUNK = 256 * 1024


async def stream_list(
    request: web.BaseRequest,
    resource: Resource,
    list_meta: dict[str, Any],
    items: list[CachedObject],
) -> web.StreamResponse:
    """The list, written in pieces: no copy of the whole body, nothing kept per connection.

    A 10,000-pod list is 15 MiB; joined into one bytes object it was copied
    twice and stayed alive with each keep-alive connection that carried it.
    """
    head = (
        orjson.dumps(
            {
                "kind": resource.list_kind,
                "apiVersion": resource.group_version,
                "metadata": list_meta,
            }
        )[:-1]
        + b',"items":['
    )
    encoded = [c.encoded() for c in items]
    length = len(head) + sum(map(len, encoded)) + max(len(encoded) - 1, 0) + 2
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.content_length = length
    await response.prepare(request)
    if request.method == "HEAD":
        return response
    piece: list[bytes] = [head]
    size = len(head)
    for index, body in enumerate(encoded):
        if index:
            piece.append(b",")
        piece.append(body)
        size += len(body)
        if size >= _LIST_CHUNK:
            await response.write(b"".join(piece))
            piece, size = [], 0
    piece.append(b"]}")
    await response.write(b"".join(piece))
    await response.write_eof()
    return response


def _list_expired(continue_token: str | None, prefix: str) -> errors.ApiError:
    """410 for a list whose revision is compacted, as upstream's etcd3 store answers it.

    A continued list also gets, in ``metadata.continue``, a token for the
    rest of it at the newest revision: the client may finish its listing,
    inconsistently, rather than start over (the message says so).
    """
    if continue_token is None:
        return errors.gone("The resourceVersion for the provided list is too old.")
    fresh = continuation.resume_at_newest(continue_token, prefix=prefix)
    return errors.gone(_CONTINUE_EXPIRED, list_continue=fresh)


def _check_route(method: str, target: Target) -> None:
    """405 where upstream registers no route: writes to collections, POST to objects, ..."""
    if target.verb == "watch" and method not in ("GET", "HEAD"):
        raise errors.method_not_allowed()
    if not target.name and target.verb in ("update", "patch"):
        raise errors.method_not_allowed()
    if target.name and target.verb == "create" and not target.subresource:
        raise errors.method_not_allowed()
    if not target.subresource and target.verb not in target.resource.verbs:
        raise errors.method_not_allowed()


def _needs_storage(store: ObjectStore, requested: int | None) -> bool:
    """Whether a list must be read from storage because the cache cannot prove it current.

    With other API servers writing the same etcd, a consistent list (no
    resourceVersion), or one not older than a version this cache has not
    seen, is read from etcd, as upstream does on an etcd without reliable
    progress notifications.
    """
    if not store.storage.shared:
        return False
    return requested is None or requested > store.cache.revision
