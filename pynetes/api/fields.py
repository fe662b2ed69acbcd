"""Field selectors, as kube-apiserver parses them and applies them per resource.

A field selector (``fieldSelector=spec.nodeName=node-1,status.phase!=Failed``)
is a comma-separated AND of ``field=value``, ``field==value`` or
``field!=value`` terms; ``\\``, ``,`` and ``=`` in a value are escaped with a
backslash. Each resource accepts only the fields its upstream field label
conversion function lists, and matches them against the field set its
upstream ``GetAttrs`` builds: :func:`parse_field_selector` checks the first,
:func:`field_set` builds the second. Values in a field set are strings as
upstream renders them (booleans ``true``/``false``, numbers in decimal, a
missing string ``""``); a field the set lacks reads as ``""``.

Resources with no conversion function of their own accept ``metadata.name``
and ``metadata.namespace`` only, as upstream's default does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pynetes.api.errors import bad_request
from pynetes.api.gofmt import go_quote

Fields = Mapping[str, str]
Object = dict[str, Any]

_EQUALS, _NOT_EQUALS = "=", "!="
#: Checked in this order at each position, so ``==`` never leaves ``=`` in a value.
_TERM_OPERATORS = ("!=", "==", "=")
_ESCAPED = {"\\": "\\\\", ",": "\\,", "=": "\\="}


class SelectorSyntaxError(ValueError):
    """A field selector upstream would refuse; its text is upstream's error text."""


@dataclass(frozen=True)
class FieldTerm:
    """One term of a field selector: ``field=value`` or ``field!=value``."""

    field: str
    operator: str
    value: str

    def __str__(self) -> str:
        escaped = "".join(_ESCAPED.get(char, char) for char in self.value)
        return f"{self.field}{self.operator}{escaped}"


class FieldSelector:
    """Terms ANDed together, in upstream's order (sorted by their text as sent).

    Terms name fields as the field set does, so ``str()`` (upstream's
    String()) prints ``spec.nodeName`` for a client's ``spec.host`` and
    ``involvedObject.name`` for events.k8s.io's ``regarding.name``.
    """

    __slots__ = ("_checks", "terms")

    def __init__(self, terms: tuple[FieldTerm, ...]) -> None:
        self.terms = terms
        self._checks = tuple((term.field, term.value, term.operator == _EQUALS) for term in terms)

    def matches(self, fields: Fields) -> bool:
        """Whether an object with this field set (see :func:`field_set`) is selected."""
        for field, value, equal in self._checks:
            if (fields.get(field, "") == value) is not equal:
                return False
        return True

    @property
    def empty(self) -> bool:
        return not self.terms

    def exact_value(self, field: str) -> str | None:
        """Upstream RequiresExactMatch: the value of the first ``field=value`` term, if any.

        A server indexes watches by it, e.g. kubelets' ``spec.nodeName=<node>``.
        """
        for term in self.terms:
            if term.field == field and term.operator == _EQUALS:
                return term.value
        return None

    def __str__(self) -> str:
        return ",".join(str(term) for term in self.terms)

    def __repr__(self) -> str:
        return f"FieldSelector({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldSelector):
            return NotImplemented
        return self.terms == other.terms

    def __hash__(self) -> int:
        return hash(self.terms)


# --- Syntax (upstream fields.ParseSelector) ----------------------------------


def _split_terms(text: str) -> list[str]:
    """Split at commas that no backslash escapes; escapes stay in the terms."""
    terms, start, escaped = [], 0, False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            terms.append(text[start:index])
            start = index + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    """(field, operator, raw value) at the first operator; fields have no escapes."""
    for index in range(len(term)):
        for operator in _TERM_OPERATORS:
            if term.startswith(operator, index):
                return term[:index], operator, term[index + len(operator) :]
    return None


def _unescape(value: str) -> str:
    if "\\" not in value and "," not in value and "=" not in value:
        return value
    out: list[str] = []
    escaped = False
    for char in value:
        if escaped:
            if char not in _ESCAPED:
                raise SelectorSyntaxError(
                    f"invalid field selector: invalid escape sequence: \\{char}"
                )
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in ",=":
            # Go prints the rune with %v: its number.
            raise SelectorSyntaxError(
                f"invalid field selector: unescaped character in value: {ord(char)}"
            )
        else:
            out.append(char)
    if escaped:
        raise SelectorSyntaxError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def parse_terms(text: str) -> list[FieldTerm]:
    """The terms of a field selector, sorted as upstream sorts them, whatever the resource.

    Raises SelectorSyntaxError for malformed text. Which fields a resource
    supports is :func:`parse_field_selector`'s concern.
    """
    terms = []
    for part in sorted(_split_terms(text)) if text else ():
        if not part:
            continue
        split = _split_term(part)
        if split is None:
            raise SelectorSyntaxError(f"invalid selector: '{text}'; can't understand '{part}'")
        field, operator, value = split
        terms.append(
            FieldTerm(field, _NOT_EQUALS if operator == "!=" else _EQUALS, _unescape(value))
        )
    return terms


# --- Which fields each resource supports --------------------------------------


@dataclass(frozen=True)
class _ResourceFields:
    """Upstream's field label conversion function and GetAttrs of one resource.

    ``labels`` maps each field a client may select on to its name in the
    field set (events.k8s.io's ``regarding.name`` is ``involvedObject.name``
    there); ``extra`` builds the field set beyond ``metadata.name`` and
    ``metadata.namespace``; ``unsupported`` words the error for any other field.
    """

    labels: Mapping[str, str]
    extra: Callable[[Object], dict[str, str]]
    unsupported: Callable[[str], str]


_EMPTY: dict[str, Any] = {}


def _section(obj: Object, key: str) -> Object:
    """A nested object (``spec``, ``status``...), or an empty one where there is none."""
    value = obj.get(key)
    return value if isinstance(value, dict) else _EMPTY


def _text(section: Object, key: str) -> str:
    value = section.get(key)
    return value if isinstance(value, str) else ""


def _flag(section: Object, key: str) -> str:
    """Go's strconv.FormatBool of a bool field; missing is false."""
    return "true" if section.get(key) is True else "false"


def _number(section: Object, key: str) -> str:
    """Go's strconv.Itoa of an integer field; missing is 0."""
    value = section.get(key)
    return str(value) if type(value) is int else "0"


def _pod_ip(status: Object) -> str:
    """The primary pod IP: v1 ``status.podIP``, else the first of ``status.podIPs``."""
    ip = _text(status, "podIP")
    if ip:
        return ip
    ips = status.get("podIPs")
    first = ips[0] if isinstance(ips, list) and ips else None
    return _text(first, "ip") if isinstance(first, dict) else ""


def _pod_fields(pod: Object) -> dict[str, str]:
    spec, status = _section(pod, "spec"), _section(pod, "status")
    return {
        "spec.nodeName": _text(spec, "nodeName"),
        "spec.restartPolicy": _text(spec, "restartPolicy"),
        "spec.schedulerName": _text(spec, "schedulerName"),
        # v1's deprecated spec.serviceAccount stands in when serviceAccountName is unset.
        "spec.serviceAccountName": _text(spec, "serviceAccountName")
        or _text(spec, "serviceAccount"),
        "spec.hostNetwork": _flag(spec, "hostNetwork"),
        "status.phase": _text(status, "phase"),
        "status.podIP": _pod_ip(status),
        "status.nominatedNodeName": _text(status, "nominatedNodeName"),
    }


_INVOLVED_OBJECT = (
    "kind",
    "namespace",
    "name",
    "uid",
    "apiVersion",
    "resourceVersion",
    "fieldPath",
)


def _event_fields(event: Object, reference: str, source: str, controller: str) -> dict[str, str]:
    """An Event's field set, named as core/v1 names it whichever version holds the event."""
    involved = _section(event, reference)
    fields = {f"involvedObject.{name}": _text(involved, name) for name in _INVOLVED_OBJECT}
    reporting = _text(event, controller)
    fields["reason"] = _text(event, "reason")
    fields["reportingComponent"] = reporting
    fields["source"] = _text(_section(event, source), "component") or reporting
    fields["type"] = _text(event, "type")
    return fields


def _core_event_fields(event: Object) -> dict[str, str]:
    return _event_fields(event, "involvedObject", "source", "reportingComponent")


def _events_v1_fields(event: Object) -> dict[str, str]:
    return _event_fields(event, "regarding", "deprecatedSource", "reportingController")


def _service_fields(service: Object) -> dict[str, str]:
    spec = _section(service, "spec")
    return {"spec.clusterIP": _text(spec, "clusterIP"), "spec.type": _text(spec, "type")}


def _no_extra(_obj: Object) -> dict[str, str]:
    return {}


def _not_supported(label: str) -> str:
    return f"field label not supported: {label}"


def _not_known(label: str) -> str:
    only = '"metadata.name", "metadata.namespace"'
    return f"{go_quote(label)} is not a known field selector: only {only}"


def _identity(*labels: str) -> dict[str, str]:
    return {label: label for label in labels}


_NAME, _NAMESPACE = "metadata.name", "metadata.namespace"

_DEFAULT = _ResourceFields(_identity(_NAME, _NAMESPACE), _no_extra, _not_known)

_RESOURCES: dict[tuple[str, str], _ResourceFields] = {
    ("", "pods"): _ResourceFields(
        _identity(
            _NAME,
            _NAMESPACE,
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            # Accepted by upstream, but absent from its field set: it reads as "".
            "status.podIPs",
            "status.nominatedNodeName",
        )
        # Old v1 clients' name for spec.nodeName.
        | {"spec.host": "spec.nodeName"},
        _pod_fields,
        _not_supported,
    ),
    ("", "nodes"): _ResourceFields(
        _identity(_NAME, "spec.unschedulable"),
        lambda node: {"spec.unschedulable": _flag(_section(node, "spec"), "unschedulable")},
        _not_supported,
    ),
    ("", "replicationcontrollers"): _ResourceFields(
        _identity(_NAME, _NAMESPACE, "status.replicas"),
        lambda controller: {"status.replicas": _number(_section(controller, "status"), "replicas")},
        _not_supported,
    ),
    ("", "events"): _ResourceFields(
        _identity(
            *(f"involvedObject.{name}" for name in _INVOLVED_OBJECT),
            "reason",
            "reportingComponent",
            "source",
            "type",
            _NAMESPACE,
            _NAME,
        ),
        _core_event_fields,
        _not_supported,
    ),
    ("events.k8s.io", "events"): _ResourceFields(
        {f"regarding.{name}": f"involvedObject.{name}" for name in _INVOLVED_OBJECT}
        | {"reportingController": "reportingComponent"}
        | _identity("reason", "source", "type", _NAMESPACE, _NAME),
        _events_v1_fields,
        _not_supported,
    ),
    ("", "namespaces"): _ResourceFields(
        _identity("status.phase", _NAME),
        lambda namespace: {"status.phase": _text(_section(namespace, "status"), "phase")},
        _not_supported,
    ),
    ("", "secrets"): _ResourceFields(
        _identity("type", _NAMESPACE, _NAME),
        lambda secret: {"type": _text(secret, "type")},
        _not_supported,
    ),
    ("", "services"): _ResourceFields(
        _identity(_NAMESPACE, _NAME, "spec.clusterIP", "spec.type"),
        _service_fields,
        _not_supported,
    ),
    ("batch", "jobs"): _ResourceFields(
        _identity(_NAME, _NAMESPACE, "status.successful"),
        lambda job: {"status.successful": _number(_section(job, "status"), "succeeded")},
        lambda label: f"field label {go_quote(label)} not supported for batchv1.Job",
    ),
    ("certificates.k8s.io", "certificatesigningrequests"): _ResourceFields(
        _identity(_NAME, "spec.signerName"),
        lambda request: {"spec.signerName": _text(_section(request, "spec"), "signerName")},
        _not_supported,
    ),
}


def _fields_of(group: str, resource: str) -> _ResourceFields:
    return _RESOURCES.get((group, resource), _DEFAULT)


def field_set(group: str, resource: str, obj: Object) -> dict[str, str]:
    """The fields a selector on ``group``/``resource`` is matched against.

    ``obj`` is in the shape of the resource's served version (events.k8s.io
    events with ``regarding``); the keys are upstream's field set names. The
    object is only read. Cluster-scoped objects get ``metadata.namespace: ""``
    where upstream's set has no such key: both read as ``""``.
    """
    metadata = _section(obj, "metadata")
    fields = {_NAME: _text(metadata, "name"), _NAMESPACE: _text(metadata, "namespace")}
    fields.update(_fields_of(group, resource).extra(obj))
    return fields


def parse_field_selector(text: str, *, group: str, resource: str) -> FieldSelector:
    """A ``fieldSelector`` query parameter for ``group``/``resource``, as kube-apiserver reads it.

    Fields are renamed to their field set names (pods' ``spec.host`` is
    ``spec.nodeName``). Raises ApiError 400 BadRequest with upstream's
    message for malformed syntax (``invalid selector: 'x'; can't understand
    'x'``) and for a field the resource does not support (pods: ``field label
    not supported: spec.foo``; resources without fields of their own:
    ``"spec.foo" is not a known field selector: only "metadata.name",
    "metadata.namespace"``).
    """
    fields = _fields_of(group, resource)
    try:
        terms = parse_terms(text)
    except SelectorSyntaxError as error:
        raise bad_request(str(error)) from None
    converted = []
    for term in terms:
        name = fields.labels.get(term.field)
        if name is None:
            raise bad_request(fields.unsupported(term.field))
        converted.append(FieldTerm(name, term.operator, term.value))
    return FieldSelector(tuple(converted))
