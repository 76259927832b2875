"""PNG plots of the bench results (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path


def available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, path: Path) -> Path:
    """Lay the figure out, write it as PNG and close it (pyplot keeps every open figure)."""
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def throughput(fast: list[dict], slow: list[dict], latency_ms: float, path: Path) -> Path:
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    for ax, runs, title in (
        (axes[0], fast, fast[0]["server"] if fast else ""),
        (axes[1], slow, slow[0]["server"] if slow else ""),
    ):
        names = [r["crawler"] for r in runs]
        bars = ax.barh(names, [r["pages_per_s"] for r in runs], color="#4C72B0")
        ax.bar_label(bars, fmt="%.0f", padding=3)
        ax.set_title(f"pages/s, 16 concurrency — {title}")
        ax.invert_yaxis()
    if slow:
        bound = 1000 * slow[0]["threads"] / latency_ms
        axes[1].axvline(bound, color="#C44E52", linestyle="--", label=f"bound {bound:.0f}/s")
        axes[1].legend(loc="lower right")
    names = [r["crawler"] for r in fast]
    bars = axes[2].barh(names, [r["cpu_ms_per_page"] for r in fast], color="#55A868")
    axes[2].bar_label(bars, fmt="%.2f", padding=3)
    axes[2].set_title("CPU ms per page (crawler process only)")
    axes[2].invert_yaxis()
    return _save(plt, fig, path)


def scaling(runs: list[dict], latency_ms: float, path: Path) -> Path:
    plt = _pyplot()
    threads = [r["threads"] for r in runs]
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    ax.plot(threads, [r["pages_per_s"] for r in runs], "o-", label="engine, measured")
    ax.plot(threads, [1000 * t / latency_ms for t in threads], "--", label="latency bound")
    cpu_bound = [1000 / r["cpu_ms_per_page"] for r in runs]
    ax.plot(threads, cpu_bound, ":", color="#C44E52", label="CPU bound 1 / CPU per page")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(threads, [str(t) for t in threads])
    ax.set_xlabel("worker threads")
    ax.set_ylabel("pages/s")
    ax.set_title(f"Scaling on the embedded site, {latency_ms:g} ms per request")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return _save(plt, fig, path)


def rss(pages: list[float], rss_mib: list[float], warmup: int, path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    ax.plot(pages, rss_mib)
    ax.axvline(warmup, color="#C44E52", linestyle=":", label=f"{warmup} pages")
    ax.set_xlabel("pages crawled")
    ax.set_ylabel("RSS (MiB)")
    ax.set_title("Engine RSS over a long crawl of the embedded site")
    ax.grid(True, alpha=0.3)
    ax.legend()
    return _save(plt, fig, path)
