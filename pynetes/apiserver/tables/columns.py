"""Column definitions, and the printer that pairs them with a row of cells.

A printer is upstream's ``TableHandler``: the column definitions of one
resource and a function from one object to its cells. kube-apiserver always
prints "wide" (``GenerateOptions{Wide: true}``), so every row carries a cell
for every column and kubectl hides the columns of priority 1 itself unless
asked for ``-o wide``.

Upstream fills most descriptions from the Go types' ``SwaggerDoc()``, the
same text as the OpenAPI field descriptions; :class:`Doc` names such a field
and is resolved against ``pynetes.api.schema`` when the definitions are
first rendered, so importing this package stays cheap.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pynetes.api import schema

Object = dict[str, Any]
Cells = list[Any]

META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


@dataclass(frozen=True)
class Doc:
    """A description taken from the upstream schema: ``definition``'s ``field``.

    A field upstream names but the type lacks yields "", as ``SwaggerDoc()``
    does for a missing key.
    """

    definition: str
    field: str

    def text(self) -> str:
        node = schema.definitions().get(self.definition, {})
        return (node.get("properties", {}).get(self.field) or {}).get("description", "")


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str | Doc
    priority: int = 0
    format: str = ""

    def definition(self) -> dict[str, Any]:
        description = self.description
        if isinstance(description, Doc):
            description = description.text()
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": description,
            "priority": self.priority,
        }


@dataclass(frozen=True)
class Printer:
    """Upstream's TableHandler for one resource: its columns and its rows.

    ``cells`` receives the object and the instant the Table is printed at;
    ``conditions`` (pods only upstream) gives the row's ``conditions``.
    """

    columns: tuple[Column, ...]
    cells: Callable[[Object, datetime], Cells]
    conditions: Callable[[Object], list[dict[str, str]]] | None = field(default=None)


@functools.lru_cache(maxsize=1024)
def definitions(columns: tuple[Column, ...]) -> list[dict[str, Any]]:
    """The ``columnDefinitions`` of a Table; shared, so callers must not mutate them.

    Cached per column set: built-in printers have one each, custom resources
    one per CRD version's columns.
    """
    return [column.definition() for column in columns]


def core(kind: str) -> str:
    """The definition name of a core/v1 type, e.g. ``PodSpec``."""
    return f"io.k8s.api.core.v1.{kind}"


NAME = Column("Name", "string", Doc(META, "name"), format="name")
AGE = Column("Age", "string", Doc(META, "creationTimestamp"))
CONTAINERS = Column("Containers", "string", "Names of each container in the template.", 1)
IMAGES = Column("Images", "string", "Images referenced by each container in the template.", 1)
