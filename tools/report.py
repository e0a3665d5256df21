#!/usr/bin/python3
"""Plots and a Markdown page for photon-sim runs and sweeps.

    tools/report.py RUN_DIR... -o OUT_DIR [--title TEXT]

A RUN_DIR is a run directory (metrics.jsonl, summary.json) or a sweep
directory (sweep.json): a sweep's points are grouped over seeds and drawn as
their mean with a shaded band of +-1 standard deviation.  Writes into OUT_DIR:

  perplexity_tokens.png   validation perplexity against training tokens
  perplexity_rounds.png   ... against rounds
  perplexity_time.png     ... against training time (sum of the round events'
                          seconds, as `photon-sim compare` counts it)
  perplexity_sources.png  per validation source (eval events' perplexity_by_source),
                          when the runs have it
  training.png            client learning rate, gradient norm and update norm per
                          round, when the runs have them
  report.md               the figures and a table of the runs

Needs matplotlib (Debian: python3-matplotlib).  Odd or truncated lines of
metrics.jsonl are skipped with a warning.  See docs/EXPERIMENTS.md.
"""
import argparse
import json
import math
import os
import sys


def warn(msg):
    print(f"report.py: warning: {msg}", file=sys.stderr)


def read_run(d):
    """The eval curve and per-round figures of one run directory."""
    path = os.path.join(d, "metrics.jsonl")
    evals, rounds, secs, bad = [], [], 0.0, 0
    if os.path.exists(path):
        with open(path, encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    e = json.loads(line)
                    kind = e["event"]
                except (ValueError, KeyError, TypeError):
                    bad += 1
                    if bad <= 3:
                        warn(f"{path}:{n}: unreadable line skipped")
                    continue
                if kind == "round":
                    secs += e.get("seconds") or 0.0
                    if e.get("committed", True):
                        rounds.append(e)
                elif kind == "eval" and isinstance(e.get("perplexity"), (int, float)):
                    evals.append({"round": e.get("round", 0), "tokens": e.get("tokens", 0),
                                  "seconds": secs, "ppl": e["perplexity"],
                                  "by_source": e.get("perplexity_by_source") or {}})
    summary = {}
    try:
        with open(os.path.join(d, "summary.json"), encoding="utf-8") as f:
            summary = json.load(f)
    except (OSError, ValueError):
        pass
    if not evals and not summary:
        raise SystemExit(f"report.py: error: {d}: no readable metrics.jsonl or summary.json (not a run directory?)")
    return {"dir": d, "evals": evals, "rounds": rounds, "summary": summary}


def series(runs):
    """A list of series to draw: (label, [runs]) - one run, or a sweep group's seeds."""
    out = []
    for d in runs:
        manifest = os.path.join(d, "sweep.json")
        if not os.path.exists(manifest):
            out.append((os.path.basename(os.path.normpath(d)) or d, [read_run(d)]))
            continue
        with open(manifest, encoding="utf-8") as f:
            sweep = json.load(f)
        groups = {}
        for p in sweep.get("points", []):
            if p.get("state") == "pending":
                continue
            g = ",".join(o.split(".", 1)[-1] for o in p.get("overrides", []) if not o.startswith("run.seed="))
            pdir = os.path.join(d, p["dir"])
            if os.path.exists(os.path.join(pdir, "metrics.jsonl")) or os.path.exists(os.path.join(pdir, "summary.json")):
                groups.setdefault(g or "(seeds)", []).append(read_run(pdir))
        name = os.path.basename(os.path.normpath(d))
        for g, members in groups.items():
            out.append((f"{name}: {g}", members))
    return out


def mean_std(values):
    n = len(values)
    m = sum(values) / n
    s = math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return m, s


def curve(members, x, y):
    """Mean and std of y over the members at the x values they all share."""
    per = [{e[x]: y(e) for e in r["evals"] if y(e) is not None} for r in members]
    xs = sorted(set.intersection(*(set(p) for p in per))) if per else []
    ms = [mean_std([p[v] for p in per]) for v in xs]
    return xs, [m for m, _ in ms], [s for _, s in ms]


def draw(ax, label, members, x, y):
    xs, m, s = curve(members, x, y)
    if not xs:
        return False
    line, = ax.plot(xs, m, marker="." if len(xs) < 40 else None, label=label + (f" (n={len(members)})" if len(members) > 1 else ""))
    if len(members) > 1:
        ax.fill_between(xs, [a - b for a, b in zip(m, s)], [a + b for a, b in zip(m, s)], color=line.get_color(), alpha=0.2)
    return True


def main():
    ap = argparse.ArgumentParser(description="Plots and a Markdown page for photon-sim runs and sweeps.")
    ap.add_argument("runs", nargs="+", metavar="RUN_DIR")
    ap.add_argument("-o", "--out", required=True, metavar="OUT_DIR")
    ap.add_argument("--title", default="photon-sim report")
    a = ap.parse_args()
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit("report.py: error: matplotlib is missing (Debian: apt-get install python3-matplotlib)")
    for d in a.runs:
        if not os.path.isdir(d):
            raise SystemExit(f"report.py: error: {d}: no such directory")
    ss = series(a.runs)
    if not ss:
        raise SystemExit("report.py: error: nothing to plot (no run with metrics)")
    os.makedirs(a.out, exist_ok=True)
    figures = []

    def save(fig, name, caption):
        path = os.path.join(a.out, name)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        figures.append((name, caption))

    ppl = lambda e: e["ppl"]
    for x, xlabel, name in (("tokens", "training tokens", "perplexity_tokens.png"),
                            ("round", "rounds", "perplexity_rounds.png"),
                            ("seconds", "training time (s)", "perplexity_time.png")):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for label, members in ss:
            draw(ax, label, members, x, ppl)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("validation perplexity")
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        save(fig, name, f"Validation perplexity against {xlabel}")

    sources = []
    for _, members in ss:
        for r in members:
            for e in r["evals"]:
                sources += [s for s in e["by_source"] if s not in sources]
    if sources:
        fig, axes = plt.subplots(1, len(sources), figsize=(4.5 * len(sources), 4), squeeze=False)
        for ax, src in zip(axes[0], sources):
            for label, members in ss:
                draw(ax, label, members, "tokens", lambda e, s=src: e["by_source"].get(s))
            ax.set_title(src)
            ax.set_xlabel("training tokens")
            ax.set_ylabel("validation perplexity")
            ax.set_yscale("log")
            ax.grid(True, which="both", alpha=0.3)
        axes[0][0].legend(fontsize=8)
        save(fig, "perplexity_sources.png", "Validation perplexity per source against training tokens")

    fields = [("lr_last", "client learning rate"), ("grad_norm_mean", "gradient norm (pre-clip, mean)"),
              ("update_norm_mean", "update norm (mean)")]
    if any(r["rounds"] and fields[0][0] in r["rounds"][0] for _, m in ss for r in m):
        fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
        for ax, (k, title) in zip(axes, fields):
            for label, members in ss:
                r = members[0]   # one seed's figures: the schedule is the same for all
                pts = [(e["tokens"], e[k]) for e in r["rounds"] if isinstance(e.get(k), (int, float))]
                if pts:
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], label=label)
            ax.set_title(title)
            ax.set_xlabel("training tokens")
            ax.grid(True, alpha=0.3)
        axes[0].legend(fontsize=8)
        save(fig, "training.png", "Per round: client learning rate, gradient norm and update norm (first seed of each series)")

    lines = [f"# {a.title}", "", "| run | n | final perplexity | tokens | rounds | bytes moved | comm. reduction |",
             "|---|---|---|---|---|---|---|"]
    for label, members in ss:
        fin = [r["evals"][-1]["ppl"] for r in members if r["evals"]]
        m, s = mean_std(fin) if fin else (float("nan"), 0)
        su = members[0]["summary"]
        toks = members[0]["evals"][-1]["tokens"] if members[0]["evals"] else su.get("tokens", "")
        rnds = members[0]["evals"][-1]["round"] if members[0]["evals"] else su.get("rounds", "")
        cell = f"{m:.2f} ± {s:.2f}" if len(fin) > 1 else f"{m:.2f}"
        bm = su.get("bytes_moved")
        red = su.get("communication_reduction")
        lines.append(f"| {label} | {len(members)} | {cell} | {toks} | {rnds} | "
                     f"{'%.4g' % bm if isinstance(bm, (int, float)) else '-'} | "
                     f"{'%.1f' % red if isinstance(red, (int, float)) else '-'} |")
    lines.append("")
    for name, caption in figures:
        lines += [f"## {caption}", "", f"![{caption}]({name})", ""]
    lines.append("Sweep groups: mean over seeds, band ± one standard deviation. Made by tools/report.py.")
    with open(os.path.join(a.out, "report.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(f"report.py: wrote {len(figures)} figures and report.md to {a.out}")


if __name__ == "__main__":
    main()
