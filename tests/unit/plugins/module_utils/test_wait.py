from __future__ import annotations

import pytest
from ansible_collections.stacked_sparks.vllm.plugins.module_utils.wait import (
    Hopeless,
    WaitResult,
    wait_until,
)


def scripted(clock, steps, cost=0.0):
    """A probe that plays `steps` in order (a (done, state) tuple, or an exception to raise); each call costs
    `cost` seconds on the clock."""
    calls = []

    def probe():
        calls.append(clock.now)
        clock.now += cost
        step = steps[min(len(calls), len(steps)) - 1]
        if isinstance(step, Exception):
            raise step
        return step

    probe.calls = calls
    return probe


def run(clock, probe, timeout, sleep, max_sleep=0.0):
    return wait_until(probe, timeout, sleep, max_sleep, clock=clock.time, sleeper=clock.sleep)


def test_done_at_once(fake_clock):
    probe = scripted(fake_clock, [(True, "ready")])
    assert run(fake_clock, probe, 60, 2) == WaitResult(True, "ready", None, 0.0, 1)
    assert fake_clock.sleeps == []


def test_timeout_zero_probes_exactly_once(fake_clock):
    probe = scripted(fake_clock, [(False, "not yet"), (True, "ready")])
    result = run(fake_clock, probe, 0, 2)
    assert (result.done, result.state, result.attempts) == (False, "not yet", 1)
    assert fake_clock.sleeps == []


def test_transient_errors_are_retried_and_recorded(fake_clock):
    probe = scripted(fake_clock, [ConnectionRefusedError("refused"), (False, 1), RuntimeError("HTTP 503"), (True, 2)])
    result = run(fake_clock, probe, 60, 2)
    assert result == WaitResult(True, 2, None, 6.0, 4)
    assert fake_clock.sleeps == [2, 2, 2]


def test_timeout_keeps_last_state_and_last_error(fake_clock):
    probe = scripted(fake_clock, [(False, "one node"), OSError("no cluster")])
    result = run(fake_clock, probe, 5, 2)
    assert result == WaitResult(False, "one node", "no cluster", 5.0, 4)


def test_error_without_text_is_named_by_its_type(fake_clock):
    result = run(fake_clock, scripted(fake_clock, [TimeoutError()]), 0, 1)
    assert result.last_error == "TimeoutError"


def test_never_sleeps_past_the_deadline(fake_clock):
    probe = scripted(fake_clock, [(False, None)])
    result = run(fake_clock, probe, 5, 2)
    assert fake_clock.sleeps == [2, 2, 1]
    assert probe.calls == [0.0, 2.0, 4.0, 5.0]
    assert (result.elapsed, result.attempts) == (5.0, 4)


def test_slow_probes_count_against_the_deadline(fake_clock):
    probe = scripted(fake_clock, [(False, None)], cost=3.0)
    result = run(fake_clock, probe, 5, 2)
    assert probe.calls == [0.0, 5.0]
    assert fake_clock.sleeps == [2]
    assert (result.elapsed, result.attempts) == (8.0, 2)


def test_elapsed_is_rounded(fake_clock):
    result = run(fake_clock, scripted(fake_clock, [(True, None)], cost=0.123), 10, 1)
    assert result.elapsed == 0.12


def test_hopeless_propagates_at_once(fake_clock):
    probe = scripted(fake_clock, [(False, None), Hopeless("vLLM died", {"exit_code": 1}), (True, None)], cost=0.25)
    with pytest.raises(Hopeless) as err:
        run(fake_clock, probe, 60, 2)
    assert err.value.message == "vLLM died"
    assert str(err.value) == "vLLM died"
    assert err.value.details == {"exit_code": 1}
    assert (err.value.elapsed, err.value.attempts) == (2.5, 2)
    assert len(probe.calls) == 2


def test_hopeless_details_default_to_empty():
    assert Hopeless("x").details == {}


def test_pauses_double_from_sleep_up_to_max_sleep(fake_clock):
    probe = scripted(fake_clock, [(False, None)] * 5 + [(True, None)])
    result = run(fake_clock, probe, 60, 0.25, 1.5)
    assert fake_clock.sleeps == [0.25, 0.5, 1.0, 1.5, 1.5]
    assert result.done


def test_a_max_sleep_below_sleep_keeps_every_pause_at_sleep(fake_clock):
    run(fake_clock, scripted(fake_clock, [(False, None)] * 3 + [(True, None)]), 60, 2, 0.5)
    assert fake_clock.sleeps == [2, 2, 2]


@pytest.mark.parametrize("timeout, sleep, max_sleep", [(-1, 2, 0), (10, -1, 0), (10, 1, -1)])
def test_negative_timeout_or_pauses_are_refused(fake_clock, timeout, sleep, max_sleep):
    with pytest.raises(ValueError, match="must not be negative"):
        run(fake_clock, scripted(fake_clock, [(True, None)]), timeout, sleep, max_sleep)
