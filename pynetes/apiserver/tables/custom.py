"""Custom resources: NAME plus the CRD version's ``additionalPrinterColumns``.

As apiextensions-apiserver's table convertor: a version without columns
shows NAME and AGE (a ``date`` column on ``.metadata.creationTimestamp``);
each column's ``jsonPath`` is evaluated against the object and only its
first result is printed, as the column's type: ``string`` as client-go's
jsonpath prints it, ``integer``/``number``/``boolean`` as JSON values,
``date`` as an age. A path that finds nothing, or a value of the wrong type,
gives a null cell. A column whose path cannot be parsed is dropped with all
the columns after it, as upstream does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynetes.apiserver.tables import age, gotext, jsonpath
from pynetes.apiserver.tables.cells import Object, name
from pynetes.apiserver.tables.columns import META, NAME, Cells, Column, Doc, Printer

_DEFAULT_COLUMNS = (
    {
        "name": "Age",
        "type": "date",
        "description": Doc(META, "creationTimestamp"),
        "jsonPath": ".metadata.creationTimestamp",
    },
)


def printer(printer_columns: list[dict[str, Any]]) -> Printer:
    """The printer for a CRD version with these ``additionalPrinterColumns``."""
    columns = [NAME]
    paths: list[jsonpath.Path] = []
    for spec in printer_columns or _DEFAULT_COLUMNS:
        path_text = spec.get("jsonPath", "")
        try:
            paths.append(jsonpath.parse(path_text))
        except jsonpath.JsonPathError:
            break
        description = spec.get("description") or (
            f"Custom resource definition column (in JSONPath format): {path_text}"
        )
        columns.append(
            Column(
                spec.get("name", ""),
                spec.get("type", ""),
                description,
                spec.get("priority", 0),
                spec.get("format", ""),
            )
        )
    typed_paths = list(zip([column.type for column in columns[1:]], paths, strict=True))

    def cells(obj: Object, now: datetime) -> Cells:
        return [name(obj), *(_cell(kind, path, obj, now) for kind, path in typed_paths)]

    return Printer(tuple(columns), cells)


def _cell(kind: str, path: jsonpath.Path, obj: Object, now: datetime) -> Any:
    try:
        found = jsonpath.find(path, obj)
    except jsonpath.JsonPathError:
        return None
    if not found:
        return None
    value = found[0]
    if kind == "string":
        return gotext.text(value)
    return _typed(kind, value, now)


def _typed(kind: str, value: Any, now: datetime) -> Any:
    """``cellForJSONValue``: the value when it has the column's type, else null."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "integer" and number:
        return int(value)
    if kind == "number" and number:
        return float(value)
    if kind == "boolean" and isinstance(value, bool):
        return value
    if kind == "date" and isinstance(value, str):
        return _date(value, now)
    return None


def _date(value: str, now: datetime) -> str:
    """An age; ``<unknown>`` for an empty date, ``<invalid>`` for one Go cannot parse."""
    if value in ("", '""'):
        return age.UNKNOWN
    moment = age.parse_rfc3339(value)
    return "<invalid>" if moment is None else age.elapsed(moment, now)
