"""Cell renderers shared by several printers: names, labels, selectors, containers.

Each mirrors the upstream helper named in its docstring, including the
placeholders (``<none>``, ``<unset>``) kubectl users see.
"""

from __future__ import annotations

from typing import Any

Object = dict[str, Any]

NONE = "<none>"
UNSET = "<unset>"
_SHOWN = 3


def metadata(obj: Object) -> Object:
    return obj.get("metadata") or {}


def name(obj: Object) -> str:
    return metadata(obj).get("name", "")


def created(obj: Object) -> object:
    return metadata(obj).get("creationTimestamp")


def deleting(obj: Object) -> bool:
    return metadata(obj).get("deletionTimestamp") is not None


def section(obj: Object, key: str) -> Object:
    """``spec``, ``status`` or any nested object, empty when absent or null."""
    return obj.get(key) or {}


def format_labels(labels: Object | None) -> str:
    """``labels.FormatLabels``: ``k=v`` pairs sorted by key, ``<none>`` when empty."""
    text = ",".join(f"{key}={labels[key]}" for key in sorted(labels or {}))
    return text or NONE


class InvalidSelector(ValueError):
    """A label selector that ``metav1.LabelSelectorAsSelector`` rejects."""


_OPERATORS = {"In": "in", "NotIn": "notin"}


def selector_string(selector: Object | None) -> str:
    """``LabelSelectorAsSelector(selector).String()``: "" for nil or empty.

    Requirements are sorted by key; set values are sorted inside the
    parentheses. Raises InvalidSelector for an operator upstream rejects.
    """
    if not selector:
        return ""
    requirements = [
        (key, f"{key}={value}") for key, value in (selector.get("matchLabels") or {}).items()
    ]
    requirements.extend(_expression(expr) for expr in selector.get("matchExpressions") or [])
    requirements.sort(key=lambda requirement: requirement[0])
    return ",".join(text for _, text in requirements)


def _expression(expression: Object) -> tuple[str, str]:
    key = expression.get("key", "")
    operator = expression.get("operator")
    values = expression.get("values") or []
    if operator in _OPERATORS and values:
        return key, f"{key} {_OPERATORS[operator]} ({','.join(sorted(set(values)))})"
    if operator == "Exists" and not values:
        return key, key
    if operator == "DoesNotExist" and not values:
        return key, f"!{key}"
    raise InvalidSelector(f"{operator!r} is not a valid label selector operator here")


def format_label_selector(selector: Object | None) -> str:
    """``metav1.FormatLabelSelector``: ``<none>`` when it selects by nothing."""
    try:
        text = selector_string(selector)
    except InvalidSelector:
        return "<error>"
    return text or NONE


def containers(template_spec: Object | None) -> tuple[str, str]:
    """``layoutContainerCells``: container names and images, comma-separated."""
    listed = (template_spec or {}).get("containers") or []
    names = ",".join(container.get("name", "") for container in listed)
    images = ",".join(container.get("image", "") for container in listed)
    return names, images


def pod_template_spec(spec: Object) -> Object:
    """``spec.template.spec`` of a workload, empty when absent."""
    return section(section(spec, "template"), "spec")


def bool_pointer(value: object) -> str:
    """``printBoolPtr``: ``True``/``False``, ``<unset>`` when nil."""
    if value is None:
        return UNSET
    return "True" if value else "False"


def join_host_port(host: str, port: object) -> str:
    """``net.JoinHostPort``: IPv6 hosts in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def first_three(entries: list[str]) -> str:
    """Upstream's short lists: ``a,b,c``, then ``a,b,c + N more...`` past three entries."""
    text = ",".join(entries[:_SHOWN])
    return f"{text} + {len(entries) - _SHOWN} more..." if len(entries) > _SHOWN else text


def condition_true(conditions: list[Object] | None, kind: str) -> bool:
    """The first condition of ``kind`` has status True."""
    for condition in conditions or []:
        if condition.get("type") == kind:
            return condition.get("status") == "True"
    return False
