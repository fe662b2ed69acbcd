"""Go's %q and %#v renderings, as upstream's error texts carry them."""

from __future__ import annotations

import pytest

from pynetes.api.gofmt import go_quote, go_string_slice, go_value_slice


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("abc", '"abc"'),
        ('a"b\\c', '"a\\"b\\\\c"'),
        ("\0\t\x7f", '"\\x00\\t\\x7f"'),
        ("é\u00a0", '"é\\u00a0"'),
    ],
)
def test_go_quote(text: str, quoted: str) -> None:
    assert go_quote(text) == quoted


@pytest.mark.parametrize(
    ("values", "rendered"),
    [
        (["Some"], '[]string{"Some"}'),
        (["a", 'b"'], '[]string{"a", "b\\""}'),
        ([], "[]string{}"),
        (None, "[]string(nil)"),
    ],
)
def test_go_string_slice(values: list[str] | None, rendered: str) -> None:
    assert go_string_slice(values) == rendered


def test_value_slice_is_gos_plain_v() -> None:
    assert go_value_slice(["sh", "-c", "exit 3"]) == "[sh -c exit 3]"
    assert go_value_slice([]) == "[]"
