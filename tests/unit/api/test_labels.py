"""Label selectors: what kube-apiserver accepts, refuses, prints and selects."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pynetes.api.errors import ApiError
from pynetes.api.labels import (
    EVERYTHING,
    NOTHING,
    Operator,
    Requirement,
    Selector,
    label_value_errors,
    parse_label_selector,
    qualified_name_errors,
    selector_from_label_selector,
    selector_from_set,
    validate_label_selector,
)

NAME_RULE = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an"
    " alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for"
    " validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
VALUE_RULE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or"
    " '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or"
    " 'my_value',  or '12345', regex used for validation is"
    " '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
SUBDOMAIN_RULE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or"
    " '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex"
    r" used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
OPERATORS = "in, notin, =, ==, !=, gt, lt"


# The canonical form is upstream's String(): requirements sorted by key, values
# sorted, whitespace gone, "==" kept as written (upstream TestSelectorParse).
@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("", ""),
        ("app=web", "app=web"),  # kubectl get pods -l app=web
        ("app==web", "app==web"),
        ("tier!=frontend", "tier!=frontend"),
        ("environment in (production, qa)", "environment in (production,qa)"),
        ("environment notin (qa,dev)", "environment notin (dev,qa)"),
        ("canary", "canary"),
        ("!canary", "!canary"),
        ("kubernetes.io/cluster-service=true", "kubernetes.io/cluster-service=true"),
        (
            "app.kubernetes.io/name=nginx,app.kubernetes.io/instance=a",
            "app.kubernetes.io/instance=a,app.kubernetes.io/name=nginx",
        ),
        ("x=a,a=x", "a=x,x=a"),
        ("x=", "x="),
        ("x= ", "x="),
        ("x= ,z= ", "x=,z="),
        ("  app =  web  ", "app=web"),
        ("a\t=\nb\r", "a=b"),
        ("x in (foo,,baz),y,z notin ()", "x in (,baz,foo),y,z notin ()"),
        ("x in (b,a,b)", "x in (a,b)"),
        ("x>1,z<5", "x>1,z<5"),
        # "in" and "notin" are keywords only where an operator is expected.
        ("in in (in)", "in in (in)"),
        ("notin=in", "notin=in"),
        # Go's lexer reads a NUL byte where a token starts as the end of input ...
        ("a=b \0junk junk", "a=b"),
        # ... and swallows one right after a token.
        ("a=\0b", "a=b"),
    ],
)
def test_parse_prints_canonical_form(text: str, canonical: str) -> None:
    assert str(parse_label_selector(text)) == canonical


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ("", {"x": "y"}, True),
        ("", None, True),
        ("x=y", {"x": "y"}, True),
        ("x=y", {"x": "z"}, False),
        ("x=z", {}, False),
        ("x=y,z=w", {"x": "y", "z": "w"}, True),
        ("x=y,z=w", {"x": "w", "z": "w"}, False),
        ("x!=y,z!=w", {"x": "z", "z": "a"}, True),
        ("x!=y,z!=w", {"x": "z", "z": "w"}, False),
        ("x!=y", {}, True),  # a missing label is not equal to anything
        ("x", {"x": ""}, True),
        ("x", {"y": "z"}, False),
        ("!x", {"y": "z"}, True),
        ("!x", {"x": "z"}, False),
        ("!x", None, True),
        ("x in (a,b)", {"x": "b"}, True),
        ("x in (a,b)", {"x": "c"}, False),
        ("x in (a,b)", {}, False),
        ("x notin (a,b)", {"x": "c"}, True),
        ("x notin (a,b)", {}, True),  # notin also selects objects without the label
        ("x notin (a,b)", {"x": "a"}, False),
        ("x in ()", {"x": ""}, True),  # "()" is the empty value
        ("x in ()", {}, False),
        ("x=", {"x": ""}, True),
        ("x=", {}, False),
        ("x>1", {"x": "2"}, True),
        ("x>1", {"x": "1"}, False),
        ("x>1", {"x": "two"}, False),
        ("x>1", {}, False),
        ("x<1", {"x": "0"}, True),
        ("x<1", {"x": "-5"}, True),
        ("x<1", {"x": "1_0"}, False),  # Go's ParseInt takes no underscores
        ("x=1,x=2", {"x": "1"}, False),
        ("app=web,tier in (fe,be),!canary", {"app": "web", "tier": "be"}, True),
        ("app=web,tier in (fe,be),!canary", {"app": "web", "tier": "be", "canary": "1"}, False),
    ],
)
def test_matches(text: str, labels: dict[str, str] | None, expected: bool) -> None:
    assert parse_label_selector(text).matches(labels) is expected


# Exact text kube-apiserver answers in the 400 Status message.
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a b", f"unable to parse requirement: found 'b', expected: {OPERATORS}"),
        (
            "x=a||y=b",
            f'unable to parse requirement: values[0][x]: Invalid value: "a||y": {VALUE_RULE}',
        ),
        ("x==a==b", "found '==', expected: ',' or 'end of string'"),
        ("!x=a", "found '=', expected: ',' or 'end of string'"),
        ("a,", "found '', expected: identifier after ','"),
        (",a", "found ',', expected: !, identifier, or 'end of string'"),
        ("=a", "found '=', expected: !, identifier, or 'end of string'"),
        ("!", "unable to parse requirement: found '', expected: identifier"),
        ("a in", "unable to parse requirement: found '' expected: '('"),
        ("a in b", "unable to parse requirement: found 'b' expected: '('"),
        ("a in (", "unable to parse requirement: found '', expected: ',', ')' or identifier"),
        ("a in (b c)", "unable to parse requirement: found 'c', expected: ',' or ')'"),
        ("a notin (b,", "unable to parse requirement: found '', expected: ',', or identifier"),
        ("a (", f"unable to parse requirement: found '(', expected: {OPERATORS}"),
        ("a<=3", "unable to parse requirement: found '=', expected: identifier"),
        ("a\0b", f"unable to parse requirement: found 'b', expected: {OPERATORS}"),
        ("-a", f'unable to parse requirement: <nil>: Invalid value: "-a": name part {NAME_RULE}'),
        (
            "/a",
            'unable to parse requirement: <nil>: Invalid value: "/a": '
            "prefix part must be non-empty",
        ),
        (
            "Example.com/a",
            'unable to parse requirement: <nil>: Invalid value: "Example.com/a": prefix part '
            + SUBDOMAIN_RULE,
        ),
        (
            "a/b/c",
            'unable to parse requirement: <nil>: Invalid value: "a/b/c": a qualified name '
            + NAME_RULE
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
        ),
        (
            "a" * 64,
            f'unable to parse requirement: <nil>: Invalid value: "{"a" * 64}": '
            "name part must be no more than 63 characters",
        ),
        (
            "app=foo_",
            f'unable to parse requirement: values[0][app]: Invalid value: "foo_": {VALUE_RULE}',
        ),
        (
            "app in (ok,-bad)",
            f'unable to parse requirement: values[0][app]: Invalid value: "-bad": {VALUE_RULE}',
        ),
        (
            "a>x",
            "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' "
            "operators, the value must be an integer",
        ),
        (
            "a<",
            "unable to parse requirement: values[0]: Invalid value: \"\": for 'Gt', 'Lt' "
            "operators, the value must be an integer",
        ),
        ("a>-1", f'unable to parse requirement: values[0][a]: Invalid value: "-1": {VALUE_RULE}'),
        (
            "a>x_",
            "unable to parse requirement: [values[0]: Invalid value: \"x_\": for 'Gt', 'Lt' "
            "operators, the value must be an integer, "
            f'values[0][a]: Invalid value: "x_": {VALUE_RULE}]',
        ),
    ],
)
def test_invalid_selector_is_bad_request_with_upstream_text(text: str, message: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_label_selector(text)
    assert (caught.value.code, caught.value.reason) == (400, "BadRequest")
    assert caught.value.message == message
    assert caught.value.status()["message"] == message


def test_requirements_expose_keys_operators_and_values_for_indexing() -> None:
    selector = parse_label_selector("tier in (fe,be),app=web,!canary")
    assert selector.requirements == (
        Requirement("app", Operator.EQUALS, ("web",)),
        Requirement("canary", Operator.DOES_NOT_EXIST),
        Requirement("tier", Operator.IN, ("be", "fe")),
    )


@pytest.mark.parametrize(
    ("text", "key", "value"),
    [
        ("app=web,tier=fe", "app", "web"),
        ("app==web", "app", "web"),
        ("app in (web)", "app", "web"),
        ("app in (web,api)", "app", None),
        ("app!=web", "app", None),
        ("app", "app", None),
        ("tier=fe", "app", None),
        ("", "app", None),
    ],
)
def test_exact_value(text: str, key: str, value: str | None) -> None:
    assert parse_label_selector(text).exact_value(key) == value


def test_empty_everything_and_nothing() -> None:
    assert parse_label_selector("").empty
    assert parse_label_selector("") == EVERYTHING
    assert not parse_label_selector("a").empty
    # upstream labels.Nothing(): not empty, matches nothing, prints as "".
    assert not NOTHING.empty
    assert NOTHING.nothing
    assert not NOTHING.matches({})
    assert str(NOTHING) == ""


def test_selectors_compare_and_hash_by_requirements() -> None:
    first = parse_label_selector("b=2, a=1")
    second = parse_label_selector("a=1,b=2")
    assert first == second
    assert len({first, second, NOTHING, EVERYTHING}) == 3


# --- LabelSelector objects ---------------------------------------------------


@pytest.mark.parametrize(
    ("label_selector", "canonical", "labels", "expected"),
    [
        # Deployment / ReplicaSet spec.selector
        (
            {"matchLabels": {"app": "web"}},
            "app=web",
            {"app": "web", "pod-template-hash": "1"},
            True,
        ),
        ({"matchLabels": {"app": "web"}}, "app=web", {"app": "api"}, False),
        (
            {
                "matchLabels": {"app": "web"},
                "matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["fe", "be"]},
                    {"key": "env", "operator": "NotIn", "values": ["qa"]},
                    {"key": "canary", "operator": "DoesNotExist"},
                    {"key": "release", "operator": "Exists"},
                ],
            },
            "app=web,!canary,env notin (qa),release,tier in (be,fe)",
            {"app": "web", "tier": "fe", "release": "1"},
            True,
        ),
        (
            {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["fe"]}]},
            "tier in (fe)",
            {"tier": "fe"},
            True,
        ),
        # An empty LabelSelector selects everything ...
        ({}, "", {"any": "thing"}, True),
        ({"matchLabels": {}, "matchExpressions": []}, "", {}, True),
    ],
)
def test_label_selector_object(label_selector, canonical, labels, expected) -> None:
    selector = selector_from_label_selector(label_selector)
    assert str(selector) == canonical
    assert selector.matches(labels) is expected


def test_null_label_selector_selects_nothing() -> None:
    # ... but a null one selects nothing (upstream LabelSelectorAsSelector).
    selector = selector_from_label_selector(None)
    assert selector is NOTHING
    assert not selector.matches({"app": "web"})


@pytest.mark.parametrize(
    ("label_selector", "message"),
    [
        (
            {"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]},
            '"Gt" is not a valid label selector operator',
        ),
        (
            {"matchExpressions": [{"key": "a", "operator": "In"}]},
            "values: Invalid value: []string(nil): "
            "for 'in', 'notin' operators, values set can't be empty",
        ),
        (
            {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
            'values: Invalid value: []string{"x"}: '
            "values set must be empty for exists and does not exist",
        ),
        ({"matchLabels": {"-a": "x"}}, f'key: Invalid value: "-a": name part {NAME_RULE}'),
    ],
)
def test_invalid_label_selector_object(label_selector, message: str) -> None:
    with pytest.raises(ApiError) as caught:
        selector_from_label_selector(label_selector)
    assert caught.value.code == 400
    assert caught.value.message == message


def test_selector_from_set() -> None:
    # A Service's or ReplicationController's spec.selector.
    selector = selector_from_set({"b": "2", "a": "1"})
    assert str(selector) == "a=1,b=2"
    assert selector.matches({"a": "1", "b": "2", "c": "3"})
    assert not selector.matches({"a": "1"})
    assert selector_from_set(None).empty
    assert selector_from_set({}).empty


@pytest.mark.parametrize(
    ("label_selector", "errors"),
    [
        (None, []),
        ({"matchLabels": {"app": "web"}}, []),
        (
            {"matchExpressions": [{"key": "tier", "operator": "In", "values": []}]},
            [
                "spec.selector.matchExpressions[0].values: Required value: must be specified"
                " when `operator` is 'In' or 'NotIn'"
            ],
        ),
        (
            {"matchExpressions": [{"key": "tier", "operator": "Exists", "values": ["a"]}]},
            [
                "spec.selector.matchExpressions[0].values: Forbidden: may not be specified"
                " when `operator` is 'Exists' or 'DoesNotExist'"
            ],
        ),
        (
            {"matchExpressions": [{"key": "tier", "operator": "Equals", "values": ["a"]}]},
            [
                'spec.selector.matchExpressions[0].operator: Invalid value: "Equals": not a'
                " valid selector operator"
            ],
        ),
        (
            {"matchExpressions": [{"key": "", "operator": "Exists"}]},
            [
                'spec.selector.matchExpressions[0].key: Invalid value: "": '
                "name part must be non-empty",
                f'spec.selector.matchExpressions[0].key: Invalid value: "": name part {NAME_RULE}',
            ],
        ),
        (
            {"matchExpressions": [{"key": "a", "operator": "In", "values": ["ok", "no way"]}]},
            [f'spec.selector.matchExpressions[0].values[1]: Invalid value: "no way": {VALUE_RULE}'],
        ),
        (
            {"matchLabels": {"app": "no way", "-k": "v"}},
            [
                f'spec.selector.matchLabels: Invalid value: "no way": {VALUE_RULE}',
                f'spec.selector.matchLabels: Invalid value: "-k": name part {NAME_RULE}',
            ],
        ),
    ],
)
def test_validate_label_selector(label_selector, errors: list[str]) -> None:
    found = validate_label_selector(label_selector, "spec.selector")
    assert [str(error) for error in found] == errors


def test_validate_label_selector_causes_for_422() -> None:
    [error] = validate_label_selector(
        {"matchExpressions": [{"key": "tier", "operator": "NotIn"}]}, "spec.selector"
    )
    assert error.cause() == {
        "reason": "FieldValueRequired",
        "message": "Required value: must be specified when `operator` is 'In' or 'NotIn'",
        "field": "spec.selector.matchExpressions[0].values",
    }


def test_invalid_values_may_be_allowed_for_stored_objects() -> None:
    label_selector = {"matchExpressions": [{"key": "a", "operator": "In", "values": ["no way"]}]}
    assert (
        validate_label_selector(label_selector, "spec.selector", allow_invalid_label_values=True)
        == []
    )


# --- Key and value syntax ----------------------------------------------------


@pytest.mark.parametrize(
    ("key", "valid"),
    [
        ("app", True),
        ("app.kubernetes.io/name", True),
        ("a" * 63, True),
        ("example.com/" + "a" * 63, True),
        ("a" * 64, False),
        ("UPPER.com/a", False),
        ("a/", False),
        ("_a", False),
        ("é", False),
    ],
)
def test_qualified_names(key: str, valid: bool) -> None:
    assert (qualified_name_errors(key) == []) is valid


def test_lengths_are_counted_in_bytes_as_go_does() -> None:
    assert label_value_errors("é" * 32)[0] == "must be no more than 63 characters"


# --- Properties --------------------------------------------------------------

_SELECTOR_ALPHABET = st.sampled_from([*"abxyz019-_./=!(),<> \t\0", "in", "notin", "é"])
_KEYS = st.sampled_from(["a", "b", "x.io/c", "in"])
_VALUES = st.sampled_from(["", "1", "2", "v", "-3"])


@given(st.text())
def test_random_text_only_ever_raises_api_error(text: str) -> None:
    try:
        parse_label_selector(text)
    except ApiError as error:
        assert error.code == 400


@given(st.lists(_SELECTOR_ALPHABET).map("".join))
def test_selector_like_text_only_ever_raises_api_error_and_canonical_form_is_stable(
    text: str,
) -> None:
    try:
        selector = parse_label_selector(text)
    except ApiError:
        return
    assert parse_label_selector(str(selector)) == selector


def _reference_match(requirement: Requirement, labels: dict[str, str]) -> bool:
    """Upstream Requirement.Matches, written out plainly."""
    present = requirement.key in labels
    value = labels.get(requirement.key, "")
    operator = requirement.operator
    if operator in (Operator.IN, Operator.EQUALS, Operator.DOUBLE_EQUALS):
        return present and value in requirement.values
    if operator in (Operator.NOT_IN, Operator.NOT_EQUALS):
        return not present or value not in requirement.values
    if operator is Operator.EXISTS:
        return present
    if operator is Operator.DOES_NOT_EXIST:
        return not present
    if not present or not value.lstrip("+-").isdigit():
        return False
    bound = int(requirement.values[0])
    return int(value) > bound if operator is Operator.GREATER_THAN else int(value) < bound


_REQUIREMENTS = st.one_of(
    st.builds(
        Requirement,
        _KEYS,
        st.sampled_from([Operator.IN, Operator.NOT_IN]),
        st.lists(_VALUES, min_size=1, max_size=3).map(tuple),
    ),
    st.builds(
        Requirement,
        _KEYS,
        st.sampled_from([Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.NOT_EQUALS]),
        _VALUES.map(lambda value: (value,)),
    ),
    st.builds(Requirement, _KEYS, st.sampled_from([Operator.EXISTS, Operator.DOES_NOT_EXIST])),
    st.builds(
        Requirement,
        _KEYS,
        st.sampled_from([Operator.GREATER_THAN, Operator.LESS_THAN]),
        st.sampled_from(["0", "1", "2"]).map(lambda value: (value,)),
    ),
)


@given(st.lists(_REQUIREMENTS, max_size=4), st.dictionaries(_KEYS, _VALUES))
def test_compiled_matching_agrees_with_each_requirement(requirements, labels) -> None:
    expected = all(_reference_match(requirement, labels) for requirement in requirements)
    assert Selector(requirements).matches(labels) is expected
