"""Helpers for the Table tests: a fixed clock and one-row shortcuts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pynetes.apiserver.tables import table_for

NOW = datetime(2024, 8, 15, 12, 0, 0, tzinfo=UTC)


def ago(**delta: float) -> str:
    """The RFC 3339 timestamp ``delta`` before NOW, as the API server writes it."""
    return (NOW - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def row(group: str, resource: str, obj: dict[str, Any]) -> list[Any]:
    """The cells kube-apiserver prints for one object (always wide, as upstream)."""
    return table_for(group, resource, [obj], now=NOW)["rows"][0]["cells"]


def headers(group: str, resource: str) -> list[tuple[str, int]]:
    """Column names with their priority (1: shown only by ``kubectl get -o wide``)."""
    table = table_for(group, resource, [], now=NOW, list_metadata={})
    return [(column["name"], column["priority"]) for column in table["columnDefinitions"]]


def meta(name: str, created: str | None = None, **extra: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, **extra}
    if created is not None:
        metadata["creationTimestamp"] = created
    return metadata
