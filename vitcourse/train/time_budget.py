"""Train for a time budget: as many epochs as fit in ``TrainConfig.time_budget_min`` minutes.

How fast a model trains on a GPU is known only once it runs there (compilation, kernel launches,
augmentation), so a run with a time budget measures itself: its first ``PROBE_EPOCHS`` epochs are
each tested (the first epoch pays for compiling training and evaluation, the last is steady), then
it decides once how many epochs, at most ``config.epochs``, fit in the minutes left, and the lr
schedule is bound to that count. Warm-up must cover the probe (``TrainConfig`` checks), so the lr
of every step taken before the decision does not depend on it: the run is step for step the run
with ``epochs`` set to the decided count (a test checks this). The decision, with what it was
based on, is logged as ``time_budget`` and checkpointed, so a resumed run keeps it.
"""

from __future__ import annotations

PROBE_EPOCHS = 3


def evaluations_between(done: int, end: int, eval_every: int) -> int:
    """Test passes in epochs done+1 .. end (1-based): every ``eval_every``-th, and the last."""
    every = sum(1 for k in range(done + 1, end + 1) if k % eval_every == 0)
    return every + (1 if end > done and end % eval_every else 0)


def epochs_within(budget_s: float, elapsed_s: float, done: int, most: int, epoch_s: float,
                  test_s: float, eval_every: int) -> int:
    """The most epochs in total (``done`` <= E <= ``most``) whose epochs after ``done``, each
    ``epoch_s`` seconds, and test passes, each ``test_s``, end within ``budget_s``. ``done`` when
    not even one more fits (the run then stops after its probe)."""
    fits = done
    for end in range(done + 1, most + 1):   # the cost only grows with ``end``
        cost = (end - done) * epoch_s + evaluations_between(done, end, eval_every) * test_s
        if elapsed_s + cost > budget_s:
            break
        fits = end
    return fits


def decide(config, elapsed_s: float, done: int, epoch_s: float, test_s: float) -> dict:
    """The logged decision of a run with a time budget, after ``done`` epochs and ``elapsed_s``
    seconds of its wall time; ``epoch_s`` and ``test_s`` are its slowest steady epoch (training,
    checkpoint and log) and test pass."""
    budget_s = 60.0 * config.time_budget_min
    epochs = epochs_within(budget_s, elapsed_s, done, config.epochs, epoch_s, test_s, config.eval_every)
    return {"minutes": config.time_budget_min, "epochs": epochs, "decided_after_epoch": done,
            "elapsed_s": round(elapsed_s, 3), "epoch_s": round(epoch_s, 4), "test_pass_s": round(test_s, 4)}
