"""Resource quantities (``100m``, ``1Gi``, ``1e3``) as upstream's ``resource.Quantity``.

A :class:`Quantity` holds the exact value (a :class:`~decimal.Decimal`), the
format its suffix chose (decimal SI, binary SI or decimal exponent) and, as
upstream does, the text it was parsed from when that text is already in
canonical form. ``str(quantity)`` is what upstream serializes: the kept text,
or the canonical form (``1000m`` -> ``1``, ``0.5`` -> ``500m``, ``1024Mi`` ->
``1Gi``, ``1.5Gi`` -> ``1536Mi``). The server stores that form for every
quantity it decodes, so a pod read back shows what ``kubectl`` would show.

Parsing follows upstream's hand-written parser rather than the regular
expression its error message quotes: it accepts what upstream accepts
(``.``, ``+``, ``1.``) and fails with upstream's three messages. Values with
more than nine decimals are rounded away from zero to nanounits; binary-SI
values are capped at the largest int64, as upstream does.
"""

from __future__ import annotations

import decimal
import enum
import functools
from decimal import Decimal
from typing import Any

_SPLIT_RE = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
FORMAT_ERROR = f"quantities must match the regular expression '{_SPLIT_RE}'"
NUMERIC_ERROR = "unable to parse numeric part of quantity"
SUFFIX_ERROR = "unable to parse quantity's suffix"

_DIGITS = frozenset("0123456789")
_SUFFIX_CHARACTERS = frozenset("eEinumkKMGTP")
#: Go's unicode.IsSpace, which upstream's JSON decoding trims (Python's strip() differs).
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B)))
_GO_SPACE += "\u2028\u2029\u202f\u205f\u3000"
_MAX_INT64 = (1 << 63) - 1
_NANO = -9
#: Room for any exact value a quantity string can denote: no silent rounding.
_CONTEXT = decimal.Context(
    prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN, traps=[]
)


class QuantityError(ValueError):
    """A string that is not a quantity; the message is upstream's."""


class Format(enum.Enum):
    """How a quantity prints: upstream's resource.Format."""

    DECIMAL_EXPONENT = "DecimalExponent"
    BINARY_SI = "BinarySI"
    DECIMAL_SI = "DecimalSI"


_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12}
_DECIMAL_SUFFIXES |= {"P": 15, "E": 18}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_BY_EXPONENT = {exponent: suffix for suffix, exponent in _DECIMAL_SUFFIXES.items()}
_BINARY_BY_EXPONENT = {exponent: suffix for suffix, exponent in _BINARY_SUFFIXES.items()}


@functools.total_ordering
class Quantity:
    """An exact quantity; compares by value, prints as upstream serializes it."""

    __slots__ = ("_text", "amount", "format")

    def __init__(self, amount: Decimal, format: Format, text: str | None = None) -> None:
        self.amount = amount
        self.format = format
        self._text = text

    def __str__(self) -> str:
        return self._text if self._text is not None else _canonical(self.amount, self.format)

    def __repr__(self) -> str:
        return f"Quantity({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self.amount == other.amount

    def __lt__(self, other: Quantity) -> bool:
        return self.amount < other.amount

    def __hash__(self) -> int:
        return hash(self.amount)

    def scaled_value(self, scale: int) -> int:
        """The value in units of 10**scale, rounded away from zero (upstream ScaledValue).

        Saturates at the int64 bounds: upstream's int64 overflows there, and an
        exact answer for ``1e999999999`` would not fit in memory.
        """
        scaled = self.amount.scaleb(-scale, _CONTEXT)
        if scaled.adjusted() >= 19:
            return _MAX_INT64 if scaled > 0 else -_MAX_INT64 - 1
        whole = int(scaled.to_integral_value(rounding=decimal.ROUND_UP, context=_CONTEXT))
        return max(min(whole, _MAX_INT64), -_MAX_INT64 - 1)

    def value(self) -> int:
        """upstream Value(): whole units, rounded away from zero."""
        return self.scaled_value(0)

    def milli_value(self) -> int:
        """upstream MilliValue(): thousandths, rounded away from zero."""
        return self.scaled_value(-3)


def parse_quantity(text: str) -> Quantity:
    """Parse a quantity string exactly as upstream's ParseQuantity.

    Raises :class:`QuantityError` (a ValueError) with upstream's message, and
    nothing else, whatever the input.
    """
    if not text:
        raise QuantityError(FORMAT_ERROR)
    if text == "0":
        return Quantity(Decimal(0), Format.DECIMAL_SI, text)
    positive, number, whole, fraction, suffix = _split(text)
    base, exponent, format = _interpret(suffix)
    fast = _parse_small(text, positive, whole, fraction, base, exponent, format)
    if fast is not None:
        return fast
    return _parse_exact(number, base, exponent, format)


def parse_json_quantity(value: Any) -> Quantity:
    """A quantity as it arrives in a decoded JSON object (upstream UnmarshalJSON).

    Strings are trimmed of surrounding whitespace; JSON numbers are read from
    their text (a float's shortest repr, so ``1e3`` sent as a number prints
    as ``1k`` where upstream, which keeps the raw bytes, prints ``1e3``);
    ``null`` is zero.
    """
    if value is None:
        return Quantity(Decimal(0), Format.DECIMAL_SI)
    if isinstance(value, bool):
        return parse_quantity("true" if value else "false")
    if isinstance(value, int | float):
        return parse_quantity(repr(value))
    if isinstance(value, str):
        return parse_quantity(value.strip(_GO_SPACE))
    raise QuantityError(FORMAT_ERROR)


def canonical_quantity(value: Any) -> str:
    """The string upstream stores for a decoded quantity value (see parse_json_quantity)."""
    return str(parse_json_quantity(value))


def _split(text: str) -> tuple[bool, str, str, str, str]:
    """upstream parseQuantityString: (positive, number text, whole digits, fraction, suffix)."""
    end = len(text)
    position = 0
    positive = True
    if text[0] in "+-":
        positive = text[0] == "+"
        position = 1
    while position < end and text[position] == "0":
        position += 1
    if position >= end:
        return positive, "0", "0", "", ""
    start = position
    while position < end and text[position] in _DIGITS:
        position += 1
    if position >= end:
        return positive, text, text[start:], "", ""
    whole = text[start:position] or "0"
    fraction = ""
    if text[position] == ".":
        position += 1
        start = position
        while position < end and text[position] in _DIGITS:
            position += 1
        if position >= end:
            return positive, text, whole, text[start:], ""
        fraction = text[start:position]
    number = text[:position]
    suffix_start = position
    while position < end and text[position] in _SUFFIX_CHARACTERS:
        position += 1
    if position < end and text[position] in "+-":
        position += 1
    while position < end and text[position] in _DIGITS:
        position += 1
    if position < end:
        raise QuantityError(FORMAT_ERROR)
    return positive, number, whole, fraction, text[suffix_start:]


def _interpret(suffix: str) -> tuple[int, int, Format]:
    """(base, exponent, format) of a suffix, as upstream's suffixer."""
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix], Format.DECIMAL_SI
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix], Format.BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE":
        exponent = _parse_int64(suffix[1:])
        if exponent is None:
            raise QuantityError(SUFFIX_ERROR)
        return 10, _wrap_int32(exponent), Format.DECIMAL_EXPONENT
    raise QuantityError(SUFFIX_ERROR)


def _parse_int64(text: str) -> int | None:
    """Go's strconv.ParseInt(text, 10, 64): optional sign, ASCII digits, in range."""
    digits = text[1:] if text[:1] in ("+", "-") else text
    if not digits or not set(digits) <= _DIGITS:
        return None
    value = int(text)
    return value if -_MAX_INT64 - 1 <= value <= _MAX_INT64 else None


def _wrap_int32(value: int) -> int:
    """Go's int32 arithmetic, which upstream's exponents and scales wrap around in."""
    return (value + (1 << 31)) % (1 << 32) - (1 << 31)


def _parse_small(
    text: str,
    positive: bool,
    whole: str,
    fraction: str,
    base: int,
    exponent: int,
    format: Format,
) -> Quantity | None:
    """upstream's int64 fast path, which also decides whether the input text is kept."""
    if base == 10:
        scale = exponent
        precision = 18 - len(whole) - len(fraction)
        multiplier = 1
    elif fraction:
        return None
    else:
        scale = 0
        precision = 15 - len(whole) - exponent * 3 // 10 - 1
        multiplier = 1 << exponent
    if precision < 0:
        return None
    scale = _wrap_int32(scale - len(fraction))
    if scale < _NANO:
        return None
    shifted = whole + fraction
    magnitude = int(shifted) * multiplier
    if magnitude > _MAX_INT64:
        return None
    value = Decimal(magnitude if positive else -magnitude).scaleb(scale, _CONTEXT)
    if format is Format.BINARY_SI:
        keep = exponent % 10 == 0 and int(shifted) & 0x07 != 0
    else:
        keep = scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0"
    return Quantity(value, format, text if keep else None)


def _parse_exact(number: str, base: int, exponent: int, format: Format) -> Quantity:
    """upstream's arbitrary-precision path: nanounit rounding and the binary-SI cap."""
    try:
        amount = Decimal(number)
    except decimal.InvalidOperation:
        raise QuantityError(NUMERIC_ERROR) from None
    negative, digits, scale = amount.as_tuple()
    if base == 10:
        # inf.Dec keeps its scale in an int32 and upstream adds to it unchecked.
        amount = Decimal((0, digits, -_wrap_int32(_wrap_int32(-exponent) - int(scale))))
    else:
        amount = _CONTEXT.multiply(abs(amount), Decimal(1 << exponent))
    if amount.as_tuple().exponent < _NANO:
        amount = amount.quantize(Decimal(1).scaleb(_NANO), decimal.ROUND_UP, _CONTEXT)
    if format is Format.BINARY_SI and amount > _MAX_INT64:
        amount = Decimal(_MAX_INT64)
    if format is Format.BINARY_SI and 0 < amount < 1:
        format = Format.DECIMAL_SI
    if amount == 0:
        return Quantity(Decimal(0), format)
    return Quantity(-amount if negative else amount, format)


def _canonical(value: Decimal, format: Format) -> str:
    """upstream CanonicalizeBytes: the shortest mantissa with the suffix the format allows."""
    if value == 0:
        return "0"
    if format is Format.BINARY_SI:
        if -1024 < value < 1024 or value != value.to_integral_value(context=_CONTEXT):
            format = Format.DECIMAL_SI
        else:
            return _canonical_binary(int(value))
    sign, digits, exponent = value.as_tuple()
    mantissa = int("".join(map(str, digits)))
    while mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    remainder = exponent % 3
    mantissa *= 10**remainder
    exponent -= remainder
    if format is Format.DECIMAL_SI:
        suffix = _DECIMAL_BY_EXPONENT.get(exponent, "")
    else:
        suffix = f"e{exponent}" if exponent else ""
    return ("-" if sign else "") + str(mantissa) + suffix


def _canonical_binary(value: int) -> str:
    magnitude = abs(value)
    power = 0
    while magnitude % 1024 == 0:
        magnitude //= 1024
        power += 10
    return ("-" if value < 0 else "") + str(magnitude) + _BINARY_BY_EXPONENT.get(power, "")
