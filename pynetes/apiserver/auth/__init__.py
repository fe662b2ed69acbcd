"""Authentication (who sent a request) and authorization (may they do it)."""

from pynetes.apiserver.auth.authentication import (
    PUBLIC_PATHS,
    SYSTEM_AUTHENTICATED,
    AuthenticationError,
    Authenticator,
    BearerToken,
    ClientCertificate,
    FirstToken,
    StaticTokenFile,
    TokenAuthenticator,
    UnionAuthenticator,
    UserInfo,
    is_public,
)
from pynetes.apiserver.auth.authorization import (
    AlwaysAllow,
    Attributes,
    Authorizer,
    Decision,
    RequestInfoError,
    request_attributes,
)

__all__ = [
    "PUBLIC_PATHS",
    "SYSTEM_AUTHENTICATED",
    "AlwaysAllow",
    "Attributes",
    "AuthenticationError",
    "Authenticator",
    "Authorizer",
    "BearerToken",
    "ClientCertificate",
    "Decision",
    "FirstToken",
    "RequestInfoError",
    "StaticTokenFile",
    "TokenAuthenticator",
    "UnionAuthenticator",
    "UserInfo",
    "is_public",
    "request_attributes",
]
