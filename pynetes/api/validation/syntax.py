"""The syntax of names, labels, ports and addresses, worded as upstream words it.

These are apimachinery's ``util/validation`` helpers. The ``is_*`` string
checks return upstream's messages (an empty list when the value is good),
because callers attach them to different fields: ``metadata.name``, a label
key, a port name. The address checks return :class:`FieldError` lists, as
upstream's do.

Lengths are counted in UTF-8 bytes and patterns match the whole string,
as Go's ``len`` and anchored regular expressions do.
"""

from __future__ import annotations

import ipaddress
import re

from pynetes.api.errors import FieldError, invalid, required

_QUALIFIED_NAME_FORMAT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QUALIFIED_NAME_MESSAGE = (
    "must consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_QUALIFIED_NAME_MAX_LENGTH = 63
_LABEL_VALUE_FORMAT = f"({_QUALIFIED_NAME_FORMAT})?"
_LABEL_VALUE_MESSAGE = (
    "a valid label must be an empty string or consist of alphanumeric characters, "
    "'-', '_' or '.', and must start and end with an alphanumeric character"
)
LABEL_VALUE_MAX_LENGTH = 63
_DNS1123_LABEL_FORMAT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
DNS1123_LABEL_MAX_LENGTH = 63
_DNS1123_SUBDOMAIN_FORMAT = f"{_DNS1123_LABEL_FORMAT}(\\.{_DNS1123_LABEL_FORMAT})*"
_DNS1123_SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character"
)
DNS1123_SUBDOMAIN_MAX_LENGTH = 253
_WILDCARD_DNS1123_SUBDOMAIN_FORMAT = f"\\*\\.{_DNS1123_SUBDOMAIN_FORMAT}"
_WILDCARD_DNS1123_SUBDOMAIN_MESSAGE = (
    "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, "
    "which must consist of lower case alphanumeric characters, '-' or '.' and end with an "
    "alphanumeric character"
)
_DNS1035_LABEL_FORMAT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_DNS1035_LABEL_MESSAGE = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
    "start with an alphabetic character, and end with an alphanumeric character"
)
DNS1035_LABEL_MAX_LENGTH = 63
_ENV_VAR_NAME_FORMAT = "[-._a-zA-Z][-._a-zA-Z0-9]*"
_ENV_VAR_NAME_MESSAGE = (
    "a valid environment variable name must consist of alphabetic characters, digits, "
    "'_', '-', or '.', and must not start with a digit"
)
_CONFIG_MAP_KEY_FORMAT = "[-._a-zA-Z0-9]+"
_CONFIG_MAP_KEY_MESSAGE = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
)
_PERCENT_FORMAT = "[0-9]+%"
_PERCENT_MESSAGE = "a valid percent string must be a numeric string followed by an ending '%'"
_HTTP_HEADER_NAME_FORMAT = "[-A-Za-z0-9]+"
_HTTP_HEADER_NAME_MESSAGE = "a valid HTTP header must consist of alphanumeric characters or '-'"

_QUALIFIED_NAME = re.compile(_QUALIFIED_NAME_FORMAT)
_LABEL_VALUE = re.compile(_LABEL_VALUE_FORMAT)
_DNS1123_LABEL = re.compile(_DNS1123_LABEL_FORMAT)
_DNS1123_SUBDOMAIN = re.compile(_DNS1123_SUBDOMAIN_FORMAT)
_WILDCARD_DNS1123_SUBDOMAIN = re.compile(_WILDCARD_DNS1123_SUBDOMAIN_FORMAT)
_DNS1035_LABEL = re.compile(_DNS1035_LABEL_FORMAT)
_ENV_VAR_NAME = re.compile(_ENV_VAR_NAME_FORMAT)
_CONFIG_MAP_KEY = re.compile(_CONFIG_MAP_KEY_FORMAT)
_PERCENT = re.compile(_PERCENT_FORMAT)
_HTTP_HEADER_NAME = re.compile(_HTTP_HEADER_NAME_FORMAT)
_PORT_NAME_CHARACTERS = re.compile("[-a-z0-9]+")
_ONE_LETTER = re.compile("[a-z]")
_DECIMAL = re.compile("[0-9]+")


def byte_length(value: str) -> int:
    """Go's len(): UTF-8 bytes."""
    return len(value.encode("utf-8", "surrogatepass"))


def max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def empty_error() -> str:
    return "must be non-empty"


def inclusive_range_error(low: int, high: int) -> str:
    return f"must be between {low} and {high}, inclusive"


def regex_error(message: str, pattern: str, *examples: str) -> str:
    """upstream RegexError: the message, examples, and the pattern used."""
    if not examples:
        return f"{message} (regex used for validation is '{pattern}')"
    shown = " or ".join(f"'{example}', " for example in examples)
    return f"{message} (e.g. {shown}regex used for validation is '{pattern}')"


def _matches(pattern: re.Pattern[str], value: str) -> bool:
    return pattern.fullmatch(value) is not None


def is_qualified_name(value: str) -> list[str]:
    """A label key, annotation key or finalizer: ``[prefix/]name``."""
    errors: list[str] = []
    parts = value.split("/")
    if len(parts) > 2:
        return [
            "a qualified name "
            + regex_error(
                _QUALIFIED_NAME_MESSAGE, _QUALIFIED_NAME_FORMAT, "MyName", "my.name", "123-abc"
            )
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errors.append("prefix part " + empty_error())
        else:
            errors.extend("prefix part " + message for message in is_dns1123_subdomain(prefix))
    if not name:
        errors.append("name part " + empty_error())
    elif byte_length(name) > _QUALIFIED_NAME_MAX_LENGTH:
        errors.append("name part " + max_len_error(_QUALIFIED_NAME_MAX_LENGTH))
    if not _matches(_QUALIFIED_NAME, name):
        errors.append(
            "name part "
            + regex_error(
                _QUALIFIED_NAME_MESSAGE, _QUALIFIED_NAME_FORMAT, "MyName", "my.name", "123-abc"
            )
        )
    return errors


def is_valid_label_value(value: str) -> list[str]:
    errors: list[str] = []
    if byte_length(value) > LABEL_VALUE_MAX_LENGTH:
        errors.append(max_len_error(LABEL_VALUE_MAX_LENGTH))
    if not _matches(_LABEL_VALUE, value):
        errors.append(
            regex_error(_LABEL_VALUE_MESSAGE, _LABEL_VALUE_FORMAT, "MyValue", "my_value", "12345")
        )
    return errors


def is_dns1123_label(value: str) -> list[str]:
    errors: list[str] = []
    if byte_length(value) > DNS1123_LABEL_MAX_LENGTH:
        errors.append(max_len_error(DNS1123_LABEL_MAX_LENGTH))
    if not _matches(_DNS1123_LABEL, value):
        if _matches(_DNS1123_SUBDOMAIN, value):
            errors.append("must not contain dots")
        else:
            errors.append(
                regex_error(_DNS1123_LABEL_MESSAGE, _DNS1123_LABEL_FORMAT, "my-name", "123-abc")
            )
    return errors


def is_dns1123_subdomain(value: str) -> list[str]:
    errors: list[str] = []
    if byte_length(value) > DNS1123_SUBDOMAIN_MAX_LENGTH:
        errors.append(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH))
    if not _matches(_DNS1123_SUBDOMAIN, value):
        errors.append(
            regex_error(_DNS1123_SUBDOMAIN_MESSAGE, _DNS1123_SUBDOMAIN_FORMAT, "example.com")
        )
    return errors


def is_wildcard_dns1123_subdomain(value: str) -> list[str]:
    """``*.`` then a DNS-1123 subdomain (an Ingress's wildcard host)."""
    errors = []
    if byte_length(value) > DNS1123_SUBDOMAIN_MAX_LENGTH:
        errors.append(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH))
    if not _matches(_WILDCARD_DNS1123_SUBDOMAIN, value):
        errors.append(
            regex_error(
                _WILDCARD_DNS1123_SUBDOMAIN_MESSAGE,
                _WILDCARD_DNS1123_SUBDOMAIN_FORMAT,
                "*.example.com",
            )
        )
    return errors


def is_dns1035_label(value: str) -> list[str]:
    errors: list[str] = []
    if byte_length(value) > DNS1035_LABEL_MAX_LENGTH:
        errors.append(max_len_error(DNS1035_LABEL_MAX_LENGTH))
    if not _matches(_DNS1035_LABEL, value):
        errors.append(
            regex_error(_DNS1035_LABEL_MESSAGE, _DNS1035_LABEL_FORMAT, "my-name", "abc-123")
        )
    return errors


def is_env_var_name(value: str) -> list[str]:
    """Environment variable names (1.31 uses this, not IsCIdentifier, nor the relaxed rule)."""
    errors: list[str] = []
    if not _matches(_ENV_VAR_NAME, value):
        errors.append(
            regex_error(
                _ENV_VAR_NAME_MESSAGE,
                _ENV_VAR_NAME_FORMAT,
                "my.env-name",
                "MY_ENV.NAME",
                "MyEnvName1",
            )
        )
    return errors + _chdir_prefix_errors(value)


def is_config_map_key(value: str) -> list[str]:
    """Keys of ConfigMap and Secret data."""
    errors: list[str] = []
    if byte_length(value) > DNS1123_SUBDOMAIN_MAX_LENGTH:
        errors.append(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH))
    if not _matches(_CONFIG_MAP_KEY, value):
        errors.append(
            regex_error(
                _CONFIG_MAP_KEY_MESSAGE, _CONFIG_MAP_KEY_FORMAT, "key.name", "KEY_NAME", "key-name"
            )
        )
    return errors + _chdir_prefix_errors(value)


def _chdir_prefix_errors(value: str) -> list[str]:
    if value == ".":
        return ["must not be '.'"]
    if value == "..":
        return ["must not be '..'"]
    if value.startswith(".."):
        return ["must not start with '..'"]
    return []


def is_valid_port_num(port: int) -> list[str]:
    return [] if 1 <= port <= 65535 else [inclusive_range_error(1, 65535)]


def is_in_range(value: int, low: int, high: int) -> list[str]:
    return [] if low <= value <= high else [inclusive_range_error(low, high)]


def is_valid_port_name(port: str) -> list[str]:
    """An IANA_SVC_NAME: at most 15 characters, letters, digits and single inner hyphens."""
    errors: list[str] = []
    if byte_length(port) > 15:
        errors.append(max_len_error(15))
    if not _matches(_PORT_NAME_CHARACTERS, port):
        errors.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if _ONE_LETTER.search(port) is None:
        errors.append("must contain at least one letter (a-z)")
    if "--" in port:
        errors.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errors.append("must not begin or end with a hyphen")
    return errors


def is_valid_percent(percent: str) -> list[str]:
    if _matches(_PERCENT, percent):
        return []
    return [regex_error(_PERCENT_MESSAGE, _PERCENT_FORMAT, "1%", "93%")]


def is_http_header_name(value: str) -> list[str]:
    if _matches(_HTTP_HEADER_NAME, value):
        return []
    return [regex_error(_HTTP_HEADER_NAME_MESSAGE, _HTTP_HEADER_NAME_FORMAT, "X-Header-Name")]


def is_valid_path_segment_name(name: str) -> list[str]:
    """Names that must be usable as one URL path segment (RBAC objects)."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return is_valid_path_segment_prefix(name)


def is_valid_path_segment_prefix(name: str) -> list[str]:
    return [f"may not contain '{part}'" for part in ("/", "%") if part in name]


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_ip_sloppy(value: str) -> IPAddress | None:
    """Go's net.ParseIP as Kubernetes uses it: IPv4 parts may carry leading zeros; no zones."""
    if ":" not in value:
        return _parse_ipv4_sloppy(value)
    if "%" in value:
        return None
    head, _, tail = value.rpartition(":")
    if "." in tail:
        embedded = _parse_ipv4_sloppy(tail)
        if embedded is None:
            return None
        value = f"{head}:{embedded}"
    try:
        return ipaddress.IPv6Address(value)
    except ValueError:
        return None


def _parse_ipv4_sloppy(value: str) -> ipaddress.IPv4Address | None:
    parts = value.split(".")
    if len(parts) != 4 or not all(_matches(_DECIMAL, part) for part in parts):
        return None
    numbers = [int(part) for part in parts]
    if any(number > 255 for number in numbers):
        return None
    return ipaddress.IPv4Address(".".join(map(str, numbers)))


def parse_cidr_sloppy(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """Go's net.ParseCIDR with sloppy addresses; host bits may be set."""
    address, slash, prefix = value.partition("/")
    ip = parse_ip_sloppy(address)
    if not slash or ip is None or not _matches(_DECIMAL, prefix):
        return None
    if int(prefix) > ip.max_prefixlen:
        return None
    return ipaddress.ip_network(f"{ip}/{int(prefix)}", strict=False)


def is_valid_ip(field: str, value: str) -> list[FieldError]:
    if parse_ip_sloppy(value) is not None:
        return []
    return [invalid(field, value, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")]


def is_valid_ipv4_address(field: str, value: str) -> list[FieldError]:
    ip = parse_ip_sloppy(value)
    if ip is not None and (ip.version == 4 or _ipv4_mapped(ip)):
        return []
    return [invalid(field, value, "must be a valid IPv4 address")]


def is_valid_ipv6_address(field: str, value: str) -> list[FieldError]:
    ip = parse_ip_sloppy(value)
    if ip is not None and ip.version == 6 and not _ipv4_mapped(ip):
        return []
    return [invalid(field, value, "must be a valid IPv6 address")]


def _ipv4_mapped(ip: IPAddress) -> bool:
    """Go's To4() treats ::ffff:a.b.c.d as IPv4."""
    return isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None


def is_valid_cidr(field: str, value: str) -> list[FieldError]:
    if parse_cidr_sloppy(value) is not None:
        return []
    return [
        invalid(field, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")
    ]


def is_fully_qualified_domain_name(field: str, name: str) -> list[FieldError]:
    """A domain with at least two labels; a trailing dot is allowed."""
    if not name:
        return [required(field)]
    name = name.removesuffix(".")
    messages = is_dns1123_subdomain(name)
    if messages:
        return [invalid(field, name, ",".join(messages))]
    labels = name.split(".")
    if len(labels) < 2:
        return [
            invalid(field, name, "should be a domain with at least two segments separated by dots")
        ]
    for label in labels:
        messages = is_dns1123_label(label)
        if messages:
            return [invalid(field, label, ",".join(messages))]
    return []
