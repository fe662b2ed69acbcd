"""Server-side printing: the ``meta.k8s.io/v1`` Table that ``kubectl get`` asks for.

kubectl sends ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io`` and
prints the columns it gets back (hiding those of priority > 0 unless
``-o wide``), so the columns and cells here are upstream 1.31's:
``pkg/printers/internalversion`` for built-in resources, apiextensions'
table convertor for custom resources, and the default table convertor
(NAME, CREATED AT) for a resource with no printer (roles, limitranges,
customresourcedefinitions...).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from pynetes.api import errors
from pynetes.apiserver.tables import (
    age,
    apps,
    autoscaling,
    batch,
    cells,
    cluster,
    core,
    custom,
    events,
    metrics,
    networking,
    pods,
)
from pynetes.apiserver.tables.columns import META, NAME, Cells, Column, Doc, Printer, definitions

__all__ = ["table_for"]

Object = dict[str, Any]

_PRINTERS: dict[tuple[str, str], Printer] = {
    **pods.PRINTERS,
    **events.PRINTERS,
    **core.PRINTERS,
    **apps.PRINTERS,
    **autoscaling.PRINTERS,
    **batch.PRINTERS,
    **networking.PRINTERS,
    **cluster.PRINTERS,
    **metrics.PRINTERS,
}


def _created_at(obj: Object, _now: datetime) -> Cells:
    return [cells.name(obj), age.rfc3339(cells.created(obj))]


#: ``rest.NewDefaultTableConvertor``: the name and the creation time as a date.
_DEFAULT = Printer(
    (NAME, Column("Created At", "date", Doc(META, "creationTimestamp"))), _created_at
)
_INCLUDE_OBJECT = ("None", "Metadata", "Object", "")
_LIST_META_KEYS = ("resourceVersion", "continue", "remainingItemCount")


def table_for(
    group: str,
    resource: str,
    objects: list[Object],
    *,
    include_object: str = "Metadata",
    now: datetime,
    list_metadata: dict[str, Any] | None = None,
    printer_columns: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The Table of ``objects`` of ``group``/``resource``, as kube-apiserver prints it.

    ``printer_columns`` is given for a custom resource (the served version's
    ``additionalPrinterColumns``, possibly empty) and None for a built-in
    one. ``list_metadata`` is the list's ``metadata`` (resourceVersion,
    continue, remainingItemCount); None prints a single object (a GET or a
    watch event), whose resourceVersion the Table then carries, as upstream.
    ``include_object`` is the ``includeObject`` query parameter: ``None``
    (rows carry ``"object": null``), ``Metadata`` (the default: a
    PartialObjectMetadata) or ``Object``; anything else is a 400 as upstream.
    ``now`` is the instant ages are computed at (the function reads no clock).

    The inputs are not mutated. The Table shares dicts with them (metadata,
    whole objects) and with cached column definitions: serialize it, do
    not mutate it.
    """
    if include_object not in _INCLUDE_OBJECT:
        value = orjson.dumps(include_object).decode()
        raise errors.bad_request(f"unrecognized includeObject value: {value}")
    if printer_columns is not None:
        printer = custom.printer(printer_columns)
    else:
        printer = _PRINTERS.get((group, resource), _DEFAULT)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": _table_metadata(objects, list_metadata),
        "columnDefinitions": definitions(printer.columns),
        "rows": [_row(printer, obj, include_object, now) for obj in objects],
    }


def _table_metadata(objects: list[Object], list_metadata: dict[str, Any] | None) -> Object:
    if list_metadata is None:
        version = cells.metadata(objects[0]).get("resourceVersion") if len(objects) == 1 else None
        return {"resourceVersion": version} if version else {}
    return {key: list_metadata[key] for key in _LIST_META_KEYS if list_metadata.get(key)}


def _row(printer: Printer, obj: Object, include_object: str, now: datetime) -> Object:
    row: Object = {"cells": printer.cells(obj, now)}
    conditions = printer.conditions(obj) if printer.conditions is not None else None
    if conditions:
        row["conditions"] = conditions
    row["object"] = _row_object(obj, include_object)
    return row


def _row_object(obj: Object, include_object: str) -> Object | None:
    if include_object == "None":
        return None
    if include_object == "Object":
        return obj
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": cells.metadata(obj),
    }
