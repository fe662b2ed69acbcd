"""autoscaling/v1 Scale, the ``scale`` subresource's view (``kubectl get --subresource=scale``):
its name, the replicas wanted and the replicas there are, as upstream prints it."""

from __future__ import annotations

from datetime import datetime

from pynetes.apiserver.tables.cells import Object, name
from pynetes.apiserver.tables.columns import NAME, Cells, Column, Doc, Printer

_SCALE = "io.k8s.api.autoscaling.v1.Scale"
_COLUMNS = (
    NAME,
    Column("Desired", "integer", Doc(f"{_SCALE}Spec", "replicas")),
    Column("Available", "integer", Doc(f"{_SCALE}Status", "replicas")),
)


def _scale(scale: Object, _now: datetime) -> Cells:
    spec, status = scale.get("spec") or {}, scale.get("status") or {}
    return [name(scale), spec.get("replicas", 0), status.get("replicas", 0)]


PRINTERS = {("autoscaling", "scales"): Printer(_COLUMNS, _scale)}
