"""Making pods from a controller's template, and creating many at a measured pace."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable
from typing import Any

from pynetes.controllermanager.common.ownership import controller_reference

Object = dict[str, Any]

#: Upstream's SlowStartInitialBatchSize.
SLOW_START_INITIAL_BATCH = 1


def pod_from_template(
    template: Object, owner: Object, api_version: str, kind: str, *, name_prefix: str | None = None
) -> Object:
    """A new pod of ``owner``'s ``template`` (upstream's GetPodFromTemplate).

    Labels, annotations and finalizers come from the template, the spec is a
    copy of it, the name is generated from ``name_prefix`` (default
    ``<owner>-``) and the pod is controlled by ``owner``.
    """
    template_metadata = template.get("metadata") or {}
    metadata: Object = {
        "generateName": name_prefix or f"{owner['metadata']['name']}-",
        "namespace": owner["metadata"]["namespace"],
        "labels": dict(template_metadata.get("labels") or {}),
        "ownerReferences": [controller_reference(owner, api_version, kind)],
    }
    for key in ("annotations", "finalizers"):
        if template_metadata.get(key):
            metadata[key] = copy.deepcopy(template_metadata[key])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": copy.deepcopy(template.get("spec") or {}),
    }


async def slow_start_batches(
    count: int, create: Callable[[], Awaitable[None]], initial: int = SLOW_START_INITIAL_BATCH
) -> tuple[int, BaseException | None]:
    """Call ``create`` ``count`` times in batches of 1, 2, 4, ... (upstream's slowStartBatch).

    A batch runs concurrently; the first batch with a failure ends the run,
    so a template the API refuses costs one call, not ``count``. Returns
    how many calls succeeded and the first failure (None if none).
    """
    done = 0
    batch = min(count, initial)
    while batch > 0:
        outcomes = await asyncio.gather(*(create() for _ in range(batch)), return_exceptions=True)
        failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        done += batch - len(failures)
        if failures:
            return done, failures[0]
        batch = min(2 * batch, count - done)
    return done, None
