"""One progress display for all of gensci: a bar on a terminal, plain lines anywhere else.

    with Progress("QM9 bond perception:", total=130_831, unit="molecules") as progress:
        for chunk in chunks:
            ...
            progress.advance(len(chunk))

On a terminal (the stream, stderr by default, is a TTY) each task is a rich progress bar, gone when the task
ends; tasks open at the same time (training, and a periodic evaluation's sampling inside it) share one display,
since rich allows only one live display at a time. Anywhere else (a log file, a pipe, a batch job, a notebook's
captured stderr) a task prints a plain line every `every_s` seconds (EVERY_S) or every `every_n` units, e.g.

    step 1200/60000 loss 2.81, 12.3 steps/s, eta 1:21:00

and a last line when it ends; a task that ends within `every_s` prints nothing. A background timer prints
the line even while the task does not advance (a long sampling batch, a slow metric pass) once no task has
printed for `every_s`, so nothing in gensci stays silent for longer (give or take the timer's 0.25 s). Only the
innermost open task speaks then: an outer task (training, a whole command) waits while an inner one (its
periodic evaluation, a sampling loop) runs. `enabled=False` (e.g. `--quiet`) shows nothing. Imports only the
standard library and rich.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, Callable, Iterable, Iterator, TextIO

EVERY_S = 10.0  # seconds between plain lines: the longest silence

_lock = threading.RLock()
_open: list["Progress"] = []  # open plain-line tasks, innermost last
_last_line = [time.monotonic()]  # when any task last printed a plain line (the heartbeat counts silence from it)
_live: dict[str, Any] = {"progress": None, "tasks": 0}  # the rich display shared by the open terminal tasks


class Progress:
    """A task's progress (module docstring). description: what runs ("step", "QM9 bond perception:");
    total: units to do (None: unknown); unit: shown after the counts ("molecules"; "" for none); rate_unit:
    per second (default unit, else "it"); completed: units done before this session (a resumed training);
    stages: the units are steps of unequal length (a metric's passes): elapsed time instead of rate and eta;
    stream: default sys.stderr at start; clock: seconds (a test passes a fake one, and heartbeat=False);
    terminal: force the bar (True) or plain lines (False) instead of asking the stream."""

    def __init__(self, description: str, total: int | None = None, *, unit: str = "", rate_unit: str | None = None,
                 completed: int = 0, enabled: bool = True, every_s: float = EVERY_S, every_n: int | None = None,
                 stages: bool = False, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic,
                 heartbeat: bool = True, terminal: bool | None = None):
        self.description, self.total, self.unit = description, total, unit
        self.rate_unit = rate_unit or unit or "it"
        self.completed = self.start_completed = completed
        self.enabled, self.every_s, self.every_n, self.stages = enabled, every_s, every_n, stages
        self.stream, self.clock, self.heartbeat, self.terminal = stream, clock, heartbeat, terminal
        self.fields: dict[str, Any] = {}
        self.lines = 0  # plain lines printed
        self._task = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- what callers use ----------------------------------------------------------------
    def __enter__(self) -> "Progress":
        if not self.enabled:
            return self
        self.stream = self.stream or sys.stderr
        if self.terminal is None:
            self.terminal = _is_terminal(self.stream)
        self.t0 = self.last_time = self.clock()
        self.last_completed = self.completed
        if self.terminal:
            self._start_bar()
        else:
            with _lock:
                _open.append(self)
            if self.heartbeat:
                self._thread = threading.Thread(target=self._beat, daemon=True, name=f"progress {self.description}")
                self._thread.start()
        return self

    def __exit__(self, kind, error, trace) -> None:
        if not self.enabled:
            return
        if self.terminal:
            self._stop_bar()
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with _lock:
            if self in _open:
                _open.remove(self)
            if kind is None and self.lines:  # a task that spoke says that it ended
                self._print(self.line(done=True))

    def advance(self, n: int = 1, **fields) -> None:
        self.update(self.completed + n, **fields)

    def update(self, completed: int | None = None, **fields) -> None:
        """Set the units done (None: unchanged) and the shown values (e.g. loss=2.81)."""
        if not self.enabled:
            return
        if completed is not None:
            self.completed = completed
        self.fields.update(fields)
        if self.terminal:
            if self._task is not None:
                _live["progress"].update(self._task, completed=self.completed, status=self.status())
            return
        now = self.clock()
        due = now - self.last_time >= self.every_s
        if self.every_n is not None and self.completed - self.last_completed >= self.every_n:
            due = True
        if due:
            with _lock:
                self._print(self.line(), now)

    def note(self, text: str) -> None:
        """A message between the progress lines (or above the bar)."""
        if not self.enabled:
            return
        if self.terminal and _live["progress"] is not None:
            _live["progress"].console.print(text, highlight=False, markup=False)
        else:
            with _lock:
                print(text, file=self.stream or sys.stderr, flush=True)

    # ---- the text ----------------------------------------------------------------------------
    def status(self, done: bool = False) -> str:
        """'1200/60000 loss 2.81, 12.3 steps/s, eta 1:21:00' (the line without the description)."""
        elapsed = self.clock() - self.t0
        count = f"{self.completed}/{self.total}" if self.total is not None else f"{self.completed}"
        if self.total is None and not self.completed and not self.unit:
            count = ""  # a task without counts (a whole command): its time only
        parts = [" ".join([count] * bool(count) + [self.unit] * bool(self.unit and count)
                          + [f"{k} {_value(v)}" for k, v in self.fields.items()])]
        rate = (self.completed - self.start_completed) / elapsed if elapsed > 0 and not self.stages else 0.0
        if done:
            parts.append(f"done in {_clock_time(elapsed)}")
        elif rate > 0:
            parts.append(f"{rate:.0f} {self.rate_unit}/s" if rate >= 100 else f"{rate:.3g} {self.rate_unit}/s")
            if self.total is not None:
                parts.append(f"eta {_clock_time(max(self.total - self.completed, 0) / rate)}")
        if not done and (rate <= 0 or self.total is None):
            parts.append(f"{_clock_time(elapsed)} elapsed")
        return ", ".join(p for p in parts if p)

    def line(self, done: bool = False) -> str:
        return f"{self.description} {self.status(done)}"

    # ---- plain lines --------------------------------------------------------------------------
    def _print(self, text: str, now: float | None = None) -> None:
        print(text, file=self.stream, flush=True)
        _last_line[0] = time.monotonic()
        self.lines += 1
        self.last_time = self.clock() if now is None else now
        self.last_completed = self.completed

    def _beat(self) -> None:
        """Print the line when no task has printed one for every_s (the innermost open task only): silence is
        counted across tasks, so the gap between one task's end and the next one's first line is covered too."""
        while not self._stop.wait(min(0.25, self.every_s)):
            with _lock:
                if _open and _open[-1] is self and time.monotonic() - _last_line[0] >= self.every_s:
                    self._print(self.line())

    # ---- the bar ------------------------------------------------------------------------------------
    def _start_bar(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichProgress

        with _lock:
            if _live["progress"] is None:
                _live["progress"] = RichProgress(TextColumn("{task.description}"), BarColumn(),
                                                 TextColumn("{task.fields[status]}"), TimeElapsedColumn(),
                                                 console=Console(file=self.stream, force_terminal=True), transient=True)
                _live["progress"].start()
            _live["tasks"] += 1
            self._task = _live["progress"].add_task(self.description, total=self.total, completed=self.completed,
                                                    status=self.status())

    def _stop_bar(self) -> None:
        with _lock:
            progress = _live["progress"]
            progress.update(self._task, completed=self.completed, status=self.status(done=True))
            _live["tasks"] -= 1
            if _live["tasks"] == 0:
                progress.stop()
                _live["progress"] = None
            else:  # an inner task's bar goes; the outer one stays
                progress.remove_task(self._task)
            self._task = None


def track(items: Iterable, description: str, total: int | None = None, **options) -> Iterator:
    """Each item of `items`, advancing a Progress (options as Progress's) by one per item."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)
    pending = 0
    with Progress(description, total, **options) as progress:
        for item in items:
            yield item
            pending += 1
            if pending == 16:  # the count in steps of 16: a tenth of the cost per item (tokenizing 1.6 M SMILES)
                progress.advance(pending)
                pending = 0
        progress.advance(pending)


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # a closed or file-like stream without isatty
        return False


def _value(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _clock_time(seconds: float) -> str:
    """H:MM:SS."""
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
