"""``pynetes apiserver``'s flags reach ServerOptions."""

from __future__ import annotations

from pynetes.apiserver.command import options_from
from pynetes.cli.main import build_parser


def test_bootstrap_token_auth_is_off_unless_asked_for() -> None:
    parser = build_parser()
    default = parser.parse_args(["apiserver", "--data-dir", "d"])
    assert options_from(default).enable_bootstrap_token_auth is False
    enabled = parser.parse_args(["apiserver", "--data-dir", "d", "--enable-bootstrap-token-auth"])
    assert options_from(enabled).enable_bootstrap_token_auth is True
