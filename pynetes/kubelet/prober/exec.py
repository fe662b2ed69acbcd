"""The exec probe: a command run in the container through the runtime's ExecSync."""

from __future__ import annotations

from collections.abc import Sequence

from pynetes.api.gofmt import go_quote
from pynetes.kubelet.prober.results import ProbeError, ProbeOutcome, ProbeResult
from pynetes.kubelet.runtime.interface import RuntimeFailure, RuntimeService

#: Upstream keeps at most this much of a probe command's output.
MAX_OUTPUT = 10 * 1024


async def exec_probe(
    runtime: RuntimeService, container_id: str, command: Sequence[str], time_limit: float
) -> ProbeOutcome:
    """Success when ``command`` exits 0 within ``time_limit`` seconds.

    The output is the command's stdout then stderr (upstream joins them so),
    cut at MAX_OUTPUT; a command that runs out of time fails with upstream's
    ``command "..." timed out``. A runtime that cannot exec at all (the
    container is gone) raises ProbeError: no result, as upstream.
    """
    try:
        result = await runtime.exec_sync(container_id, command, time_limit)
    except RuntimeFailure as error:
        raise ProbeError(str(error) or type(error).__name__) from error
    if result.timed_out:
        return ProbeOutcome(ProbeResult.FAILURE, f"command {go_quote(' '.join(command))} timed out")
    output = (result.stdout + result.stderr)[:MAX_OUTPUT].decode(errors="replace")
    return ProbeOutcome(
        ProbeResult.SUCCESS if result.exit_code == 0 else ProbeResult.FAILURE, output
    )
