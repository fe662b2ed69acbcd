"""Query parameters as kube-apiserver reads them.

Booleans arrive as ``true``, ``True`` or ``1`` (the Python client sends
``True``); a malformed number is a 400. DeleteOptions come from the query
string (the Python client) or from a JSON body (kubectl); the body wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from multidict import MultiMapping

from pynetes.api import errors
from pynetes.apiserver.registry import DeleteOptions
from pynetes.apiserver.shapes import check_shape

_TRUE = {"true", "True", "TRUE", "1", "t", "T"}
_FALSE = {"false", "False", "FALSE", "0", "f", "F", ""}


def boolean(query: Mapping[str, str], name: str) -> bool:
    value = query.get(name)
    if value is None:
        return False
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise errors.bad_request(f'invalid boolean value for {name}: "{value}"')


_INT64 = range(-(2**63), 2**63)


def integer(query: Mapping[str, str], name: str) -> int | None:
    """An int64 parameter (upstream's type for limit, timeoutSeconds, ...); 400 otherwise."""
    value = query.get(name)
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise errors.bad_request(f'invalid value for {name}: "{value}"') from None
    if number not in _INT64:
        raise errors.bad_request(f'invalid value for {name}: "{value}": out of range')
    return number


_RESOURCE_VERSION_MATCHES = ("Exact", "NotOlderThan")


def check_list_options(query: Mapping[str, str]) -> None:
    """upstream ValidateListOptions: resourceVersionMatch and its resourceVersion."""
    match = query.get("resourceVersionMatch")
    if not match:
        return
    problems = []
    version = query.get("resourceVersion")
    if match not in _RESOURCE_VERSION_MATCHES:
        supported = [*_RESOURCE_VERSION_MATCHES, ""]
        problems.append(errors.not_supported("resourceVersionMatch", match, supported))
    elif not version:
        problems.append(
            errors.forbidden(
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden unless resourceVersion is provided",
            )
        )
    elif match == "Exact" and version == "0":
        problems.append(
            errors.forbidden(
                "resourceVersionMatch",
                'resourceVersionMatch "exact" is forbidden for resourceVersion "0"',
            )
        )
    if problems:
        raise errors.invalid_options("ListOptions", problems)


#: Upstream's allowed values, in the sorted order its error lists them ("" means the default).
_FIELD_VALIDATION = ("", "Ignore", "Strict", "Warn")


def field_validation(query: Mapping[str, str], *, options: str = "CreateOptions") -> str:
    """fieldValidation (default Warn); an unknown value is a 422 as upstream's."""
    mode = query.get("fieldValidation", "")
    if mode not in _FIELD_VALIDATION:
        raise errors.invalid_options(
            options, [errors.not_supported("fieldValidation", mode, _FIELD_VALIDATION)]
        )
    return mode or "Warn"


def resource_version(value: str | None) -> int | None:
    """A resourceVersion parameter: None when absent or empty; 400 when not a number."""
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise errors.bad_request(f'invalid resource version "{value}"') from None
    if number < 0:
        raise errors.bad_request(f'invalid resource version "{value}"')
    return number


def dry_run(
    query: MultiMapping[str],
    body: Mapping[str, Any] | None = None,
    *,
    options: str = "CreateOptions",
) -> bool:
    """dryRun=All; any other value is a 422, as upstream's ValidateDryRun.

    Every ``dryRun`` parameter counts (upstream decodes them into a
    ``[]string``), so ``dryRun=All&dryRun=Some`` is refused too.
    """
    values = query.getall("dryRun", [])
    if body and isinstance(body.get("dryRun"), list):
        values += body["dryRun"]
    if any(value != "All" for value in values):
        raise errors.invalid_options(options, [errors.not_supported("dryRun", values, ["All"])])
    return bool(values)


def delete_options(query: MultiMapping[str], body: Any) -> DeleteOptions:
    """DeleteOptions from the query string, overridden by a DeleteOptions body."""
    options: dict[str, Any] = {}
    grace = integer(query, "gracePeriodSeconds")
    policy = query.get("propagationPolicy")
    if query.get("orphanDependents") is not None and policy is None:
        policy = "Orphan" if boolean(query, "orphanDependents") else "Background"
    if body is not None:
        check_shape(body, "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions", "DeleteOptions")
    if isinstance(body, dict):
        if body.get("gracePeriodSeconds") is not None:
            grace = body["gracePeriodSeconds"]
        if body.get("propagationPolicy") is not None:
            policy = body["propagationPolicy"]
        elif body.get("orphanDependents") is not None:
            policy = "Orphan" if body["orphanDependents"] else "Background"
        preconditions = body.get("preconditions") or {}
        options["precondition_uid"] = preconditions.get("uid")
        options["precondition_resource_version"] = preconditions.get("resourceVersion")
    if policy not in (None, "Orphan", "Background", "Foreground"):
        raise errors.ApiError(
            422,
            "Invalid",
            f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value:'
            f' "{policy}": supported values: "Foreground", "Background", "Orphan", "nil"',
        )
    if grace is not None and (not isinstance(grace, int) or isinstance(grace, bool)):
        raise errors.bad_request("gracePeriodSeconds must be an integer")
    return DeleteOptions(
        grace_period_seconds=grace,
        propagation_policy=policy,
        dry_run=dry_run(query, body if isinstance(body, dict) else None),
        **options,
    )
