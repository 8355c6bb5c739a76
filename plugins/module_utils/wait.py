# Copyright: stacked_sparks maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wait for a condition: a monotonic deadline, a probe, a pause between probes, transient errors retried."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any


class Hopeless(Exception):
    """Raised by a probe when waiting longer cannot help (the process died, the key was rejected, ...).

    details is a dict the caller may add to its failure result. wait_until sets elapsed and attempts on it.
    """

    def __init__(self, message, details=None):
        super().__init__(message)
        self.message = message
        self.details = dict(details or {})
        self.elapsed = 0.0
        self.attempts = 0


# The options of the pauses in every wait module's argument spec, as the doc fragment stacked_sparks.vllm.wait
# documents them.
PAUSE_OPTIONS = {
    "sleep": {"type": "float", "default": 0.1},
    "max_sleep": {"type": "float", "default": 0.25},
}


def negative_option(params, names):
    """The message for the first of the options `names` that is negative in params, None when none is."""
    for name in names:
        if params[name] < 0:
            return f"{name} must not be negative, got {params[name]}"
    return None


@dataclass
class WaitResult:
    done: bool
    state: Any
    last_error: str | None
    elapsed: float
    attempts: int


def wait_until(probe, timeout, sleep, max_sleep=0.0, clock=time.monotonic, sleeper=time.sleep):
    """Call probe() until it reports done or timeout seconds have passed; timeout 0 means exactly one probe.

    probe() returns (done, state). If it raises Hopeless, that propagates at once (with elapsed and
    attempts set on it). Any other exception is transient: its text becomes last_error and the probe is
    retried. last_error is None when the most recent probe returned normally. The first pause between probes
    is `sleep` seconds; each next one doubles, up to max_sleep (a max_sleep below sleep keeps every pause at
    sleep). No pause goes past the deadline.
    """
    if timeout < 0 or sleep < 0 or max_sleep < 0:
        raise ValueError(f"timeout, sleep and max_sleep must not be negative (got {timeout!r}, {sleep!r} and "
                         f"{max_sleep!r})")
    start = clock()
    deadline = start + timeout
    attempts = 0
    state = None
    last_error = None
    pause = sleep
    while True:
        attempts += 1
        done = False
        try:
            done, state = probe()
            last_error = None
        except Hopeless as exc:
            exc.elapsed = round(clock() - start, 2)
            exc.attempts = attempts
            raise
        except Exception as exc:  # noqa: BLE001 - by contract every other error is transient and retried
            last_error = str(exc) or type(exc).__name__
        now = clock()
        remaining = deadline - now
        if done or remaining <= 0:
            return WaitResult(bool(done), state, last_error, round(now - start, 2), attempts)
        sleeper(min(pause, remaining))
        pause = min(pause * 2, max(sleep, max_sleep))
