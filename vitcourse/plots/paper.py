"""Figures of numbers published in papers (Part I of the book).

Every figure drawn with these helpers shows numbers copied from a paper, not results of the
course's own runs, so each one carries a visible "paper's numbers" label that names its source.
"""

import numpy as np

PAPER_LABEL = "paper's numbers"


def mark_paper_numbers(ax, source: str, loc: str = "lower right"):
    """Write "paper's numbers: <source>" in a corner of the axes, in small grey type."""
    x, ha = (0.99, "right") if "right" in loc else (0.01, "left")
    y, va = (0.02, "bottom") if "lower" in loc else (0.98, "top")
    ax.text(x, y, f"{PAPER_LABEL}: {source}", transform=ax.transAxes, ha=ha, va=va, fontsize=7,
            color="0.35", bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="0.8", alpha=0.9))
    return ax


def grouped_bars(ax, table: dict, series: list | None = None, fmt: str = "{:.2f}", colors=None,
                 width: float = 0.8, label_bars: bool = True, fontsize: int = 7):
    """Bars for a table {group: {series: value}}: one cluster per group, one bar per series.

    Missing values (None or an absent key) leave a gap. Returns the BarContainers by series.
    """
    groups = list(table)
    series = series or list(dict.fromkeys(k for row in table.values() for k in row))
    step = width / len(series)
    x = np.arange(len(groups))
    bars = {}
    for i, name in enumerate(series):
        values = [table[g].get(name) for g in groups]
        pos = [xi - width / 2 + (i + 0.5) * step for xi, v in zip(x, values) if v is not None]
        vals = [v for v in values if v is not None]
        color = None if colors is None else colors[i % len(colors)]
        bars[name] = ax.bar(pos, vals, step * 0.92, label=name, color=color)
        if label_bars:
            for p, v in zip(pos, vals):
                ax.text(p, v, " " + fmt.format(v) + " ", ha="center", va="bottom" if v >= 0 else "top",
                        fontsize=fontsize, rotation=90)
    ax.set_xticks(x, groups)
    if label_bars:  # leave room for the labels above (and below) the bars
        lo, hi = ax.get_ylim()
        ax.set_ylim(lo - 0.25 * (hi - lo) * (lo < 0), hi + 0.15 * (hi - lo))
    return bars


def labelled_scatter(ax, points: dict, marker: str = "o", color=None, label: str | None = None,
                     offset=(4, 4), fontsize: int = 8):
    """Scatter {name: (x, y)} and write each point's name next to it."""
    xs, ys = zip(*points.values())
    ax.scatter(xs, ys, marker=marker, color=color, label=label, zorder=3)
    for name, (x, y) in points.items():
        ax.annotate(name, (x, y), textcoords="offset points", xytext=offset, fontsize=fontsize)
    return ax

