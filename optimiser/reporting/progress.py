"""A progress bar for any long call of the public API (``solve``, ``compare``, ``run_variants``)."""
from __future__ import annotations

from optimiser.options import Progress, ProgressCallback


def progress_bar(label: str = "") -> ProgressCallback:
    """An ``on_progress`` callback drawing a tqdm bar (in a notebook, its widget): solves done
    of the total for a comparison or a set of variants; seconds of the time limit for a solve,
    with the best cost so far. The bar closes itself when the last solve is done or the time
    limit is reached."""
    from tqdm.auto import tqdm

    state: dict = {}

    def on_progress(p: Progress) -> None:
        bar = state.get("bar")
        if p.total is not None:
            if bar is None:
                bar = state["bar"] = tqdm(total=p.total, desc=label or "solves", unit="solve")
            bar.update(p.done - bar.n)
            if p.done >= p.total:
                bar.close()
            return
        if bar is None:
            bar = state["bar"] = tqdm(total=round(p.time_limit_s), desc=label or "search", unit="s")
        bar.update(min(round(p.elapsed_s), bar.total) - bar.n)
        if p.best_cost is not None:
            bar.set_postfix_str(f"best £{p.best_cost:,.2f}")

    return on_progress
