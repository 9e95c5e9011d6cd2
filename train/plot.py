"""The pass@k / best@k plot (PNG), drawn with matplotlib's Agg backend (no display needed)."""

from __future__ import annotations

from pathlib import Path

from swegc.train.metrics import RolloutMetrics


def plot_curves(report: RolloutMetrics, path: str | Path, title: str = "swegc metrics") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = list(range(1, len(report.pass_at) + 1))
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    ax.plot(ks, [100 * v for v in report.pass_at], marker="o", label="pass@k (oracle)")
    if report.best_at:
        ax.plot(ks, [100 * v for v in report.best_at], marker="s", label="best@k (verifier)")
    if len(ks) > 2:
        ax.set_xscale("log", base=2)
    ax.set_xticks(ks if len(ks) <= 8 else [k for k in ks if k & (k - 1) == 0])
    ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.set_xlabel("k (samples per instance)")
    ax.set_ylabel("resolved (%)")
    ax.set_title(f"{title}: {report.instances} instances, resolve rate {report.resolve_rate:.1%}")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
