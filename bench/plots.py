"""The benchmarks' figures as PNG plots, drawn from the committed results tables (bench/*-results.md and
snapshots/gas-vs-baseline.md), so a plot always shows the figures its table states.

    .venv/bin/python bench/plots.py [--out bench/plots]

Writes, for each results file that exists: gas.png (ours against the naive baseline, per operation, with
the ratio), verify.png (verification time against lineage size, log-log, with a linear reference),
ingest.png (pairs per second per path), exports.png (seconds and size per export of a park-year), and
any other table with a "p50"/"p99" or "events/s" column as latency.png / reindex.png.
"""

import argparse
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no screen
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
Table = tuple[list[str], list[list[str]]]


def tables(path: Path) -> list[Table]:
    """Every Markdown table of `path`: its header and rows, cells stripped."""
    found: list[Table] = []
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    i = 0
    while i < len(lines):
        if lines[i].startswith("|") and i + 1 < len(lines) and re.match(r"^\|[\s:|-]+\|$", lines[i + 1]):
            header = _cells(lines[i])
            rows = []
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(_cells(lines[i]))
                i += 1
            found.append((header, rows))
        else:
            i += 1
    return found


def _cells(line: str) -> list[str]:
    return [c.strip().strip("`") for c in line.strip().strip("|").split("|")]


def number(cell: str) -> float | None:
    match = re.match(r"^-?[\d,]*\.?\d+", cell.replace("\u202f", ""))
    return float(match.group().replace(",", "")) if match else None


def column(header: list[str], *names: str) -> int | None:
    for i, h in enumerate(header):
        if any(h.lower().startswith(n) for n in names):
            return i
    return None


def gas(out: Path) -> Path | None:
    for header, rows in tables(ROOT / "snapshots" / "gas-vs-baseline.md"):
        ours, base = column(header, "ours"), column(header, "baseline")
        if ours is None or base is None:
            continue
        ops = [r[0].removeprefix("SymbiosisLedger.") for r in rows]
        a, b = [number(r[ours]) or 0 for r in rows], [number(r[base]) or 0 for r in rows]
        fig, ax = plt.subplots(figsize=(10, 0.45 * len(ops) + 1.5))
        y = range(len(ops))
        ax.barh([i + 0.2 for i in y], b, height=0.4, label="naive baseline", color="#b0b7bf")
        ax.barh([i - 0.2 for i in y], a, height=0.4, label="SymbiosisLedger", color="#0d5c63")
        for i, (x, z) in enumerate(zip(a, b, strict=True)):
            ax.text(z * 1.05, i, f"×{z / x:.2f}" if x else "", va="center", fontsize=8)
        ax.set_yticks(list(y), ops, fontsize=8)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.set_xlim(right=max(b) * 4)  # room for the ratios
        ax.set_xlabel("gas (log scale)")
        ax.set_title("Gas per operation against the naive baseline (ratio baseline/ours)")
        ax.legend(loc="lower right")
        return _save(fig, out / "gas.png")
    return None


def verify(out: Path) -> Path | None:
    found = [
        (h, r) for h, r in tables(ROOT / "bench" / "verify-results.md") if column(h, "shape") is not None
    ]
    if not found:
        return None
    # The first table is the latest SQLite run, the last PostgreSQL's (those between are earlier runs).
    found = found[:1] + found[1:][-1:]
    fig, ax = plt.subplots(figsize=(7, 5))
    for n, (header, rows) in enumerate(found):
        shape_i, size_i, total_i = (
            column(header, "shape"),
            column(header, "transfers"),
            column(header, "total"),
        )
        database = "SQLite" if n == 0 else "PostgreSQL"
        for shape in sorted({r[shape_i] for r in rows}):
            points = sorted((number(r[size_i]), number(r[total_i])) for r in rows if r[shape_i] == shape)
            ax.plot(*zip(*points, strict=True), marker="o", label=f"{shape}, {database}")
    sizes = [number(r[column(found[0][0], "transfers")]) for r in found[0][1]]
    smallest, largest = min(sizes), max(sizes)
    ax.plot(
        [smallest, largest], [2 * smallest / 10_000, 2], "k--", linewidth=1, label="linear, 2 s at 10,000"
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("transfers in the lineage")
    ax.set_ylabel("seconds (build + evaluate)")
    ax.set_title("Verification of a lineage from the read model")
    ax.legend(fontsize=8)
    return _save(fig, out / "verify.png")


def bars(
    source: str, value: str, title: str, xlabel: str, name: str, out: Path, labels: int = 1, log: bool = False
) -> Path | None:
    """The first table of `source` with a `value` column, one bar per row named by its first `labels` cells."""
    for header, rows in tables(ROOT / "bench" / source):
        i = column(header, value)
        if i is None:
            continue
        labelled = [(" · ".join(r[:labels]), number(r[i])) for r in rows if number(r[i]) is not None]
        fig, ax = plt.subplots(figsize=(9, 0.5 * len(labelled) + 1.5))
        ax.barh([label for label, _ in labelled], [v for _, v in labelled], color="#0d5c63")
        for k, (_, v) in enumerate(labelled):
            ax.text(v, k, f" {v:,.3g}", va="center", fontsize=8)
        ax.invert_yaxis()
        if log:
            ax.set_xscale("log")
        ax.set_xlabel(xlabel + (" (log scale)" if log else ""))
        ax.set_title(title)
        return _save(fig, out / name)
    return None


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "plots")
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    written = [
        gas(out),
        verify(out),
        bars("ingest-results.md", "pairs/s", "Ingest through the API", "pairs per second", "ingest.png", out),
        bars("exports-results.md", "seconds", "Exports of one park-year", "seconds", "exports.png", out),
        bars(
            "latency-results.md",
            "p99",
            "API latency, p99, by load",
            "milliseconds",
            "latency.png",
            out,
            2,
            True,
        ),
        bars("reindex-results.md", "events/s", "Reindex", "chain events per second", "reindex.png", out),
    ]
    for path in written:
        if path is not None:
            print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
