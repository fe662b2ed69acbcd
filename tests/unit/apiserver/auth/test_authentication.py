"""Authenticators: the token file, bearer headers, the union, the public paths."""

from __future__ import annotations

import logging

import pytest
from aiohttp.test_utils import make_mocked_request

from pynetes.apiserver.auth import (
    AuthenticationError,
    BearerToken,
    ClientCertificate,
    StaticTokenFile,
    UnionAuthenticator,
    UserInfo,
    is_anonymous_readable,
    is_public,
)

TOKEN_FILE = """\
s3cr3t-admin,admin,uid-1,"system:masters,team-a"
s3cr3t-dev,dev,uid-2

s3cr3t-ci,ci,uid-3,builders
"""


def request(authorization: str | None = None):
    headers = {} if authorization is None else {"Authorization": authorization}
    return make_mocked_request("GET", "/api/v1/pods", headers=headers)


def token_file(tmp_path, text: str) -> StaticTokenFile:
    path = tmp_path / "tokens.csv"
    path.write_text(text)
    return StaticTokenFile.load(path)


class Fixed:
    """An authenticator with a fixed answer."""

    def __init__(self, answer: UserInfo | AuthenticationError | None) -> None:
        self.answer = answer
        self.calls = 0

    async def authenticate(self, request):
        self.calls += 1
        if isinstance(self.answer, AuthenticationError):
            raise self.answer
        return self.answer


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("s3cr3t-admin", UserInfo("admin", uid="uid-1", groups=("system:masters", "team-a"))),
        ("s3cr3t-dev", UserInfo("dev", uid="uid-2")),
        ("s3cr3t-ci", UserInfo("ci", uid="uid-3", groups=("builders",))),
        ("s3cr3t", None),
        ("", None),
    ],
)
async def test_the_token_file_in_kube_apiservers_csv_format(tmp_path, token, expected):
    tokens = token_file(tmp_path, TOKEN_FILE)
    assert await tokens.authenticate_token(token) == expected


async def test_an_empty_token_is_skipped_and_a_repeated_one_replaces_the_first(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    tokens = token_file(tmp_path, ",nobody,uid-0\ntok-a,first,1\ntok-a,second,2\n")

    assert await tokens.authenticate_token("tok-a") == UserInfo("second", uid="2")
    assert await tokens.authenticate_token("") is None
    # Upstream's warnings, naming the record and never the token.
    assert [record.getMessage().split(" in token file")[0] for record in caplog.records] == [
        "empty token has been found",
        "duplicate token has been found",
    ]
    assert "record number '3'" in caplog.records[1].getMessage()
    assert "tok-a" not in caplog.text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "s3cr3t-x,only-user\n",
            "must have at least 3 columns (token, user name, user uid), found 2",
        ),
        ('s3cr3t-x,user,uid,"unterminated\n', "line"),
    ],
    ids=["too-few-columns", "unterminated-quote"],
)
def test_a_malformed_token_file_is_refused_without_echoing_tokens(tmp_path, text, message):
    with pytest.raises(ValueError, match="token file") as raised:
        token_file(tmp_path, text)
    assert message in str(raised.value)
    assert "s3cr3t" not in str(raised.value)


@pytest.mark.parametrize(
    ("header", "user"),
    [
        ("Bearer s3cr3t-dev", "dev"),
        ("bearer s3cr3t-dev", "dev"),
        ("BEARER s3cr3t-dev", "dev"),
        ("  Bearer s3cr3t-dev  ", "dev"),
        # Upstream splits into at most three parts and reads the second.
        ("Bearer s3cr3t-dev trailing", "dev"),
        (None, None),
        ("", None),
        ("Bearer", None),
        ("Bearer ", None),
        # Upstream ignores a token after two spaces (and warns).
        ("Bearer  s3cr3t-dev", None),
        ("Basic YWRtaW46cGFzcw==", None),
    ],
)
async def test_bearer_headers_as_upstream_reads_them(tmp_path, header, user):
    authenticator = BearerToken(token_file(tmp_path, TOKEN_FILE))
    found = await authenticator.authenticate(request(header))
    assert (found.name if found else None) == user


async def test_an_unknown_bearer_token_is_an_error_that_does_not_repeat_it(tmp_path):
    authenticator = BearerToken(token_file(tmp_path, TOKEN_FILE))
    with pytest.raises(AuthenticationError) as raised:
        await authenticator.authenticate(request("Bearer s3cr3t-wrong"))
    assert str(raised.value) == "invalid bearer token"


async def test_the_token_file_does_not_show_tokens(tmp_path):
    assert "s3cr3t" not in repr(token_file(tmp_path, TOKEN_FILE))


async def test_a_plain_http_request_has_no_client_certificate():
    assert await ClientCertificate().authenticate(request()) is None


async def test_the_union_answers_the_first_user_and_adds_the_authenticated_group():
    second = Fixed(UserInfo("second"))
    union = UnionAuthenticator(Fixed(None), Fixed(UserInfo("first", groups=("a",))), second)

    assert await union.authenticate(request()) == UserInfo(
        "first", groups=("a", "system:authenticated")
    )
    assert second.calls == 0


@pytest.mark.parametrize(
    "user",
    [
        UserInfo("already", groups=("system:authenticated",)),
        UserInfo("someone", groups=("system:unauthenticated",)),
        UserInfo("system:anonymous"),
    ],
)
async def test_the_authenticated_group_is_not_added_twice_nor_to_anonymous(user):
    assert await UnionAuthenticator(Fixed(user)).authenticate(request()) == user


async def test_the_union_reports_an_error_only_when_nobody_proves_a_user():
    failing = Fixed(AuthenticationError("invalid bearer token"))
    assert await UnionAuthenticator(failing, Fixed(UserInfo("u"))).authenticate(request())

    with pytest.raises(AuthenticationError, match=r"^invalid bearer token$"):
        await UnionAuthenticator(failing, Fixed(None)).authenticate(request())
    with pytest.raises(AuthenticationError, match=r"^\[invalid bearer token, expired\]$"):
        await UnionAuthenticator(failing, Fixed(AuthenticationError("expired"))).authenticate(
            request()
        )


async def test_the_union_of_nothing_proven_is_no_user():
    assert await UnionAuthenticator(Fixed(None), Fixed(None)).authenticate(request()) is None


@pytest.mark.parametrize(
    ("method", "path", "public"),
    [
        ("GET", "/healthz", True),
        ("GET", "/livez", True),
        ("GET", "/readyz", True),
        ("GET", "/version", True),
        ("GET", "/version/", True),
        # system:public-info-viewer lists exact URLs and the verb get only.
        ("GET", "/healthz/etcd", False),
        ("GET", "/readyz/", False),
        ("HEAD", "/healthz", False),
        ("POST", "/version", False),
        ("GET", "/api", False),
        ("GET", "/metrics", False),
    ],
)
def test_public_paths(method, path, public):
    assert is_public(method, path) is public


@pytest.mark.parametrize(
    ("method", "path", "readable"),
    [
        ("GET", "/api/v1/namespaces/kube-public/configmaps/cluster-info", True),
        # kubeadm's Role grants get of that one ConfigMap to system:anonymous, nothing else
        ("PUT", "/api/v1/namespaces/kube-public/configmaps/cluster-info", False),
        ("GET", "/api/v1/namespaces/kube-public/configmaps", False),
        ("GET", "/api/v1/namespaces/kube-public/configmaps/cluster-info/", False),
        ("GET", "/api/v1/namespaces/default/configmaps/cluster-info", False),
        ("GET", "/api/v1/namespaces/kube-public/secrets/cluster-info", False),
    ],
)
def test_anonymous_readable_paths(method, path, readable):
    assert is_anonymous_readable(method, path) is readable
