"""The generic registry: create, read, update and delete of one resource, with upstream's semantics.

This is kube-apiserver's ``genericregistry.Store``: it fills the fields the
server owns (uid, creationTimestamp, generation, generated names), runs the
resource's :class:`Strategy`, validates, writes through the storage
interface with optimistic concurrency, and handles finalizers and graceful
deletion. Reads come from the resource's :class:`WatchCache`.

Every method takes and returns plain dicts that the caller owns; objects
from the cache are never handed out for mutation.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import orjson

from pynetes.api import errors, meta
from pynetes.api.errors import ApiError, FieldError
from pynetes.api.jsoncopy import copy_json
from pynetes.api.resources import Resource
from pynetes.apiserver import codec
from pynetes.apiserver.auth.authentication import UserInfo
from pynetes.apiserver.conversion import IDENTITY, conversion_for
from pynetes.apiserver.strategies import Strategy, strategy_for
from pynetes.apiserver.watchcache import CachedObject, WatchCache
from pynetes.storage import (
    ConflictError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    Store,
    ValueTooLargeError,
)

Object = dict[str, Any]
#: Field errors of (resource, new, old or None for a create, the subresource written through).
Validator = Callable[[Resource, Object, Object | None, str | None], list[FieldError]]
#: Validating admission of an update: (the new object, the current one); raises to refuse.
Admit = Callable[[Object, Object], Awaitable[None]]
Clock = Callable[[], datetime]
#: Ends what a :class:`WriteHooks` begin started: called with whether the write was stored.
Finish = Callable[[bool], Awaitable[None]]


class WriteHooks(Protocol):
    """Work of one kind around its writes that storage alone cannot do (upstream's
    BeginCreate, BeginUpdate and AfterDelete): a Service's addresses.

    ``begin_*`` run on a validated, admitted object just before it is
    written, may fill fields in it or refuse it (ApiError), and return the
    :data:`Finish` the registry calls once the write is decided.
    """

    async def begin_create(self, obj: Object, *, dry_run: bool) -> Finish: ...

    async def begin_update(self, new: Object, old: Object, *, dry_run: bool) -> Finish: ...

    async def after_delete(self, obj: Object) -> None: ...


#: How long a consistent read waits for the cache to catch up with the store.
FRESHNESS_TIMEOUT = 3.0
#: Events expire from storage an hour after their last write, as upstream's --event-ttl.
EVENT_TTL_SECONDS = 3600.0
_CONFLICT_DETAIL = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


@dataclass(frozen=True)
class DeleteOptions:
    grace_period_seconds: int | None = None
    propagation_policy: str | None = None
    precondition_uid: str | None = None
    precondition_resource_version: str | None = None
    dry_run: bool = False


class ObjectStore:
    """One resource's objects, in ``store`` under the resource's prefix."""

    def __init__(
        self,
        resource: Resource,
        store: Store,
        *,
        validate: Validator,
        clock: Clock = lambda: datetime.now(UTC),
        hooks: WriteHooks | None = None,
    ) -> None:
        self.resource = resource
        self._hooks = hooks
        self.strategy: Strategy = strategy_for(resource, clock)
        self.storage = store
        self._validate = validate
        self._clock = clock
        self._conversion = conversion_for(resource.group, resource.plural)
        self.cache = WatchCache(store, resource.storage_prefix, decorate=self._served)
        self._ttl = EVENT_TTL_SECONDS if resource.plural == "events" else None
        self._last_write = 0
        self._key_locks = KeyLocks()

    def encode(self, obj: Object) -> bytes:
        """The stored bytes of an object of this resource."""
        return codec.encode_for_storage(self._conversion.to_storage(obj))

    def decode(self, kv: KeyValue, revision: int | None = None) -> Object:
        """The object a stored entry holds, in this resource's form."""
        return self._served(codec.decode_from_storage(kv, revision=revision))

    def _served(self, stored: Object) -> Object:
        return self._conversion.from_storage(stored, self.resource.group_version)

    async def start(self) -> None:
        await self.cache.start()

    async def stop(self) -> None:
        await self.cache.stop()

    # -- reads ---------------------------------------------------------------

    async def fresh_cache(self) -> bool:
        """Wait until the cache reflects every write this server has acknowledged.

        The cache follows only its resource's keys, so the store's global
        revision is no target (it moves with every other resource). Each
        write through this store records its revision instead: a client
        reads its own writes. Writes made through another API server on the
        same etcd reach the cache within its watch delay.
        """
        return await self.cache.wait_until(self._last_write, FRESHNESS_TIMEOUT)

    async def reach(self, revision: int) -> None:
        """Wait until the cache is at least as new as ``revision`` for this resource.

        A revision the store has not reached is too large (upstream waits
        3 s, then 504). Otherwise only this resource's own writes matter: a
        revision reached by writes to other resources is already reflected.
        """
        current = await self.storage.current_revision()
        target = min(revision, self._last_write)
        if revision > current or not await self.cache.wait_until(target, FRESHNESS_TIMEOUT):
            raise errors.too_large_resource_version(revision, current)

    def _wrote(self, revision: int) -> int:
        self._last_write = max(self._last_write, revision)
        return revision

    async def get(self, namespace: str, name: str) -> CachedObject:
        """The object as it stands now: from the cache, or, when other API servers
        may write the same store, from the store (a quorum read, as upstream's GET)."""
        key = self.resource.storage_key(namespace, name)
        if self.storage.shared:
            stored = await self.storage.get(key)
            if stored is None:
                raise self._not_found(name)
            return CachedObject(key, self.decode(stored), stored.mod_revision)
        await self.fresh_cache()
        found = self.cache.get(key)
        if found is None:
            raise self._not_found(name)
        return found

    def key_prefix(self, namespace: str) -> str:
        if namespace and self.resource.namespaced:
            return f"{self.resource.storage_prefix}{namespace}/"
        return self.resource.storage_prefix

    # -- create --------------------------------------------------------------

    async def create(
        self,
        namespace: str,
        obj: Object,
        *,
        dry_run: bool = False,
        admit: Callable[[Object], Awaitable[None]] | None = None,
        trusted: bool = False,
        requester: UserInfo | None = None,
    ) -> Object:
        """Store a new object; the body is the caller's and is changed in place.

        ``admit`` is validating admission: it sees the object named and
        validated, before it is written, and may refuse it by raising.
        ``trusted`` objects are the server's own (the ``kubernetes``
        Endpoints on a loopback address): not validated. ``requester`` is
        the authenticated user asking, for kinds that record it.
        """
        metadata = meta.metadata(obj)
        self._fill_create_metadata(namespace, metadata)
        self.strategy.prepare_for_create(obj)
        self.strategy.record_requester(obj, requester)
        if not trusted:
            self._check(obj, None)
        if admit is not None:
            await admit(obj)
        if self._hooks is None:
            return await self._create(namespace, obj, dry_run)
        finish = await self._hooks.begin_create(obj, dry_run=dry_run)
        stored = False
        try:
            created = await self._create(namespace, obj, dry_run)
            stored = not dry_run
            return created
        finally:
            await finish(stored)

    async def _create(self, namespace: str, obj: Object, dry_run: bool) -> Object:
        metadata = obj["metadata"]
        for _attempt in range(8):
            if not metadata.get("name"):
                raise ApiError(
                    422,
                    "Invalid",
                    f'{self.resource.kind} in version "{self.resource.version}" cannot be'
                    " handled as a "
                    f"{self.resource.kind}: name or generateName is required",
                )
            self.strategy.canonicalize(obj)
            key = self.resource.storage_key(namespace, metadata["name"])
            if dry_run:
                if self.cache.get(key) is not None:
                    raise self._already_exists(metadata["name"])
                return obj
            value = self.encode(obj)
            if self._conversion is IDENTITY:
                self.cache.expect_write(key, value, obj)
            try:
                stored = await self.storage.create(key, value, ttl=self._ttl)
            except KeyExistsError:
                self.cache.forget_write(key, value)
                if not metadata.get("generateName") or _attempt == 7:
                    raise self._already_exists(metadata["name"]) from None
                metadata["name"] = meta.generate_name(metadata["generateName"])
                continue
            except ValueTooLargeError as error:
                self.cache.forget_write(key, value)
                raise errors.request_entity_too_large(error.limit) from None
            except BaseException:
                self.cache.forget_write(key, value)
                raise
            metadata["resourceVersion"] = str(self._wrote(stored.mod_revision))
            return obj
        raise AssertionError("unreachable")

    def _fill_create_metadata(self, namespace: str, metadata: dict[str, Any]) -> None:
        if self.resource.namespaced:
            body_namespace = metadata.get("namespace")
            if body_namespace and body_namespace != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent"
                    " on the request"
                )
            metadata["namespace"] = namespace
        else:
            metadata.pop("namespace", None)
        if not metadata.get("name") and metadata.get("generateName"):
            metadata["name"] = meta.generate_name(metadata["generateName"])
        metadata["uid"] = meta.new_uid()
        metadata["creationTimestamp"] = meta.timestamp(self._clock())
        for owned in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
            metadata.pop(owned, None)
        metadata.pop("generation", None)
        metadata.pop("selfLink", None)

    # -- update --------------------------------------------------------------

    async def update(
        self,
        namespace: str,
        name: str,
        obj: Object,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        track: Callable[[Object, Object], Object] | None = None,
        admit: Admit | None = None,
    ) -> Object:
        """PUT: replace the object; a stale ``metadata.resourceVersion`` is a 409.

        ``track(current, new)`` returns ``new`` with its managedFields updated;
        ``admit`` is as for :meth:`update_with`.
        """
        wanted = (obj.get("metadata") or {}).get("resourceVersion")

        def replace(current: Object) -> Object:
            if wanted and wanted != current["metadata"]["resourceVersion"]:
                raise self._conflict(name)
            return obj if track is None else track(current, obj)

        return await self.update_with(
            namespace,
            name,
            replace,
            subresource=subresource,
            dry_run=dry_run,
            retry_conflicts=not wanted,
            admit=admit,
        )

    async def update_with(
        self,
        namespace: str,
        name: str,
        change: Callable[[Object], Object | Awaitable[Object]],
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        retry_conflicts: bool = True,
        trusted: bool = False,
        admit: Admit | None = None,
    ) -> Object:
        """Read the stored object, let ``change`` build the new one, write it; retry on conflict.

        ``change`` receives a private copy of the current object (with its
        resourceVersion) and returns the desired object. The server-owned
        metadata is then restored, the strategy applied and the result
        validated. A write that changes nothing is not written. ``trusted``
        changes are the server's own (binding a pod): no strategy, no
        validation. ``admit(new, current)`` is validating admission: it sees
        each validated change before it is written and may refuse it.
        """
        key = self.resource.storage_key(namespace, name)
        async with self._key_locks.hold(key):
            cached = await self._cached_state(key)
            while True:
                if cached is not None:
                    revision, current, private = cached
                else:
                    current_kv = await self.storage.get(key)
                    if current_kv is None:
                        raise self._not_found(name)
                    revision = current_kv.mod_revision
                    current, private = self.decode(current_kv), self.decode(current_kv)
                try:
                    proposed = change(private)
                    if not isinstance(proposed, dict):
                        proposed = await proposed
                    new = (
                        proposed
                        if trusted
                        else self._prepare_update(proposed, current, name, subresource)
                    )
                except ApiError:
                    if cached is None:
                        raise
                    cached = None  # judged against a cached state: judge again against storage
                    continue
                if new == current:
                    return current
                if admit is not None:
                    await admit(new, current)
                finish = None
                if self._hooks is not None and not trusted and subresource is None:
                    try:
                        finish = await self._hooks.begin_update(new, current, dry_run=dry_run)
                    except ApiError:
                        if cached is None:
                            raise
                        cached = None
                        continue
                stored = False
                try:
                    if dry_run:
                        return new
                    if self._deletion_finished(new):
                        deleted = await self._finish_deletion(key, name, revision, new)
                        stored = True
                        return deleted
                    written = await self._write_update(key, name, revision, new)
                    stored = written is not None
                    if written is not None:
                        return written
                    if not (retry_conflicts or cached is not None):
                        raise self._conflict(name)
                    cached = None
                finally:
                    if finish is not None:
                        await finish(stored)

    async def _write_update(self, key: str, name: str, revision: int, new: Object) -> Object | None:
        """Store ``new`` over ``revision``; None when another write got in first."""
        value = self.encode(new)
        if self._conversion is IDENTITY:
            self.cache.expect_write(key, value, new)
        try:
            stored = await self.storage.update(
                key, value, expected_revision=revision, ttl=self._ttl
            )
        except ConflictError:
            self.cache.forget_write(key, value)
            return None
        except KeyNotFoundError:
            self.cache.forget_write(key, value)
            raise self._not_found(name) from None
        except ValueTooLargeError as error:
            self.cache.forget_write(key, value)
            raise errors.request_entity_too_large(error.limit) from None
        except BaseException:
            self.cache.forget_write(key, value)
            raise
        new["metadata"]["resourceVersion"] = str(self._wrote(stored.mod_revision))
        return new

    def written_json(self, namespace: str, obj: Object, *, dry_run: bool) -> bytes:
        """``obj``, the result of a write through this store, as JSON: the cache's bytes
        of it when its event has reached the cache (the store publishes events before
        it answers the writer, so it usually has), else encoded here. Either way the
        same bytes: the cache encoded this very object (``expect_write``). A dry run
        wrote nothing, so its object is encoded here."""
        metadata = obj.get("metadata")
        if not dry_run and self._conversion is IDENTITY and isinstance(metadata, dict):
            cached = self.cache.get(self.resource.storage_key(namespace, metadata.get("name", "")))
            if cached is not None and str(cached.revision) == metadata.get("resourceVersion"):
                return cached.encoded()
        return orjson.dumps(obj)

    async def _cached_state(self, key: str) -> tuple[int, Object, Object] | None:
        """The cache's object at ``key``: its revision, and two private copies of it.

        As upstream's GuaranteedUpdate starts from the watch cache's object, an
        update starts here rather than with a storage read; the write's
        revision check catches a cache behind storage (writes through another
        API server), and the update is then judged again on storage's object.
        """
        if not await self.fresh_cache():
            return None
        found = self.cache.get(key)
        if found is None:
            return None
        encoded = found.encoded()
        return found.revision, orjson.loads(encoded), orjson.loads(encoded)

    def _prepare_update(
        self, new: Object, current: Object, name: str, subresource: str | None
    ) -> Object:
        if not isinstance(new.get("metadata"), dict):
            new["metadata"] = {}
        if new["metadata"].get("name", name) != name:
            raise errors.bad_request(
                f"the name of the object ({new['metadata']['name']}) does not match the name on"
                f" the URL ({name})"
            )
        _keep_server_metadata(new["metadata"], current["metadata"])
        if subresource == "status":
            self.strategy.prepare_for_status_update(new, current)
        elif subresource == "finalize":
            self.strategy.prepare_for_finalize(new, current)
        elif subresource == "approval":
            self.strategy.prepare_for_approval(new, current)
        elif subresource == "ephemeralcontainers":
            self.strategy.prepare_for_ephemeral_containers(new, current)
        else:
            self.strategy.prepare_for_update(new, current)
        self._check(
            new,
            current,
            self.strategy.subresource_update_errors(new, current, subresource),
            subresource=subresource,
        )
        self.strategy.canonicalize(new)
        return new

    # -- delete --------------------------------------------------------------

    async def delete(
        self, namespace: str, name: str, options: DeleteOptions
    ) -> tuple[Object, bool]:
        """Delete, or start a graceful or finalizer-held deletion.

        Returns the object (as deleted, or as it stays with its
        deletionTimestamp) and whether it is gone now.
        """
        key = self.resource.storage_key(namespace, name)
        async with self._key_locks.hold(key):
            while True:
                current_kv = await self.storage.get(key)
                if current_kv is None:
                    raise self._not_found(name)
                current = self.decode(current_kv)
                self.check_preconditions(current, options, name)
                pending = self._pending_deletion(current, options)
                if options.dry_run:
                    return pending or current, pending is None
                try:
                    if pending is not None:
                        stored = await self.storage.update(
                            key,
                            self.encode(pending),
                            expected_revision=current_kv.mod_revision,
                            ttl=self._ttl,
                        )
                        pending["metadata"]["resourceVersion"] = str(
                            self._wrote(stored.mod_revision)
                        )
                        return pending, False
                    deleted = await self.storage.delete(
                        key, expected_revision=current_kv.mod_revision
                    )
                except ConflictError:
                    continue
                except KeyNotFoundError:
                    raise self._not_found(name) from None
                current["metadata"]["resourceVersion"] = str(self._wrote(deleted.mod_revision))
                if self._hooks is not None:
                    await self._hooks.after_delete(current)
                return current, True

    def _pending_deletion(self, obj: Object, options: DeleteOptions) -> Object | None:
        """The object as it must stay while grace or finalizers hold it; None to delete now."""
        metadata = obj["metadata"]
        finalizers = garbage_collection_finalizers(
            list(metadata.get("finalizers") or []),
            options.propagation_policy,
            self.strategy.default_propagation_policy,
        )
        grace = self.strategy.grace_period(obj, options.grace_period_seconds)
        already = metadata.get("deletionTimestamp")
        if not finalizers and grace == 0 and not self._held_by_spec(obj):
            return None
        if (
            already
            and metadata.get("deletionGracePeriodSeconds", 0) <= grace
            and (finalizers == list(metadata.get("finalizers") or []))
        ):
            return obj
        pending = copy_json(obj)
        pending_metadata = pending["metadata"]
        if finalizers:
            pending_metadata["finalizers"] = finalizers
        else:
            pending_metadata.pop("finalizers", None)
        now = self._clock()
        pending_metadata["deletionTimestamp"] = meta.timestamp(now + timedelta(seconds=grace))
        pending_metadata["deletionGracePeriodSeconds"] = grace
        if not already and pending_metadata.get("generation") is not None:
            pending_metadata["generation"] += 1
        if self.resource.plural == "namespaces":
            pending.setdefault("status", {})["phase"] = "Terminating"
        return pending

    def _held_by_spec(self, obj: Object) -> bool:
        """A namespace's ``spec.finalizers`` hold its deletion as metadata finalizers do."""
        return self.resource.plural == "namespaces" and bool(
            (obj.get("spec") or {}).get("finalizers")
        )

    def _deletion_finished(self, obj: Object) -> bool:
        """An update took the last finalizer off an object being deleted: it goes now.

        For namespaces both lists must be empty (upstream's
        ShouldDeleteNamespaceDuringUpdate): the namespace controller's
        ``finalize`` of ``kubernetes`` deletes the namespace.
        """
        metadata = obj["metadata"]
        return bool(
            metadata.get("deletionTimestamp")
            and not metadata.get("finalizers")
            and not metadata.get("deletionGracePeriodSeconds")
            and not self._held_by_spec(obj)
        )

    async def _finish_deletion(self, key: str, name: str, revision: int, obj: Object) -> Object:
        """The last finalizer went: the object is deleted (upstream's deleteWithoutFinalizers)."""
        try:
            deleted = await self.storage.delete(key, expected_revision=revision)
        except (ConflictError, KeyNotFoundError):
            raise self._conflict(name) from None
        obj["metadata"]["resourceVersion"] = str(self._wrote(deleted.mod_revision))
        if self._hooks is not None:
            await self._hooks.after_delete(obj)
        return obj

    async def force_delete(self, namespace: str, name: str) -> None:
        """Delete now, whatever holds it (the kubelet's grace-0 delete of a finished pod)."""
        key = self.resource.storage_key(namespace, name)
        try:
            deleted = await self.storage.delete(key)
        except KeyNotFoundError:
            raise self._not_found(name) from None
        self._wrote(deleted.mod_revision)
        if self._hooks is not None:
            await self._hooks.after_delete(self.decode(deleted))

    def check_preconditions(self, obj: Object, options: DeleteOptions, name: str) -> None:
        """409 Conflict if ``obj`` is not the one ``options`` preconditions name."""
        metadata = obj["metadata"]
        if options.precondition_uid and options.precondition_uid != metadata.get("uid"):
            raise errors.conflict(
                self.resource.group,
                self.resource.plural,
                name,
                f"Precondition failed: UID in precondition: {options.precondition_uid},"
                f" UID in object meta: {metadata.get('uid')}",
            )
        wanted = options.precondition_resource_version
        if wanted and wanted != metadata.get("resourceVersion"):
            raise errors.conflict(
                self.resource.group,
                self.resource.plural,
                name,
                f"Precondition failed: ResourceVersion in precondition: {wanted},"
                f" ResourceVersion in object meta: {metadata.get('resourceVersion')}",
            )

    # -- shared --------------------------------------------------------------

    def _check(
        self,
        new: Object,
        old: Object | None,
        more: Sequence[FieldError] = (),
        *,
        subresource: str | None = None,
    ) -> None:
        problems = self._validate(self.resource, new, old, subresource) + list(more)
        if problems:
            raise errors.invalid_object(
                self.resource.group, self.resource.kind, meta.name_of(new), problems
            )

    def _not_found(self, name: str) -> ApiError:
        return errors.not_found_error(self.resource.group, self.resource.plural, name)

    def _already_exists(self, name: str) -> ApiError:
        return errors.already_exists(self.resource.group, self.resource.plural, name)

    def _conflict(self, name: str) -> ApiError:
        return errors.conflict(self.resource.group, self.resource.plural, name, _CONFLICT_DETAIL)


class KeyLocks:
    """One asyncio lock per storage key, forgotten when nobody holds or waits for it.

    Writes of one key through this server take turns, so they never fail
    each other's compare-and-swap and retry from scratch (at 500 updates/s
    of a few keys, two attempts in three were conflicts). The
    compare-and-swap still guards against every other writer.
    """

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (None, 0))
        lock = lock or asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            _, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


#: The finalizers through which the garbage collector carries out a propagation policy.
ORPHAN_FINALIZER = "orphan"
FOREGROUND_FINALIZER = "foregroundDeletion"


def garbage_collection_finalizers(
    finalizers: list[str], policy: str | None, default_policy: str
) -> list[str]:
    """``finalizers`` as a deletion with propagation ``policy`` leaves them.

    As upstream's deletionFinalizersForGarbageCollection: an explicit policy
    decides; without one, a finalizer a previous deletion left decides, else
    the resource's default (Orphan for v1 ReplicationControllers, Background
    for the rest). ``orphan`` and ``foregroundDeletion`` never stay together.
    The list is returned unchanged (same order) when the set would not change.
    """
    if policy is None:
        if ORPHAN_FINALIZER in finalizers:
            policy = "Orphan"
        elif FOREGROUND_FINALIZER in finalizers:
            policy = "Foreground"
        else:
            policy = default_policy
    wanted = {"Orphan": ORPHAN_FINALIZER, "Foreground": FOREGROUND_FINALIZER}.get(policy)
    kept = [f for f in finalizers if f not in (ORPHAN_FINALIZER, FOREGROUND_FINALIZER)]
    if wanted is not None:
        kept.append(wanted)
    return finalizers if set(kept) == set(finalizers) else kept


_SERVER_OWNED = ("creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds")


def _keep_server_metadata(new: dict[str, Any], current: dict[str, Any]) -> None:
    """Fields clients cannot change by update (upstream's BeforeUpdate).

    A uid the client sent is kept, so validation refuses one that is not the
    object's (field is immutable): that is how a patch carrying the uid it
    was computed for fails on an object recreated under the same name.
    """
    if not new.get("uid") and "uid" in current:
        new["uid"] = current["uid"]
    for name in (*_SERVER_OWNED, "generation", "namespace"):
        if name in current:
            new[name] = current[name]
        else:
            new.pop(name, None)
    new["resourceVersion"] = current["resourceVersion"]
