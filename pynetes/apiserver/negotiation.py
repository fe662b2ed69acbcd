"""Content negotiation: what a client sends (Content-Type) and what it accepts (Accept).

kubectl asks for server-side Tables with media type parameters
(``application/json;as=Table;v=v1;g=meta.k8s.io``) and for aggregated
discovery with ``as=APIGroupDiscoveryList``; parameters must match exactly,
as the facts file warns. Bodies are JSON, YAML for clients that send it, or
protobuf for the built-in kinds (kubectl 1.32 and later send it for its
imperative creates); a custom resource in protobuf gets 415, as upstream.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import yaml

from pynetes.api import errors
from pynetes.apiserver import protobuf

MAX_BODY_BYTES = 3 * 1024 * 1024

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)


class _YamlLoader(yaml.SafeLoader):
    """YAML as sigs.k8s.io/yaml reads it into JSON: timestamps stay strings."""


_YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class MediaType:
    """``type/subtype;k=v;...`` with its parameters (q excluded)."""

    essence: str
    parameters: dict[str, str] = field(default_factory=dict)

    def matches_json(self) -> bool:
        return self.essence in (JSON, "application/*", "*/*")


@functools.lru_cache(maxsize=256)
def parse_media_types(header: str | None) -> tuple[MediaType, ...]:
    """An Accept header, in the client's order of preference (q values respected).

    Memoized: clients send a handful of distinct headers, and parsing one on
    every request cost 2% of a GET. The media types are shared: read only.
    """
    if not header:
        return (MediaType(JSON),)
    ranked: list[tuple[float, int, MediaType]] = []
    for position, part in enumerate(header.split(",")):
        pieces = [piece.strip() for piece in part.split(";")]
        if not pieces[0]:
            continue
        parameters: dict[str, str] = {}
        quality = 1.0
        for piece in pieces[1:]:
            name, _, value = piece.partition("=")
            name = name.strip().lower()
            value = value.strip().strip('"')
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
            elif name:
                parameters[name] = value
        ranked.append((-quality, position, MediaType(pieces[0].lower(), parameters)))
    ranked.sort(key=lambda entry: (entry[0], entry[1]))
    return tuple(entry[2] for entry in ranked if entry[0] < 0)


def wants_table(accept: Sequence[MediaType]) -> bool:
    """The first acceptable type is a meta.k8s.io Table (v1 or v1beta1)."""
    for media in accept:
        if media.essence == JSON and media.parameters.get("as") == "Table":
            return media.parameters.get("g") == "meta.k8s.io" and media.parameters.get("v") in (
                "v1",
                "v1beta1",
            )
        if media.matches_json() and not media.parameters:
            return False
    return False


def accepts_json(accept: Sequence[MediaType]) -> bool:
    return any(media.matches_json() or media.essence == YAML for media in accept)


def content_type_of(header: str | None) -> str:
    """The essence of a Content-Type; a missing one means JSON (the Python client)."""
    if not header:
        return JSON
    return header.split(";", 1)[0].strip().lower()


def decode_body(body: bytes, content_type: str) -> Any:
    """The request body as JSON-shaped data; 400 for malformed, 415 for unknown types."""
    if content_type in (JSON, JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as error:
            raise errors.bad_request(f"error decoding request body: {error}") from None
        except RecursionError:
            raise errors.bad_request("error decoding request body: nested too deeply") from None
    if content_type in (YAML, "application/x-yaml", "text/yaml", APPLY_PATCH):
        try:
            data = yaml.load(body, Loader=_YamlLoader)  # a SafeLoader subclass
            orjson.dumps(data)  # refuse what JSON cannot hold (binary, sets, odd keys)
        except (yaml.YAMLError, TypeError) as error:
            raise errors.bad_request(f"error converting YAML to JSON: {error}") from None
        except RecursionError:
            raise errors.bad_request("error converting YAML to JSON: nested too deeply") from None
        return data
    if content_type == PROTOBUF:
        try:
            return protobuf.decode(body)
        except protobuf.UnknownKind:
            raise errors.unsupported_media_type([JSON, YAML]) from None
    raise errors.unsupported_media_type([JSON, YAML, PROTOBUF])
