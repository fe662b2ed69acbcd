"""``--controllers`` selection and the flags, as upstream reads them."""

from __future__ import annotations

import argparse

import pytest

from pynetes.cli import flags
from pynetes.controllermanager import options, registry


def names(spec: str) -> list[str]:
    return [descriptor.name for descriptor in registry.select(spec)]


def test_star_turns_on_every_controller_enabled_by_default() -> None:
    expected = [name for name, d in registry.known().items() if d.enabled_by_default]
    assert names("*") == expected
    assert "serviceaccount" in expected


def test_a_minus_name_leaves_one_out_and_a_name_alone_runs_alone() -> None:
    assert "serviceaccount" not in names("*,-serviceaccount")
    assert names("serviceaccount") == ["serviceaccount"]
    assert names("-serviceaccount") == []


def test_an_unknown_name_is_refused_with_the_known_list() -> None:
    with pytest.raises(registry.SelectionError, match='"nosuch" is not in the list') as raised:
        registry.select("*,-nosuch")
    assert "serviceaccount" in str(raised.value)


def test_defaults_are_upstreams_and_overrides_must_exist() -> None:
    defaults = options.defaults()
    assert defaults.controllers == "*"
    assert defaults.leader_elect is True
    assert defaults.leader_elect_lease_duration == 15.0
    assert defaults.leader_elect_resource_name == "kube-controller-manager"
    assert options.defaults(kube_api_qps=5.0).kube_api_qps == 5.0
    with pytest.raises(AttributeError, match="no option 'nosuch'"):
        options.defaults(nosuch=1)


@pytest.mark.parametrize(
    ("text", "seconds"), [("40s", 40.0), ("5m", 300.0), ("1h30m", 5400.0), ("500ms", 0.5)]
)
def test_duration_flags_take_go_durations(text: str, seconds: float) -> None:
    assert options.duration(text) == seconds


def test_a_duration_without_unit_is_refused_with_gos_words() -> None:
    with pytest.raises(argparse.ArgumentTypeError, match='missing unit in duration "40"'):
        options.duration("40")


def test_boolean_flags_take_gos_spellings() -> None:
    parser = argparse.ArgumentParser()
    options.add_arguments(parser)
    assert parser.parse_args(["--leader-elect=false"]).leader_elect is False
    assert parser.parse_args(["--leader-elect"]).leader_elect is True
    assert parser.parse_args(["--enable-garbage-collector=F"]).enable_garbage_collector is False
    with pytest.raises(argparse.ArgumentTypeError, match="invalid syntax"):
        flags.boolean("maybe")
