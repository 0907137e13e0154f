"""``fit``: the one training loop every model in the book goes through.

It owns the run directory: ``run.json`` (the run log) and ``checkpoint/`` (the last completed
epoch). Calling it again with the same directory and config resumes after the last completed
epoch, or, for a finished run, returns the log without training.

``fit`` reads top to bottom: check the run directory, build the optimizer and the run log,
resume, then the epoch loop (train, evaluate, checkpoint, log). Everything else -- resuming,
DDP and compile wrapping, the divergence stop, writing checkpoint and log -- is a small helper
below it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from . import environment, time_budget
from .average import WeightAverage
from .checkpoint import latest_checkpoint, load_checkpoint, read_checkpoint_meta, save_checkpoint
from .config import TrainConfig, config_differences
from .distributed import DistContext, all_reduce_max, barrier, init_distributed
from .epoch import Engine, NonFiniteLoss, Objective, classification_objective, evaluate, train_one_epoch
from .errors import ConfigMismatch, ResumeMismatch, TrainingDiverged
from .optim import Schedule, build_optimizer
from .progress import Progress
from .protocol import TrainLoader
from .runlog import RunLog, check_extra, planned_epochs, read_run_log
from ..seeding import seed_epoch

CHECKPOINT_DIR = "checkpoint"
NO_TEST = {"test_loss": None, "test_acc": None, "test_samples": 0, "eval_time_s": 0.0}


def fit(model: nn.Module, train_loader, test_loader, config: TrainConfig,
        run_dir: str | Path, *, command: str | None = None,
        extra_log: dict[str, Any] | None = None, progress: bool = True,
        device: str | torch.device | None = None,
        on_epoch_end: Callable[[dict[str, Any]], None] | None = None,
        stop_after_epoch: int | None = None, time_limit_s: float | None = None,
        checkpoint_dir: str | Path | None = None,
        objective: Objective | None = None,
        lr_scales: dict[str, float] | None = None, checkpoint_every: int = 1) -> dict[str, Any]:
    """Train ``model`` for ``config.epochs`` epochs, logging and checkpointing into ``run_dir``.

    ``test_loader`` may be None (no evaluation; test metrics are logged as null).
    ``model`` is a plain module (fit moves it to the device and wraps it for DDP/compile
    itself); after fit it holds the final weights. ``command`` overrides the command recorded
    in the log (default: this process's command line); ``extra_log`` adds top-level keys such
    as ``{"dataset": {...}}``. ``on_epoch_end(metrics)`` runs on every rank after each epoch.
    ``stop_after_epoch=k`` returns once k epochs are complete, and ``time_limit_s`` before an
    epoch that would likely end past the limit; both leave status "running", to be resumed.
    ``checkpoint_dir`` (default ``run_dir/checkpoint``) lets the log live in a results folder
    under git while the weights go somewhere ignored. ``objective(net, images, targets)`` returns
    ``(loss, logits or None)``; the default is cross-entropy with the config's label smoothing.
    Other losses (distillation, class weights, hard-example mining, self-supervised
    pre-training with logits None) plug in here; the caller records which one in ``extra_log``.
    ``lr_scales`` (``{name prefix: s}``) trains those parameters at ``s`` x the scheduled lr,
    e.g. a pre-trained encoder fine-tuned gently (see ``optim.param_groups``).
    ``checkpoint_every=k`` saves the checkpoint every k epochs instead of every epoch (0: only
    after the last); a run that stops early saves its last epoch all the same, so it resumes.

    Returns the run log (the contents of ``run.json``). Raises ``ConfigMismatch`` when
    ``run_dir`` holds a run with another config and ``TrainingDiverged`` on a NaN/inf loss.
    """
    run_dir, ctx = Path(run_dir), init_distributed(device)
    ckpt_dir = Path(checkpoint_dir) if checkpoint_dir is not None else run_dir / CHECKPOINT_DIR
    latest = latest_checkpoint(ckpt_dir)
    meta = read_checkpoint_meta(latest) if latest else None
    previous = _previous_run(run_dir, config, meta)
    if previous is not None and previous.get("status") == "finished":
        if latest is not None:  # hand back the trained weights too, e.g. for a notebook to inspect
            load_checkpoint(latest, model)
        return previous

    steps_per_epoch = _steps_per_epoch(train_loader)
    use_cuda = ctx.device.type == "cuda"
    channels_last = config.channels_last and use_cuda
    model.to(ctx.device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(model, config, lr_scales)
    average = WeightAverage(model, config.weight_average) if config.weight_average else None
    command = command or environment.current_command()
    log = _new_log(run_dir, model, config, ctx, command, steps_per_epoch, channels_last, extra_log)
    start_epoch = _resume_state(run_dir, latest, meta, model, optimizer, log, steps_per_epoch, average)
    run_epochs = planned_epochs(log.data)   # config.epochs, or what its time budget decided
    log.start_segment(start_epoch, command)
    train_net, eval_net = _wrap(model, ctx, config.compile)
    engine = Engine(train_net=train_net, eval_net=eval_net, optimizer=optimizer,
                    schedule=Schedule(config, steps_per_epoch, run_epochs), ctx=ctx,
                    amp=config.amp == "bf16" and use_cuda, channels_last=channels_last,
                    grad_clip=config.grad_clip, log_every=config.log_every,
                    objective=objective or classification_objective(config.label_smoothing),
                    average=average)
    bar = Progress(progress and ctx.is_main)
    if start_epoch:
        bar.note(f"resuming {run_dir} after epoch {start_epoch}/{run_epochs}")
    if ctx.is_main:
        log.write()

    segment_start, wall_before = time.perf_counter(), log.data["wall_time_s"]

    def wall_time() -> float:  # the run's wall-clock over all its segments so far
        return wall_before + time.perf_counter() - segment_start

    last_epoch_time, saved = 0.0, start_epoch
    probing = config.time_budget_min is not None and "time_budget" not in log.data
    probe_times: list[tuple[float, float]] = []   # (epoch without test, test) in this segment
    record_times: list[float] = []                # seconds saving checkpoint and log, ditto
    for epoch in range(start_epoch, config.epochs):  # 0-based here, 1-based in the log
        if epoch >= run_epochs or _should_stop(ctx, epoch, start_epoch, stop_after_epoch, time_limit_s,
                                               time.perf_counter() - segment_start, last_epoch_time):
            break
        epoch_start = time.perf_counter()
        seed_epoch(config.seed, epoch, ctx.rank)
        train_loader.set_epoch(epoch)
        if test_loader is not None and hasattr(test_loader, "set_epoch"):
            test_loader.set_epoch(epoch)
        if use_cuda:
            torch.cuda.reset_peak_memory_stats(ctx.device)

        bar.start_epoch(epoch + 1, run_epochs, steps_per_epoch)
        try:
            train_metrics = train_one_epoch(engine, train_loader, epoch * steps_per_epoch, bar)
        except NonFiniteLoss as bad:
            bar.end_epoch()
            _on_divergence(ctx, log, run_dir, epoch, bad, wall_time())  # raises TrainingDiverged
        bar.end_epoch()
        _sync_buffers(ctx, model)
        tested = ((epoch + 1) % config.eval_every == 0 or epoch + 1 == run_epochs
                  or (probing and epoch < time_budget.PROBE_EPOCHS))
        test_start = time.perf_counter()
        test_metrics = evaluate(engine, test_loader) if test_loader is not None and tested else NO_TEST
        if average is not None and test_metrics is not NO_TEST:
            averaged = evaluate(engine, test_loader, average.model)
            test_metrics = {**test_metrics, "avg_test_acc": averaged["test_acc"],
                            "avg_test_loss": averaged["test_loss"]}

        last_epoch_time, test_time = time.perf_counter() - epoch_start, time.perf_counter() - test_start
        metrics = {"epoch": epoch + 1, **train_metrics, **test_metrics, "epoch_time_s": last_epoch_time,
                   "peak_gpu_memory_bytes": _peak_memory(ctx, use_cuda)}
        log.add_epoch(metrics, wall_time())
        bar.note(_summary(metrics, run_epochs))
        if probing:
            probe_times.append((last_epoch_time - test_time, test_time))
            if epoch + 1 >= time_budget.PROBE_EPOCHS:
                run_epochs = _decide_epochs(ctx, log, config, probe_times, record_times, epoch + 1,
                                            wall_time(), bar)
                engine.schedule, probing = Schedule(config, steps_per_epoch, run_epochs), False
        save = epoch + 1 == run_epochs or (checkpoint_every > 0 and (epoch + 1) % checkpoint_every == 0)
        record_start = time.perf_counter()
        _record_epoch(ctx, log, ckpt_dir, epoch + 1, model, optimizer, config, steps_per_epoch, save, average)
        record_times.append(time.perf_counter() - record_start)
        saved = epoch + 1 if save else saved
        if on_epoch_end is not None:
            on_epoch_end(metrics)

    if saved < len(log.data["epochs"]):  # stopped early between checkpoints: keep it resumable
        _record_epoch(ctx, log, ckpt_dir, len(log.data["epochs"]), model, optimizer, config, steps_per_epoch)
    if len(log.data["epochs"]) == run_epochs:
        log.set_status("finished")
        if ctx.is_main:
            log.write()
    return log.data


# ---- before the loop ----------------------------------------------------------------------------

def _previous_run(run_dir: Path, config: TrainConfig, meta: dict | None) -> dict[str, Any] | None:
    """The run log already in ``run_dir`` (or None); ConfigMismatch if it ran another config."""
    previous = read_run_log(run_dir)
    # The checkpoint is the source of truth; the log alone exists if epoch 1 never completed.
    saved_config = meta["state"]["config"] if meta else (previous or {}).get("config")
    if saved_config is not None:
        differences = config_differences(saved_config, config.to_dict())
        if differences:
            raise ConfigMismatch(str(run_dir), differences)
    return previous


def _steps_per_epoch(train_loader) -> int:
    """``len(train_loader)``, after checking the loader has what fit calls (``protocol.TrainLoader``)."""
    if not isinstance(train_loader, TrainLoader):
        missing = [m for m in ("set_epoch", "__len__", "__iter__") if not hasattr(train_loader, m)]
        raise TypeError(f"train_loader lacks {', '.join(f'{m}()' for m in missing)}: see "
                        "vitcourse.train.protocol for what fit needs (tests/memory_loader.py is "
                        "a minimal example)")
    steps = len(train_loader)
    if steps < 1:
        raise ValueError("the training loader yields no batches")
    return steps


def _new_log(run_dir: Path, model: nn.Module, config: TrainConfig, ctx: DistContext, command: str,
             steps_per_epoch: int, channels_last: bool, extra_log: dict[str, Any] | None) -> RunLog:
    """A fresh run log: config, command, software versions, device, git state, model size."""
    use_cuda = ctx.device.type == "cuda"
    return RunLog.new(
        run_dir, config=config.to_dict(), command=command, seed=config.seed,
        versions=environment.versions(),
        device={"name": environment.device_name(ctx.device), "type": ctx.device.type,
                "amp": "bf16" if config.amp == "bf16" and use_cuda else "none",
                "channels_last": channels_last, "compile": config.compile,
                "cpu_threads": torch.get_num_threads()},
        world_size=ctx.world_size, git=environment.git_info(),
        parameters=sum(p.numel() for p in model.parameters()),
        trainable_parameters=sum(p.numel() for p in model.parameters() if p.requires_grad),
        steps_per_epoch=steps_per_epoch, extra=check_extra(extra_log))


def _resume_state(run_dir: Path, latest: Path | None, meta: dict | None, model: nn.Module,
                  optimizer: torch.optim.Optimizer, log: RunLog, steps_per_epoch: int,
                  average: WeightAverage | None = None) -> int:
    """Load the last checkpoint (weights, optimizer, log history); the number of epochs it holds."""
    if meta is None:
        return 0
    saved_steps = meta["state"]["steps_per_epoch"]
    if saved_steps != steps_per_epoch:
        raise ResumeMismatch(
            f"{run_dir}: the saved run had {saved_steps} batches per epoch, the loader now "
            f"yields {steps_per_epoch} (different data, batch size or number of ranks?). "
            "Use a new run_dir, or the same data and launch to resume.")
    load_checkpoint(latest, model, optimizer, average.model if average else None)
    log.restore(meta["state"])
    return meta["epoch"]


def _wrap(model: nn.Module, ctx: DistContext, use_compile: bool) -> tuple[nn.Module, nn.Module]:
    """(train_net, eval_net): DDP for training only, then torch.compile (the order PyTorch recommends).

    Evaluation never goes through DDP, so it runs no collectives per batch.
    """
    train_net: nn.Module = model
    if ctx.distributed:
        device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
        train_net = DistributedDataParallel(model, device_ids=device_ids)
    eval_net: nn.Module = model
    if use_compile:
        eval_net = torch.compile(model)
        train_net = torch.compile(train_net) if ctx.distributed else eval_net
    return train_net, eval_net


# ---- inside the loop ----------------------------------------------------------------------------

def _decide_epochs(ctx: DistContext, log: RunLog, config: TrainConfig, probe_times: list[tuple[float, float]],
                   record_times: list[float], done: int, elapsed_s: float, bar: Progress) -> int:
    """The time budget's decision, logged: an epoch costs the slowest steady one (the segment's
    first, which compiles, counts only when it is all there is) plus the slowest checkpoint so far.
    Ranks' clocks differ, so rank 0 decides for all."""
    steady = probe_times[1:] or probe_times
    epoch_s = max(t for t, _ in steady) + max(record_times, default=0.0)
    decision = time_budget.decide(config, elapsed_s, done, epoch_s, max(s for _, s in steady))
    epochs = torch.tensor([float(decision["epochs"])], device=ctx.device)
    if ctx.distributed:
        dist.broadcast(epochs, src=0)
    decision["epochs"] = int(epochs.item())
    log.data["time_budget"] = decision
    bar.note(f"time budget {config.time_budget_min:g} min: {decision['epochs']} epochs fit "
             f"(at most {config.epochs}; {decision['epoch_s']:.2f} s per epoch, "
             f"{decision['test_pass_s']:.2f} s per test pass, {elapsed_s:.1f} s spent)")
    return decision["epochs"]


def _should_stop(ctx: DistContext, epoch: int, start_epoch: int, stop_after_epoch: int | None,
                 time_limit_s: float | None, elapsed: float, last_epoch_time: float) -> bool:
    """Stop before this epoch? Ranks' clocks differ, so they agree through an all-reduce."""
    stop = stop_after_epoch is not None and epoch >= stop_after_epoch
    if time_limit_s is not None and epoch > start_epoch:
        stop = stop or elapsed + last_epoch_time > time_limit_s
    flag = torch.tensor([float(stop)], device=ctx.device)
    return bool(all_reduce_max(ctx, flag).item())


def _on_divergence(ctx: DistContext, log: RunLog, run_dir: Path, epoch: int, bad: NonFiniteLoss,
                   wall_time_s: float) -> None:
    """Write the log as "diverged" (the last checkpoint stays), then raise TrainingDiverged."""
    if ctx.is_main:
        log.data["wall_time_s"] = wall_time_s
        log.set_status("diverged", divergence={
            "epoch": epoch + 1, "step": bad.step, "loss": str(bad.loss), "last_good_epoch": epoch})
        log.write()
    barrier(ctx)  # torchrun stops the other ranks when one fails: let the log land first
    raise TrainingDiverged(epoch + 1, bad.step, bad.loss, str(run_dir), epoch) from None


def _sync_buffers(ctx: DistContext, model: nn.Module) -> None:
    """Give every rank rank 0's buffers (BatchNorm statistics) so evaluation matches the checkpoint."""
    if ctx.distributed:
        for buffer in model.buffers():
            dist.broadcast(buffer.data, src=0)


def _record_epoch(ctx: DistContext, log: RunLog, ckpt_dir: Path, epochs_done: int, model: nn.Module,
                  optimizer: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int,
                  save: bool = True, average: WeightAverage | None = None) -> None:
    """Rank 0 saves the checkpoint (unless save=False), then the log; every rank waits for both."""
    if ctx.is_main:
        if save:
            state = {"config": config.to_dict(), "steps_per_epoch": steps_per_epoch,
                     "global_step": epochs_done * steps_per_epoch, **log.history()}
            save_checkpoint(ckpt_dir, epochs_done, model, optimizer, state,
                            average.model if average else None)
        # After the checkpoint: the log claims no epoch it cannot resume, except between
        # checkpoints with checkpoint_every > 1 (a resumed run restores the checkpoint's history).
        log.write()
    barrier(ctx)  # no rank runs ahead (or exits) while rank 0 is still writing


def _peak_memory(ctx: DistContext, use_cuda: bool) -> int | None:
    if not use_cuda:
        return None
    peak = torch.tensor([float(torch.cuda.max_memory_allocated(ctx.device))], device=ctx.device)
    return int(all_reduce_max(ctx, peak).item())


def _summary(m: dict[str, Any], epochs: int) -> str:
    def num(value, fmt):
        return "n/a" if value is None else format(value, fmt)
    return (f"epoch {m['epoch']}/{epochs}: train loss {num(m['train_loss'], '.4f')} "
            f"acc {m['train_acc']:.3f} | test loss {num(m['test_loss'], '.4f')} "
            f"acc {num(m['test_acc'], '.3f')} | {m['images_per_s']:,.0f} img/s | "
            f"{m['epoch_time_s']:.1f} s")
