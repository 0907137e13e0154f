"""Measured time and peak memory of self-attention as the number of tokens N grows.

The explicit path materialises the N x N attention matrix per head; the fused
`scaled_dot_product_attention` kernels need not (on GPU the flash kernel never stores it).
Memory on CPU is measured as the growth of the peak resident set of a forked child process that
runs one call (the only honest CPU measure PyTorch offers); on CUDA, with the allocator's peak.
"""

import multiprocessing as mp
import resource
import statistics
import time

import torch
import torch.nn.functional as F

from vitcourse.models.attention import attention_weights


def _attend(q, k, v, fused: bool):
    if fused:
        return F.scaled_dot_product_attention(q, k, v)
    return attention_weights(q, k) @ v


def _qkv(n_tokens, heads, head_dim, batch, device, dtype):
    g = torch.Generator(device="cpu").manual_seed(0)
    return [torch.randn(batch, heads, n_tokens, head_dim, generator=g).to(device, dtype) for _ in range(3)]


def time_attention(n_tokens, heads=4, head_dim=32, batch=1, fused=False, device="cpu",
                   dtype=torch.float32, repeats=5) -> float:
    """Median seconds of one attention call (after one warm-up call)."""
    q, k, v = _qkv(n_tokens, heads, head_dim, batch, device, dtype)
    sync = torch.cuda.synchronize if str(device).startswith("cuda") else (lambda: None)
    _attend(q, k, v, fused)
    times = []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        _attend(q, k, v, fused)
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _child_peak(conn, n_tokens, heads, head_dim, batch, fused):
    torch.set_num_threads(1)
    q, k, v = _qkv(n_tokens, heads, head_dim, batch, "cpu", torch.float32)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    _attend(q, k, v, fused)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    conn.send((after - before) * 1024)  # ru_maxrss is in KiB on Linux
    conn.close()


def peak_memory_attention(n_tokens, heads=4, head_dim=32, batch=1, fused=False, device="cpu") -> int:
    """Extra peak memory in bytes that one attention call needs beyond its inputs."""
    if str(device).startswith("cuda"):
        q, k, v = _qkv(n_tokens, heads, head_dim, batch, device, torch.float32)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        _attend(q, k, v, fused)
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated(device) - base
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child_peak, args=(child, n_tokens, heads, head_dim, batch, fused))
    proc.start()
    result = parent.recv()
    proc.join()
    return result


def attention_cost_table(token_counts, heads=4, head_dim=32, device="cpu"):
    """Rows of {n_tokens, path, seconds, peak_bytes, matrix_bytes} for the explicit and fused paths."""
    rows = []
    for n in token_counts:
        for fused in (False, True):
            rows.append(dict(n_tokens=n, path="fused" if fused else "explicit",
                             seconds=time_attention(n, heads, head_dim, fused=fused, device=device),
                             peak_bytes=peak_memory_attention(n, heads, head_dim, fused=fused, device=device),
                             matrix_bytes=heads * n * n * 4))
    return rows
