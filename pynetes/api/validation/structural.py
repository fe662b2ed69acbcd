"""Structural validation: a request body checked against the upstream schema.

kube-apiserver decodes a JSON body into Go structs before anything else
looks at it. That decode is what this module reproduces, on plain dicts:

* a value of the wrong JSON type fails the decode: 400 BadRequest
  ``Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal
  string into Go struct field PodSpec.spec.containers of type []v1.Container``
  (Go's ``encoding/json`` wording, which 1.31 still uses);
* a field the struct does not have is an *unknown field*, reported per
  ``fieldValidation``: Strict fails with 400 ``strict decoding error:
  unknown field "spec.foo", unknown field "spec.bar"``; Warn adds one
  ``Warning`` per field; Ignore drops them silently. Upstream stores the
  object without them: :func:`prune_unknown`;
* ``null`` is the Go zero value: allowed everywhere, treated as absent.

It also reports the *Required value* errors that upstream's validation
(not the schema's ``required`` lists, which differ) gives for fields left
empty, e.g. ``spec.containers[0].image: Required value``.

Each schema definition is compiled once into a tree of small validators (a
dict of field name -> child validator per struct), so a check is one walk
of the object with no schema look-ups.
"""

from __future__ import annotations

import binascii
import calendar
import json
import re
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import orjson

from pynetes.api import schema
from pynetes.api.errors import ApiError, FieldError, FieldErrorType, bad_request, required
from pynetes.api.patch.json_patch import json_type

_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
_TIME = _META + "Time"
_MICRO_TIME = _META + "MicroTime"
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"

#: Definitions whose Go type takes any JSON (raw bytes kept as they came).
_FREE_FORM = frozenset(
    {
        "io.k8s.apimachinery.pkg.runtime.RawExtension",
        _META + "FieldsV1",
        _META + "Patch",
    }
)

#: Fields upstream's validation reports as ``Required value`` when empty
#: (absent, null, "", 0, [] or {}), per definition, with the detail it adds.
#: Only unconditional checks on fields no defaulter fills are listed: the
#: conditional ones belong with the per-kind rules. Sources: ValidatePodSpec,
#: validateContainerCommon, validateContainerPorts, ValidateEnv,
#: ValidateVolumeMounts, ValidateVolumes and the volume sources, the key
#: selectors (pkg/apis/core/validation), ValidateCronJobSpec,
#: ValidatePersistentVolumeClaimSpec and the rbac validation.
_REQUIRED_WHEN_EMPTY: dict[str, tuple[tuple[str, str], ...]] = {
    "io.k8s.api.core.v1.PodSpec": (("containers", ""),),
    "io.k8s.api.core.v1.Container": (("name", ""), ("image", "")),
    "io.k8s.api.core.v1.EphemeralContainer": (("name", ""), ("image", "")),
    "io.k8s.api.core.v1.ContainerPort": (("containerPort", ""),),
    "io.k8s.api.core.v1.EnvVar": (("name", ""),),
    "io.k8s.api.core.v1.VolumeMount": (("name", ""), ("mountPath", "")),
    "io.k8s.api.core.v1.Volume": (("name", ""),),
    "io.k8s.api.core.v1.KeyToPath": (("key", ""), ("path", "")),
    "io.k8s.api.core.v1.ConfigMapKeySelector": (("key", ""),),
    "io.k8s.api.core.v1.SecretKeySelector": (("key", ""),),
    "io.k8s.api.core.v1.ObjectFieldSelector": (("fieldPath", ""),),
    "io.k8s.api.core.v1.HostPathVolumeSource": (("path", ""),),
    "io.k8s.api.core.v1.SecretVolumeSource": (("secretName", ""),),
    "io.k8s.api.core.v1.ConfigMapVolumeSource": (("name", ""),),
    "io.k8s.api.core.v1.PersistentVolumeClaimVolumeSource": (("claimName", ""),),
    "io.k8s.api.core.v1.NFSVolumeSource": (("server", ""), ("path", "")),
    "io.k8s.api.core.v1.PersistentVolumeClaimSpec": (
        ("accessModes", "at least 1 access mode is required"),
    ),
    "io.k8s.api.batch.v1.CronJobSpec": (("schedule", ""),),
    "io.k8s.api.rbac.v1.PolicyRule": (("verbs", "verbs must contain at least one value"),),
    "io.k8s.api.rbac.v1.RoleRef": (("name", ""),),
    "io.k8s.api.rbac.v1.Subject": (("name", ""),),
}

#: Pointer fields upstream requires to be set at all (an empty one is not
#: "missing": e.g. ``selector: {}`` fails later as an invalid selector).
_REQUIRED_WHEN_ABSENT: dict[str, tuple[str, ...]] = {
    "io.k8s.api.apps.v1.DeploymentSpec": ("selector",),
    "io.k8s.api.apps.v1.ReplicaSetSpec": ("selector",),
    "io.k8s.api.apps.v1.StatefulSetSpec": ("selector",),
    "io.k8s.api.apps.v1.DaemonSetSpec": ("selector",),
}


# ---------------------------------------------------------------------------
# The walk's accumulator


class _Walk:
    """What one validation found: decode errors, required errors, unknown paths.

    Go's decoder keeps the first type error and goes on, but an error raised
    by a custom unmarshaller (IntOrString, Quantity, Time) stops it at once
    and wins; ``fatal`` records that the walk has been stopped that way.
    """

    __slots__ = ("fatal", "missing", "null_items", "type_errors", "unknown")

    def __init__(self) -> None:
        self.type_errors: list[FieldError] = []
        self.missing: list[FieldError] = []
        self.unknown: list[str] = []
        self.fatal = False
        #: Some list holds a ``null`` item.
        self.null_items = False

    def type_error(self, path: str, value: Any, message: str, *, fatal: bool = False) -> None:
        if self.fatal:
            return
        error = FieldError(FieldErrorType.TYPE_INVALID, path, value, message)
        if fatal:
            self.type_errors.insert(0, error)
            self.fatal = True
        else:
            self.type_errors.append(error)


def _number_text(value: int | float) -> str:
    return orjson.dumps(value).decode()


def _unmarshal_message(kind: str, gostruct: str, gofield: str, gotype: str) -> str:
    if gostruct or gofield:
        return (
            f"json: cannot unmarshal {kind} into Go struct field {gostruct}.{gofield}"
            f" of type {gotype}"
        )
    return f"json: cannot unmarshal {kind} into Go value of type {gotype}"


# ---------------------------------------------------------------------------
# Validators: one class per kind of Go type


class _Validator:
    """Checks one value; ``gostruct``/``gofield`` are Go's error context.

    ``gostruct`` is the innermost Go struct being decoded and ``gofield`` the
    dotted JSON field names from the root (no list indices, as Go prints them).
    """

    __slots__ = ("accepts", "gotype")

    #: Python types this validator accepts as they are, with nothing to look
    #: into: the struct walk checks those inline, without a call.
    ACCEPTS: frozenset[type] = frozenset({type(None)})

    def __init__(self, gotype: str) -> None:
        self.gotype = gotype
        self.accepts = self.ACCEPTS

    def check(self, value: Any, path: str, gostruct: str, gofield: str, walk: _Walk) -> None:
        raise NotImplementedError

    def prune(self, value: Any, drop_nulls: bool) -> Any:
        """``value`` without unknown fields (a new container when it is one)."""
        return value

    def missing(self, value: Any, path: str, walk: _Walk) -> None:
        """Only the ``Required value`` part of ``check``: nothing can be required below
        a validator that is not a struct, a list or a map."""

    def mismatch(self, value: Any, path: str, gostruct: str, gofield: str, walk: _Walk) -> None:
        message = _unmarshal_message(json_type(value), gostruct, gofield, self.gotype)
        walk.type_error(path, value, message)


class _Any(_Validator):
    __slots__ = ()
    ACCEPTS = frozenset({type(None), str, int, float, bool, list, dict})

    def check(self, value: Any, path: str, gostruct: str, gofield: str, walk: _Walk) -> None:
        return None


class _String(_Validator):
    __slots__ = ()
    ACCEPTS = frozenset({type(None), str})

    def check(self, value: Any, path: str, gostruct: str, gofield: str, walk: _Walk) -> None:
        if value is not None and type(value) is not str:
            self.mismatch(value, path, gostruct, gofield, walk)


class _Bytes(_Validator):
    """A Go ``[]byte``: a base64 string (Secret data)."""

    __slots__ = ()

    def check(self, value: Any, path: str, gostruct: str, gofield: str, walk: _Walk) -> None:
        if value is None:
            return
        if type(value) is not str:
            self.mismatch(value, path, gostruct, gofield, walk)
            return
        problem = _base64_problem(value)
        if problem is not None:
            walk.type_error(path, value, problem)


def _base64_problem(text: str) -> str | None:
    """Go's base64.StdEncoding error for ``text``, or None if it decodes."""
    data = text.replace("\r", "").replace("\n", "")
    try:
        binascii.a2b_base64(data.encode(), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError):
        return f"illegal base64 data at input byte {_base64_bad_offset(data)}"
    return None


_BASE64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def _base64_bad_offset(data: str) -> int:
    """Roughly where Go's decoder gives up: the first byte outside the alphabet."""
    body = data.rstrip("=")
    for index, char in enumerate(body):
        if char not in _BASE64_ALPHABET:
            return index
    return len(body) - len(body) % 4


class _Integer(_Validator):
    __slots__ = ("high", "low")

    def __init__(self, gotype: str, bits: int) -> None:
        super().__init__(gotype)
        self.low = -(1 << (bits - 1))
        self.high = (1 << (bits - 1)) - 1

    def check(self, value: Any, path: str, gostruct: str, gofield: str, walk: _Walk) -> None:
        if value is None:
            return
        kind = type(value)
        if kind is int:
            if self.low <= value <= self.high:
                return
        elif kind is not float:
            self.mismatch(value, path, gostruct, gofield, walk)
            return
        # Go names the literal when a number does not fit: "number 1.5".
        message = _unmarshal_message(
            "number " + _number_text(value), gostruct, gofield, self.gotype
        )
        walk.type_error(path, value, message)


class _Number(_Validator):
    __slots__ = ()
    ACCEPTS = frozenset({type(None), int, float})

    def check(self, value: Any, path: str, gostruct: str, gofield: str, walk: _Walk) -> None:
        if value is not None and type(value) not in (int, float):
            self.mismatch(value, path, gostruct, gofield, walk)


class _Boolean(_Validator):
    __slots__ = ()
    ACCEPTS = frozenset({type(None), bool})

    def check(self, value: Any, path: str, gostruct: str, gofield: str, walk: _Walk) -> None:
        if value is not None and type(value) is not bool:
            self.mismatch(value, path, gostruct, gofield, walk)


class _IntOrString(_Validator):
    """intstr.IntOrString: a JSON string, or a number decoded as an int32."""

    __slots__ = ()
    ACCEPTS = frozenset({type(None), str})

    def check(self, value: Any, path: str, gostruct: str, gofield: str, walk: _Walk) -> None:
        if value is None or type(value) is str:
            return
        if type(value) is int and -(1 << 31) <= value < (1 << 31):
            return
        kind = json_type(value)
        if kind == "number":
            kind = "number " + _number_text(value)
        # Its UnmarshalJSON decodes into an int32 and returns the error: fatal.
        message = _unmarshal_message(kind, gostruct, gofield, "int32")
        walk.type_error(path, value, message, fatal=True)


_QUANTITY_FORMAT = re.compile(r"([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)")
_QUANTITY_SUFFIXES = frozenset(
    {"", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"}
)
_DECIMAL_EXPONENT = re.compile(r"[eE][-+]?[0-9]+")
_QUANTITY_FORMAT_ERROR = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)


def quantity_problem(text: str) -> str | None:
    """resource.ParseQuantity's error for ``text``, or None if it parses."""
    match = _QUANTITY_FORMAT.fullmatch(text.strip())
    if match is None:
        return _QUANTITY_FORMAT_ERROR
    number, suffix = match.groups()
    if number.count(".") > 1 or number.strip("+-") == ".":
        return "unable to parse numeric part of quantity"
    if suffix not in _QUANTITY_SUFFIXES and _DECIMAL_EXPONENT.fullmatch(suffix) is None:
        return "unable to parse quantity's suffix"
    return None


class _Quantity(_Validator):
    """resource.Quantity: a string or a number, parsed while decoding."""

    __slots__ = ()
    ACCEPTS = frozenset({type(None), int, float})

    def check(self, value: Any, path: str, gostruct: str, gofield: str, walk: _Walk) -> None:
        if value is None or type(value) in (int, float):
            return
        # Its UnmarshalJSON parses the raw text (quotes stripped): fatal.
        text = value if type(value) is str else orjson.dumps(value).decode()
        problem = quantity_problem(text)
        if problem is not None:
            walk.type_error(path, value, problem, fatal=True)


class _Time(_Validator):
    """metav1.Time / MicroTime: a string in the layout Go's time.Parse is given."""

    __slots__ = ("layout",)

    def __init__(self, gotype: str, layout: str) -> None:
        super().__init__(gotype)
        self.layout = layout

    def check(self, value: Any, path: str, gostruct: str, gofield: str, walk: _Walk) -> None:
        if value is None:
            return
        if type(value) is not str:
            # Its UnmarshalJSON first decodes a Go string: fatal.
            message = _unmarshal_message(json_type(value), gostruct, gofield, "string")
            walk.type_error(path, value, message, fatal=True)
            return
        problem = time_problem(value, self.layout)
        if problem is not None:
            walk.type_error(path, value, problem, fatal=True)


class _List(_Validator):
    __slots__ = ("items",)

    def __init__(self, gotype: str, items: _Validator) -> None:
        super().__init__(gotype)
        self.items = items

    def check(self, value: Any, path: str, gostruct: str, gofield: str, walk: _Walk) -> None:
        if value is None:
            return
        if type(value) is not list:
            self.mismatch(value, path, gostruct, gofield, walk)
            return
        items = self.items
        accepts = items.accepts
        for index, item in enumerate(value):
            if type(item) not in accepts:
                items.check(item, f"{path}[{index}]", gostruct, gofield, walk)
        if None in value:
            walk.null_items = True

    def prune(self, value: Any, drop_nulls: bool) -> Any:
        if type(value) is not list:
            return value
        return [self.items.prune(item, drop_nulls) for item in value]

    def missing(self, value: Any, path: str, walk: _Walk) -> None:
        items = self.items
        if type(value) is not list or not _reaches_required(items):
            return
        accepts = items.accepts
        for index, item in enumerate(value):
            if type(item) not in accepts:
                items.missing(item, f"{path}[{index}]", walk)


class _Map(_Validator):
    """A Go map keyed by string (labels, ResourceList, Secret data, ...)."""

    __slots__ = ("values",)

    def __init__(self, gotype: str, values: _Validator) -> None:
        super().__init__(gotype)
        self.values = values

    def check(self, value: Any, path: str, gostruct: str, gofield: str, walk: _Walk) -> None:
        if value is None:
            return
        if type(value) is not dict:
            self.mismatch(value, path, gostruct, gofield, walk)
            return
        values = self.values
        accepts = values.accepts
        prefix = f"{path}." if path else ""
        for key, item in value.items():
            if type(item) not in accepts:
                values.check(item, prefix + key, gostruct, gofield, walk)

    def prune(self, value: Any, drop_nulls: bool) -> Any:
        if type(value) is not dict:
            return value
        values = self.values
        return {key: values.prune(item, drop_nulls) for key, item in value.items()}

    def missing(self, value: Any, path: str, walk: _Walk) -> None:
        values = self.values
        if type(value) is not dict or not _reaches_required(values):
            return
        accepts = values.accepts
        prefix = f"{path}." if path else ""
        for key, item in value.items():
            if type(item) not in accepts:
                values.missing(item, prefix + key, walk)


class _Object(_Validator):
    """A Go struct: known fields, each with its validator.

    ``preserve`` (``x-kubernetes-preserve-unknown-fields``) keeps unknown
    fields without reporting them; ``extra`` validates them when the node
    also has ``additionalProperties``.
    """

    __slots__ = (
        "extra",
        "fields",
        "name",
        "preserve",
        "required_absent",
        "required_below",
        "required_empty",
    )

    def __init__(self, gotype: str, name: str) -> None:
        super().__init__(gotype)
        self.name = name
        self.fields: dict[str, _Validator] = {}
        self.extra: _Validator | None = None
        self.preserve = False
        self.required_empty: tuple[tuple[str, str], ...] = ()
        self.required_absent: tuple[str, ...] = ()
        #: The fields below which something is required (``_reaches_required``).
        self.required_below: dict[str, _Validator] | None = None

    def check(self, value: Any, path: str, gostruct: str, gofield: str, walk: _Walk) -> None:
        if value is None:
            return
        if type(value) is not dict:
            self.mismatch(value, path, gostruct, gofield, walk)
            return
        fields = self.fields
        prefix = f"{path}." if path else ""
        goprefix = f"{gofield}." if gofield else ""
        name = self.name
        for key, item in value.items():
            child = fields.get(key)
            if child is None:
                if self.extra is not None:
                    self.extra.check(item, prefix + key, name, goprefix + key, walk)
                elif not self.preserve:
                    walk.unknown.append(prefix + key)
                continue
            if type(item) not in child.accepts:
                child.check(item, prefix + key, name, goprefix + key, walk)
        self._own_missing(value, prefix, walk)

    def missing(self, value: Any, path: str, walk: _Walk) -> None:
        if type(value) is not dict:
            return
        below = self.required_below
        if below is None:
            _reaches_required(self)
            below = self.required_below or {}
        prefix = f"{path}." if path else ""
        extra = self.extra
        for key, item in value.items():
            child = below.get(key)
            if child is None:
                if extra is not None and key not in self.fields and _reaches_required(extra):
                    extra.missing(item, prefix + key, walk)
            elif type(item) not in child.accepts:
                child.missing(item, prefix + key, walk)
        self._own_missing(value, prefix, walk)

    def _own_missing(self, value: dict[str, Any], prefix: str, walk: _Walk) -> None:
        for key, detail in self.required_empty:
            item = value.get(key)
            if item is None or (not item and item is not False):
                walk.missing.append(required(prefix + key, detail))
        for key in self.required_absent:
            if value.get(key) is None:
                walk.missing.append(required(prefix + key))

    def prune(self, value: Any, drop_nulls: bool) -> Any:
        if type(value) is not dict:
            return value
        fields = self.fields
        pruned: dict[str, Any] = {}
        for key, item in value.items():
            child = fields.get(key)
            if child is None:
                if self.extra is not None:
                    pruned[key] = self.extra.prune(item, drop_nulls)
                elif self.preserve:
                    pruned[key] = item
            elif item is not None:
                pruned[key] = child.prune(item, drop_nulls)
            elif not drop_nulls:
                pruned[key] = None
        return pruned


def _reaches_required(validator: _Validator, visiting: set[int] | None = None) -> bool:
    """Whether a ``Required value`` can be found below ``validator``; structs remember
    which of their fields lead to one (``required_below``), so that the walk of
    ``missing_required`` skips the rest of the object.

    Definitions recurse: a struct met again while its fields are being looked at
    counts as reaching (looked into, never skipped wrongly).
    """
    if isinstance(validator, _List):
        return _reaches_required(validator.items, visiting)
    if isinstance(validator, _Map):
        return _reaches_required(validator.values, visiting)
    if not isinstance(validator, _Object):
        return False
    if validator.required_below is not None:
        return bool(
            validator.required_below or validator.required_empty or validator.required_absent
        )
    visiting = set() if visiting is None else visiting
    if id(validator) in visiting:
        return True
    visiting.add(id(validator))
    below = {
        key: child for key, child in validator.fields.items() if _reaches_required(child, visiting)
    }
    visiting.discard(id(validator))
    validator.required_below = below
    return bool(below or validator.required_empty or validator.required_absent)


# ---------------------------------------------------------------------------
# Compiling schema nodes into validators

_BY_DEFINITION: dict[str, _Validator] = {}
_BY_NODE: dict[int, tuple[schema.Node, _Validator]] = {}


def _go_name(definition: str) -> str:
    """``io.k8s.api.core.v1.Container`` -> ``v1.Container`` (Go's %v of the type)."""
    package, _, name = definition.rpartition(".")
    return f"{package.rpartition('.')[2]}.{name}"


def _definition_validator(name: str) -> _Validator:
    found = _BY_DEFINITION.get(name)
    if found is not None:
        return found
    if name in (_TIME, _MICRO_TIME):
        layout = _RFC3339 if name == _TIME else _RFC3339_MICRO
        found = _Time(_go_name(name), layout)
    elif name == _INT_OR_STRING:
        found = _IntOrString(_go_name(name))
    elif name == _QUANTITY:
        found = _Quantity(_go_name(name))
    elif name in _FREE_FORM:
        found = _Any(_go_name(name))
    else:
        node = schema.definition(name)
        if "object" in schema.types(node) and _has_fields(node):
            # Registered before its fields are compiled: definitions recurse.
            struct = _Object(_go_name(name), name.rpartition(".")[2])
            _BY_DEFINITION[name] = struct
            _fill_object(struct, node)
            struct.required_empty = _REQUIRED_WHEN_EMPTY.get(name, ())
            struct.required_absent = _REQUIRED_WHEN_ABSENT.get(name, ())
            return struct
        found = _compile(node, _go_name(name))
    _BY_DEFINITION[name] = found
    return found


def _has_fields(node: schema.Node) -> bool:
    """A struct, as opposed to a map or a free-form object."""
    return "properties" in node or not isinstance(node.get("additionalProperties"), dict)


def _fill_object(struct: _Object, node: schema.Node) -> None:
    for key, child in node.get("properties", {}).items():
        struct.fields[key] = _child_validator(child)
    additional = node.get("additionalProperties")
    if isinstance(additional, dict):
        struct.extra = _child_validator(additional)
    struct.preserve = bool(node.get("x-kubernetes-preserve-unknown-fields"))


def _child_validator(node: schema.Node) -> _Validator:
    name = schema.ref_name(node)
    return _definition_validator(name) if name is not None else _compile(node, "")


def _compile(node: schema.Node, gotype: str) -> _Validator:
    """The validator of an inline node (``gotype`` names it when it is a definition)."""
    if node.get("x-kubernetes-int-or-string"):
        return _IntOrString("intstr.IntOrString")
    declared = schema.types(node)
    if len(declared) != 1:
        return _Any(gotype or "interface {}")
    (kind,) = declared
    if kind == "object":
        return _compile_object(node, gotype)
    if kind == "array":
        items = node.get("items")
        item = _child_validator(items) if isinstance(items, dict) else _Any("interface {}")
        return _List(gotype or f"[]{item.gotype}", item)
    return _scalar(kind, node.get("format"), gotype)


def _compile_object(node: schema.Node, gotype: str) -> _Validator:
    additional = node.get("additionalProperties")
    if "properties" not in node and isinstance(additional, dict):
        values = _child_validator(additional)
        if not gotype:
            is_resources = type(values) is _Quantity
            gotype = "v1.ResourceList" if is_resources else f"map[string]{values.gotype}"
        return _Map(gotype, values)
    if "properties" not in node and node.get("x-kubernetes-preserve-unknown-fields"):
        return _Any(gotype or "interface {}")
    struct = _Object(gotype or "struct", "")
    _fill_object(struct, node)
    return struct


_INTEGER_BITS = {"int32": 32, "int64": 64}


def _scalar(kind: str, fmt: str | None, gotype: str) -> _Validator:
    if kind == "string":
        return _Bytes("[]uint8") if fmt == "byte" else _String(gotype or "string")
    if kind == "integer":
        bits = _INTEGER_BITS.get(fmt or "", 64)
        return _Integer(gotype or (fmt if fmt in _INTEGER_BITS else "int64"), bits)
    if kind == "number":
        return _Number(gotype or "float64")
    if kind == "boolean":
        return _Boolean(gotype or "bool")
    return _Any(gotype or "interface {}")


def _validator(node: schema.Node) -> _Validator:
    """The compiled validator of any node: a definition, a ``$ref`` or an inline one."""
    name = schema.ref_name(node)
    if name is not None:
        return _definition_validator(name)
    found = _BY_NODE.get(id(node))
    if found is None:
        # The node is kept alongside so that its id is never reused.
        found = (node, _compile(node, ""))
        _BY_NODE[id(node)] = found
    return found[1]


def kind_node(group: str, version: str, kind: str) -> schema.Node:
    """The schema node of a built-in kind, to pass to the functions below.

    Raises KeyError for a kind upstream does not define.
    """
    name = schema.definition_name(group, version, kind)
    if name is None:
        raise KeyError(f"{group}/{version}, Kind={kind}")
    return {"$ref": f"#/$defs/{name}"}


# ---------------------------------------------------------------------------
# The public API


def validate_structure(
    obj: Any, node: schema.Node, *, path: str = ""
) -> tuple[list[FieldError], list[str]]:
    """Check ``obj`` against ``node``: (errors, unknown field paths).

    ``errors`` holds, first, the decode errors (type ``TYPE_INVALID``, with
    upstream's decoder message as ``detail``; the first one is the one Go
    reports: see :func:`decode_error`), then the ``Required value`` errors
    upstream's validation gives (report them, with the other validation
    errors, as a 422 only when there is no decode error). Unknown paths are
    in document order, e.g. ``spec.containers[0].imagePullPolcy``.

    ``path`` prefixes every reported path (for a node below the root).
    """
    report = check_structure(obj, node, path=path)
    return report.errors, report.unknown


class StructureReport(NamedTuple):
    """What :func:`check_structure` found."""

    #: As :func:`validate_structure` returns them.
    errors: list[FieldError]
    #: Unknown field paths, in document order.
    unknown: list[str]
    #: Whether some list holds a ``null`` item (which Go decodes as a zero value).
    null_items: bool


def check_structure(obj: Any, node: schema.Node, *, path: str = "") -> StructureReport:
    """:func:`validate_structure`, and whether a list holds ``null`` items: the
    decoder then zeroes them, and has no walk to make when none does."""
    walk = _Walk()
    _validator(node).check(obj, path, "", "", walk)
    return StructureReport(walk.type_errors + walk.missing, walk.unknown, walk.null_items)


def missing_required(obj: Any, node: schema.Node) -> list[FieldError]:
    """The ``Required value`` errors of ``validate_structure``, in the same order,
    from a walk of only the parts of ``obj`` where something can be required
    (an object already decoded has no type errors left to find)."""
    walk = _Walk()
    _validator(node).missing(obj, "", walk)
    return walk.missing


def prune_unknown(obj: Any, node: schema.Node, *, drop_nulls: bool = True) -> Any:
    """A copy of ``obj`` without the fields ``node`` does not know.

    Upstream decodes into Go structs, so what it stores has no unknown
    fields (fieldValidation Ignore and Warn), and a ``null`` field comes back
    absent (``drop_nulls``; free-form values keep theirs). The input is not
    modified; containers are new, scalars shared.
    """
    return _validator(node).prune(obj, drop_nulls)


def decode_error(kind: str, version: str, errors: Sequence[FieldError]) -> ApiError | None:
    """The 400 upstream answers for the decode errors among ``errors``, if any.

    ``Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal
    ...`` (``kind``/``version`` as the body names them).
    """
    for error in errors:
        if error.type is FieldErrorType.TYPE_INVALID:
            return cannot_be_handled(kind, version, kind, error.detail)
    return None


def cannot_be_handled(kind: str, version: str, into: str, reason: str) -> ApiError:
    """upstream's transformDecodeError: the body's kind and version (not group), the URL's kind."""
    return bad_request(f'{kind} in version "{version}" cannot be handled as a {into}: {reason}')


def strict_errors(unknown: Sequence[str], duplicates: Sequence[str] = ()) -> list[str]:
    """Upstream's strict decoding messages: ``unknown field "spec.foo"``, ...

    Deduplicated and capped at 100, as the decoder does; these are also the
    texts of the ``Warning`` headers under ``fieldValidation=Warn``.
    """
    messages = [f'duplicate field "{path}"' for path in duplicates]
    messages += [f'unknown field "{path}"' for path in unknown]
    return list(dict.fromkeys(messages))[:100]


def strict_decoding_error(
    kind: str, version: str, unknown: Sequence[str], duplicates: Sequence[str] = ()
) -> ApiError:
    """400 for ``fieldValidation=Strict``: ``... strict decoding error: unknown field "x", ...``."""
    reason = "strict decoding error: " + ", ".join(strict_errors(unknown, duplicates))
    return cannot_be_handled(kind, version, kind, reason)


# ---------------------------------------------------------------------------
# Duplicate fields: orjson keeps the last value silently, so they are looked
# for in the raw body. A cheap test first: the ``":`` marks that end keys,
# counted in the body and in orjson's re-encoding of what it decoded, differ
# only when a key was dropped (or when the body puts blanks before colons:
# then the exact second parse runs for nothing).


def find_duplicate_fields(body: bytes, decoded: Any) -> list[str]:
    """Paths of the fields ``body`` repeats within one object (``metadata.name``).

    ``decoded`` is ``body`` as orjson decoded it. Most bodies cost two byte
    counts; only a body whose counts differ is parsed again, with the stdlib
    parser, which sees every key.
    """
    if _key_marks(body) == _key_marks(orjson.dumps(decoded)):
        return []
    tree = json.loads(body, object_pairs_hook=_PairsObject)
    return list(_duplicate_paths(tree, ""))


def _key_marks(data: bytes) -> int:
    """How many keys a JSON text has, counting ``":`` not escaped inside a string."""
    return data.count(b'":') - data.count(b'\\":')


class _PairsObject(dict):  # type: ignore[type-arg]
    """A decoded JSON object that remembers which of its keys came twice."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        seen: set[str] = set()
        self.repeated = [key for key, _ in pairs if key in seen or seen.add(key)]


def _duplicate_paths(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, _PairsObject):
        prefix = f"{path}." if path else ""
        for key in value.repeated:
            yield prefix + key
        for key, item in value.items():
            yield from _duplicate_paths(item, prefix + key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _duplicate_paths(item, f"{path}[{index}]")


# ---------------------------------------------------------------------------
# Go's time.Parse, for the two layouts the API uses, with its error texts.

_RFC3339 = "2006-01-02T15:04:05Z07:00"
_RFC3339_MICRO = "2006-01-02T15:04:05.000000Z07:00"


class _TimeError(Exception):
    pass


_DATE_TIME = r"\d{4}-(?:0[1-9]|1[0-2])-(?P<day>[0-3]\d)T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d"
_ZONE = r"(?:Z|[+-]\d\d:\d\d)"
#: The usual spelling of a valid time, recognised without the element walk.
_PLAIN_TIME = {
    _RFC3339: re.compile(_DATE_TIME + r"(?:\.\d+)?" + _ZONE),
    _RFC3339_MICRO: re.compile(_DATE_TIME + r"\.\d{6}" + _ZONE),
}


def time_problem(value: str, layout: str) -> str | None:
    """Go's ``time.Parse(layout, value)`` error text, or None if it parses."""
    plain = _PLAIN_TIME[layout].fullmatch(value)
    if plain is not None and "01" <= plain["day"] <= "28":
        return None
    try:
        _parse_time(value, layout)
    except _TimeError as error:
        return str(error)
    return None


def _cannot_parse(value: str, layout: str, rest: str, element: str) -> _TimeError:
    return _TimeError(
        f"parsing time {_go_quote(value)} as {_go_quote(layout)}: cannot parse"
        f" {_go_quote(rest)} as {_go_quote(element)}"
    )


def _out_of_range(value: str, what: str) -> _TimeError:
    return _TimeError(f"parsing time {_go_quote(value)}: {what} out of range")


def _go_quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _digits(text: str, count: int) -> int | None:
    head = text[:count]
    return int(head) if len(head) == count and head.isascii() and head.isdigit() else None


def _parse_time(value: str, layout: str) -> None:
    """Walk the layout's elements as Go's parser does; raise its error."""
    rest = value
    numbers: dict[str, int] = {}
    for literal, element, width in _time_elements(layout):
        if not rest.startswith(literal):
            raise _cannot_parse(value, layout, rest, literal)
        rest = rest[len(literal) :]
        if element == "Z07:00":
            rest = _skip_zone(value, layout, rest)
            continue
        if element.startswith("."):
            if len(rest) < width or rest[0] != "." or _digits(rest[1:], width - 1) is None:
                raise _cannot_parse(value, layout, rest, element)
            rest = rest[width:]
            continue
        number, taken = _time_number(rest, element)
        if number is None:
            raise _cannot_parse(value, layout, rest, element)
        _check_range(value, element, number)
        numbers[element] = number
        rest = rest[taken:]
        if element == "05" and layout == _RFC3339:
            rest = _skip_fraction(rest)
    if rest:
        raise _TimeError(f"parsing time {_go_quote(value)}: extra text: {_go_quote(rest)}")
    year, month, day = numbers["2006"], numbers["01"], numbers["02"]
    # Year 0 is a leap year, as 2000 is.
    if not 1 <= day <= calendar.monthrange(year or 2000, month)[1]:
        raise _out_of_range(value, "day")


#: Element -> (what Go calls it, lowest, highest); days are checked at the end.
_TIME_RANGES = {"01": ("month", 1, 12), "15": ("hour", 0, 23), "04": ("minute", 0, 59)}
_TIME_RANGES["05"] = ("second", 0, 59)


def _check_range(value: str, element: str, number: int) -> None:
    bounds = _TIME_RANGES.get(element)
    if bounds is not None and not bounds[1] <= number <= bounds[2]:
        raise _out_of_range(value, bounds[0])


def _time_elements(layout: str) -> list[tuple[str, str, int]]:
    """(literal before, element, width) of the two layouts."""
    elements = [("", "2006", 4), ("-", "01", 2), ("-", "02", 2), ("T", "15", 2)]
    elements += [(":", "04", 2), (":", "05", 2)]
    if layout == _RFC3339_MICRO:
        elements.append(("", ".000000", 7))
    elements.append(("", "Z07:00", 6))
    return elements


def _time_number(rest: str, element: str) -> tuple[int | None, int]:
    """A year (4 digits), an hour (1 or 2 digits) or a 2-digit number."""
    if element == "2006":
        return _digits(rest, 4), 4
    two = _digits(rest, 2)
    if two is not None:
        return two, 2
    if element == "15":
        return _digits(rest, 1), 1
    return None, 0


def _skip_fraction(rest: str) -> str:
    """RFC 3339 without fraction in the layout still takes ``.123`` after seconds."""
    if len(rest) >= 2 and rest[0] in ".," and rest[1].isdigit():
        end = 2
        while end < len(rest) and rest[end].isdigit():
            end += 1
        return rest[end:]
    return rest


def _skip_zone(value: str, layout: str, rest: str) -> str:
    if rest.startswith("Z"):
        return rest[1:]
    ok = len(rest) >= 6 and rest[0] in "+-" and rest[3] == ":"
    if not ok or _digits(rest[1:], 2) is None or _digits(rest[4:], 2) is None:
        raise _cannot_parse(value, layout, rest, "Z07:00")
    return rest[6:]
