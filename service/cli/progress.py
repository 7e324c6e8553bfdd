"""Progress bars on standard error while a solve runs (only when it is a terminal)."""
from __future__ import annotations

import sys
import threading
import time

from optimiser import Plan, Problem, Progress, SolveOptions, solve


class ProgressBar:
    """A tqdm bar over the time limit, showing the best cost so far."""

    def __init__(self, seconds: float, label: str, enabled: bool):
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=round(seconds, 1), desc=label, unit="s", leave=False, file=sys.stderr,
                            bar_format="{desc} {bar} {n:.0f}/{total:.0f}s {postfix}")

    def __call__(self, progress: Progress) -> None:
        if self.bar is not None:
            self.bar.n = min(round(progress.elapsed_s, 1), self.bar.total)
            self.bar.set_postfix_str(f"best £{progress.best_cost:,.2f}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class SolvesBar:
    """A tqdm bar counting finished solves of the total known so far, drawn only when ``show``.

    Used as a context manager whose value is the ``on_progress`` callback of the analyses that run
    many solves (the comparison, the clock advisor, the operating models): the bar is closed however
    the analysis ends.
    """

    def __init__(self, show: bool):
        self.bar = None
        if show:
            from tqdm import tqdm

            self.bar = tqdm(desc="solves", unit="solve", file=sys.stderr, leave=False)

    def __call__(self, progress: Progress) -> None:
        if self.bar is not None:
            self.bar.total = progress.total
            self.bar.n = progress.done
            self.bar.refresh()

    def __enter__(self) -> "SolvesBar":
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()


def solve_with_bar(problem: Problem, options: SolveOptions, label: str, show: bool, executor=None) -> Plan:
    """``solve``, with a bar labelled ``label`` when ``show``."""
    bar = ProgressBar(options.time_limit_s, label, show)
    latest: list = [None]
    done = threading.Event()
    started = time.monotonic()

    def tick():  # move the bar with the clock, not only when the cost improves
        while not done.wait(0.5):
            best = latest[0]
            bar(Progress(time.monotonic() - started, best.best_cost if best else float("nan"),
                         options.time_limit_s))

    ticker = threading.Thread(target=tick, daemon=True)
    if show:
        ticker.start()

    def on_progress(p):
        latest[0] = p
        bar(p)

    try:
        return solve(problem, options, on_progress=on_progress, executor=executor)
    finally:
        done.set()
        bar.close()
