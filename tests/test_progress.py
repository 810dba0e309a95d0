"""gensci.progress: plain lines off a terminal (every N seconds or units, with rate and eta), a bar on one."""

import io
import re
import time

from gensci.progress import Progress, track


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_plain_lines_every_n_seconds_with_rate_and_eta():
    clock, stream = FakeClock(), io.StringIO()
    with Progress("step", total=60000, rate_unit="steps", stream=stream, clock=clock, heartbeat=False,
                  terminal=False, every_s=10) as progress:
        for step in range(1, 1201):
            clock.now = step / 12.0  # 12 steps per second
            progress.update(step, loss=2.81)
    lines = stream.getvalue().splitlines()
    # 100 s of work: one line per 10 s, then the closing line
    assert len(lines) == 11, lines
    assert lines[0] == "step 120/60000 loss 2.81, 12 steps/s, eta 1:23:10"
    assert lines[-1] == "step 1200/60000 loss 2.81, done in 0:01:40"


def test_plain_lines_every_n_units_and_silence_for_short_tasks():
    clock, stream = FakeClock(), io.StringIO()
    with Progress("parse:", total=100, unit="molecules", every_n=25, stream=stream, clock=clock, heartbeat=False,
                  terminal=False) as progress:
        for _ in range(100):
            clock.now += 0.01
            progress.advance()
    counts = [int(re.match(r"parse: (\d+)/100 molecules", line).group(1)) for line in stream.getvalue().splitlines()]
    assert counts == [25, 50, 75, 100, 100]
    quiet = io.StringIO()
    with Progress("fast:", total=3, stream=quiet, clock=FakeClock(), heartbeat=False, terminal=False) as progress:
        progress.advance(3)
    assert quiet.getvalue() == ""  # ended within every_s: nothing to say


def test_heartbeat_speaks_while_the_task_does_not_advance_and_only_the_innermost():
    stream = io.StringIO()
    with Progress("outer", total=2, stream=stream, terminal=False, every_s=0.05):
        with Progress("inner:", total=5, unit="batches", stream=stream, terminal=False, every_s=0.05):
            time.sleep(0.4)  # a long batch: no advance at all
    lines = stream.getvalue().splitlines()
    inner = [line for line in lines if line.startswith("inner: 0/5 batches")]
    assert len(inner) >= 2, lines
    assert not any(line.startswith("outer 0/2") for line in lines[: lines.index(inner[-1])]), lines


def test_disabled_and_track():
    stream = io.StringIO()
    with Progress("x", total=3, enabled=False, stream=stream, terminal=False, every_n=1) as progress:
        progress.advance(3)
        progress.note("hello")
    assert stream.getvalue() == ""
    assert list(track(range(40), "items", stream=stream, terminal=False, every_n=16, heartbeat=False)) == list(range(40))
    lines = stream.getvalue().splitlines()  # counted in steps of 16
    assert [line.split(",")[0] for line in lines] == ["items 16/40", "items 32/40", "items 40/40"], lines


def test_terminal_bar_draws_and_nests():
    stream = io.StringIO()
    with Progress("step", total=10, stream=stream, terminal=True) as outer:
        outer.update(4, loss=1.5)
        with Progress("sampling:", total=2, unit="batches", stream=stream, terminal=True) as inner:
            inner.advance(2)  # a second display would raise rich's LiveError: the two share one
        outer.note("a note")
        outer.update(10)
    text = stream.getvalue()
    assert "step" in text and "10/10" in text and "loss 1.5" in text and "a note" in text


def test_stages_show_elapsed_time_not_a_rate():
    clock, stream = FakeClock(), io.StringIO()
    with Progress("measuring:", 3, unit="protocols", stages=True, stream=stream, clock=clock, heartbeat=False,
                  terminal=False) as progress:
        clock.now = 25.0
        progress.advance()
    assert stream.getvalue().splitlines() == ["measuring: 1/3 protocols, 0:00:25 elapsed",
                                              "measuring: 1/3 protocols, done in 0:00:25"]
