"""``pynetes token``'s command line: kubeadm's flags, and --kubeconfig on either side."""

from __future__ import annotations

from pathlib import Path

from pynetes.cli.main import build_parser, main


def test_kubeconfig_goes_before_or_after_the_action() -> None:
    parser = build_parser()
    default = parser.parse_args(["token", "list"])
    assert default.kubeconfig == Path.home() / ".pynetes" / "kubeconfig"
    assert parser.parse_args(["token", "--kubeconfig", "a", "list"]).kubeconfig == Path("a")
    assert parser.parse_args(["token", "list", "--kubeconfig", "b"]).kubeconfig == Path("b")
    create = parser.parse_args(
        ["token", "create", "--usages", "signing", "--usages", "authentication", "--groups", ""]
    )
    assert (create.ttl, create.usages, create.groups) == (
        "24h",
        ["signing", "authentication"],
        [""],
    )


def test_generate_prints_a_token_and_needs_no_cluster(capsys) -> None:
    assert main(["token", "generate", "--kubeconfig", "/nonexistent"]) == 0
    out = capsys.readouterr().out
    assert len(out.strip()) == 23 and out.strip()[6] == "."


def test_a_missing_kubeconfig_is_a_clear_error(capsys, tmp_path: Path) -> None:
    assert main(["token", "list", "--kubeconfig", str(tmp_path / "none")]) == 1
    assert capsys.readouterr().err.startswith(f"error: cannot load kubeconfig {tmp_path}/none")
