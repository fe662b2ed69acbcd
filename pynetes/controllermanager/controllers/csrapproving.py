"""csrapproving: approves the kubelet client certificate requests nodes may make.

Upstream's approver recognizes two kinds of request for the
``kubernetes.io/kube-apiserver-client-kubelet`` signer (subject
``O=system:nodes, CN=system:node:<name>`` and nothing else, no SANs, usages
digital signature and client auth, key encipherment allowed):

- ``nodeclient``: a new node's first certificate, asked for with its
  bootstrap credentials;
- ``selfnodeclient``: a renewal, asked for by the node itself
  (``spec.username`` is the subject's CN).

Upstream approves either only when a SubjectAccessReview says the requester
may ``create`` ``certificatesigningrequests/nodeclient`` (resp.
``selfnodeclient``), which kubeadm's RBAC grants to the group
``system:bootstrappers`` (resp. ``system:nodes``). pynetes has no RBAC yet
(every authenticated user may do everything), so that review is stood in
for by the rule those bindings express: a ``nodeclient`` request is approved
when its requester is in ``system:bootstrappers``, a ``selfnodeclient`` one
when its requester is ``system:node:<name>`` itself. Everything else is left
for a person (``kubectl certificate approve``) or another approver.
"""

from __future__ import annotations

import logging
from typing import Any

from pynetes.client import errors
from pynetes.controllermanager.common.certificates import (
    CSRS,
    KUBE_APISERVER_CLIENT_KUBELET,
    CsrController,
    common_name,
    has_condition,
    kubelet_client_problem,
    request_of,
    usages_of,
)
from pynetes.controllermanager.context import ControllerContext
from pynetes.controllermanager.descriptor import ControllerDescriptor
from pynetes.pki.csr import CsrError

log = logging.getLogger(__name__)

Object = dict[str, Any]

BOOTSTRAPPERS_GROUP = "system:bootstrappers"
NODE_CLIENT_MESSAGE = "Auto approving kubelet client certificate after SubjectAccessReview."
SELF_NODE_CLIENT_MESSAGE = (
    "Auto approving self kubelet client certificate after SubjectAccessReview."
)


def approval_message(csr: Object) -> str | None:
    """The message to approve ``csr`` with, None when this approver leaves it alone.

    Pure: decides from the object alone (see the module's note on RBAC).
    """
    spec = csr.get("spec") or {}
    if spec.get("signerName") != KUBE_APISERVER_CLIENT_KUBELET:
        return None
    try:
        request = request_of(csr)
    except CsrError:
        return None
    if kubelet_client_problem(request, usages_of(csr)):
        return None
    if spec.get("username") == common_name(request):
        return SELF_NODE_CLIENT_MESSAGE
    if BOOTSTRAPPERS_GROUP in (spec.get("groups") or []):
        return NODE_CLIENT_MESSAGE
    return None


class CsrApprover:
    def __init__(self, context: ControllerContext) -> None:
        self._client = context.client
        self._csrs = CsrController(context, "csrapproving", self._approve)

    async def run(self) -> None:
        await self._csrs.run()

    async def _approve(self, csr: Object) -> None:
        status = csr.get("status") or {}
        if status.get("certificate") or has_condition(csr, "Approved"):
            return
        if has_condition(csr, "Denied"):
            return
        message = approval_message(csr)
        if message is None:
            return
        approved = {**csr, "status": {**status}}
        approved["status"]["conditions"] = [
            *(status.get("conditions") or []),
            {"type": "Approved", "status": "True", "reason": "AutoApproved", "message": message},
        ]
        try:
            await self._client.replace(CSRS, approved, subresource="approval")
        except errors.NotFound:
            return
        log.info("approved certificate signing request %s", csr["metadata"]["name"])


CONTROLLER = ControllerDescriptor(name="csrapproving", build=CsrApprover)
