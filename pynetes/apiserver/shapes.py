"""Bodies read field by field (DeleteOptions, Binding, Eviction) are type-checked first."""

from __future__ import annotations

from typing import Any

from pynetes.api import errors, schema
from pynetes.api.validation import structural


def check_shape(body: Any, definition: str, kind: str, *, group_version: str = "v1") -> None:
    """400 when an options or action body (DeleteOptions, Binding, Eviction) has wrong types.

    These bodies are read field by field, so a wrongly typed one must be
    refused first, as upstream's decoder refuses it.
    """
    version = group_version.rsplit("/", 1)[-1]
    if not isinstance(body, dict):
        raise errors.bad_request(
            f'{kind} in version "{version}" cannot be handled as a {kind}: the body must be an'
            " object"
        )
    problems, _unknown = structural.validate_structure(body, schema.definition(definition))
    decode_error = structural.decode_error(kind, version, problems)
    if decode_error is not None:
        raise decode_error
