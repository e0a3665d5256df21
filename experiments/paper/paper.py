#!/usr/bin/python3
"""Tables and plots of experiments/RESULTS.md from the runs of
experiments/paper/claim*.sh.  Reads only what the runs wrote (sweep.json,
metrics.jsonl, summary.json), so a table can be rebuilt at any time.

  paper.py best SWEEP_DIR section.key     value of the key at the best point
  paper.py claimN OUT_DIR [-o FIG_DIR]    Markdown table (stdout) + PNG plots

A point's figures are the mean ± sample standard deviation over its seeds.
"Time to target" is the first evaluation at or below the target perplexity
(no interpolation): rounds, tokens and the simulated wall time
(`sim_seconds` of the rounds up to it, when the run had a [network] model).
"""
import argparse
import json
import math
import os
import statistics
import sys


def fail(msg):
    sys.exit(f"paper.py: {msg}")


def load_run(d):
    try:
        summary = json.load(open(os.path.join(d, "summary.json")))
    except (OSError, ValueError) as e:
        fail(f"{d}: no readable summary.json ({e})")
    evals, sim, t = [], {0: 0.0}, 0.0
    for line in open(os.path.join(d, "metrics.jsonl")):
        e = json.loads(line)
        if e["event"] == "eval":
            evals.append((e["round"], e["tokens"], e["perplexity"], e.get("perplexity_by_source", {})))
        elif e["event"] == "round" and e.get("committed", True):
            t += e.get("sim_seconds", float("nan"))
            sim[e["round"]] = t
    evals.sort(key=lambda x: x[0])
    return {"dir": d, "summary": summary, "evals": evals, "sim": sim}


def points(path):
    """{overrides without the seed: [run, ...]} of a sweep dir, or {(): [run]}"""
    manifest = os.path.join(path, "sweep.json")
    if not os.path.exists(manifest):
        return {(): [load_run(path)]}
    groups = {}
    for p in json.load(open(manifest))["points"]:
        if p["state"] != "completed":
            print(f"paper.py: {path}: point {p['name']} is {p['state']}, left out", file=sys.stderr)
            continue
        key = tuple(o for o in p["overrides"] if not o.startswith("run.seed="))
        groups.setdefault(key, []).append(load_run(os.path.join(path, p["dir"])))
    return groups


def override(point, key, default=None):
    """the value a sweep point (its overrides) gives section.key, as a string"""
    return next((o.split("=", 1)[1] for o in point if o.startswith(key + "=")), default)


def runs(path):
    """every completed run of a sweep dir or a run dir, as one group"""
    return [r for g in points(path).values() for r in g]


def ms(xs):
    xs = [x for x in xs if x is not None and not (isinstance(x, float) and math.isnan(x))]
    if not xs:
        return None, None
    return statistics.mean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def fmt(m, spec=".1f"):
    mean, sd = m
    if mean is None:
        return "–"
    return f"{mean:{spec}} ± {sd:{spec}}"


def final(rs):
    return ms([r["summary"]["final_perplexity"] for r in rs])


def to_target(r, target):
    """(round, tokens, simulated seconds) of the first eval at or below target"""
    for rnd, tok, ppl, _ in r["evals"]:
        if ppl <= target:
            return rnd, tok, r["sim"].get(rnd)
    return None, None, None


def reach(rs, target):
    hits = [to_target(r, target) for r in rs]
    n = sum(1 for h in hits if h[0] is not None)
    return n, ms([h[0] for h in hits]), ms([h[1] for h in hits]), ms([h[2] for h in hits])


def best_point(path):
    groups = points(path)
    if not groups:
        fail(f"{path}: no completed point")
    return min(groups.items(), key=lambda kv: final(kv[1])[0])


def cmd_best(args):
    point, _ = best_point(args.dir)
    v = override(point, args.key)
    if v is None:
        fail(f"{args.dir}: the best point ({', '.join(point) or 'no overrides'}) does not set {args.key}")
    print(v)


# ---------------------------------------------------------------- plots

def plot(fig_dir, name, title, series, x, xlabel, logx=False):
    """series: [(label, [run, ...])]; x: 'tokens' | 'rounds' | 'sim'"""
    if not fig_dir:
        return
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for label, rs in series:
        if not rs:
            continue
        by_round = {}
        for r in rs:
            for rnd, tok, ppl, _ in r["evals"]:
                if rnd == 0 and x == "sim" and logx:
                    continue
                xv = {"tokens": tok, "rounds": rnd, "sim": r["sim"].get(rnd)}[x]
                if xv is None:
                    continue
                by_round.setdefault(rnd, ([], []))
                by_round[rnd][0].append(xv)
                by_round[rnd][1].append(ppl)
        rounds = sorted(k for k, v in by_round.items() if len(v[1]) == len(rs))
        xs = [statistics.mean(by_round[k][0]) for k in rounds]
        ys = [statistics.mean(by_round[k][1]) for k in rounds]
        sd = [statistics.stdev(by_round[k][1]) if len(rs) > 1 else 0 for k in rounds]
        line, = ax.plot(xs, ys, label=f"{label} (n={len(rs)})")
        if len(rs) > 1:
            ax.fill_between(xs, [a - b for a, b in zip(ys, sd)], [a + b for a, b in zip(ys, sd)],
                            color=line.get_color(), alpha=0.2)
    ax.set_yscale("log")
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("validation perplexity")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(fig_dir, exist_ok=True)
    fig.savefig(os.path.join(fig_dir, name), dpi=110)
    plt.close(fig)
    print(f"paper.py: wrote {os.path.join(fig_dir, name)}", file=sys.stderr)


def lr_table(path, key):
    rows = []
    for k, rs in points(path).items():
        v = override(k, key, "nan")
        rows.append((float(v), f"{v}: {fmt(final(rs)) if len(rs) > 1 else f'{final(rs)[0]:.1f}'}"))
    return "; ".join(r for _, r in sorted(rows))


def sub(out, *p):
    return os.path.join(out, *p)


def exists(path):
    return os.path.exists(os.path.join(path, "sweep.json")) or os.path.exists(os.path.join(path, "summary.json"))


def arm_runs(out, d):
    """the runs of an arm tuned by lib.sh: DIR's seeds 2.. with DIR-lr's best point"""
    rs = runs(sub(out, d)) if exists(sub(out, d)) else []
    if exists(sub(out, d + "-lr")):
        rs = best_point(sub(out, d + "-lr"))[1] + rs
    return rs


def best_value(path, key):
    return override(best_point(path)[0], key, "?")


def by_source(rs):
    names = list(rs[0]["summary"].get("final_perplexity_by_source", {}))
    return ", ".join(f"{n.split('-')[0]} {ms([r['summary']['final_perplexity_by_source'][n] for r in rs])[0]:.1f}"
                     for n in names)


def cfg(r, section, key):
    """a key of the run's resolved configuration (config.ini), as a string"""
    cur = None
    for line in open(os.path.join(r["dir"], "config.ini")):
        line = line.strip()
        if line.startswith("["):
            cur = line.strip("[]")
        elif cur == section and line.partition("=")[0].strip() == key:
            return line.partition("=")[2].strip()
    fail(f"{r['dir']}: config.ini has no {section}.{key}")


def seeds_of(rs):
    return ",".join(str(s) for s in sorted(int(cfg(r, "run", "seed")) for r in rs))


def subdirs(out, prefix):
    """arms named prefix<N> under out (claim2/t48, claim6/b32, ...), by N"""
    d, stem = os.path.split(sub(out, prefix))
    if not os.path.isdir(d):
        return []
    found = [(int(n[len(stem):]), os.path.join(d, n)) for n in os.listdir(d)
             if n.startswith(stem) and n[len(stem):].isdigit() and exists(os.path.join(d, n))]
    return sorted(found)


def claim1(out, figs):
    fed, cen = arm_runs(out, "claim1/fed"), arm_runs(out, "claim1/central")
    print("LR sweeps (seed 1, final perplexity): federated clients.lr "
          + lr_table(sub(out, "claim1/fed-lr"), "clients.lr")
          + "; centralized centralized.lr " + lr_table(sub(out, "claim1/central-lr"), "centralized.lr") + "\n")
    print("| arm | LR | seeds | tokens | final val. perplexity | by source |\n|---|---|---|---|---|---|")
    for name, rs, d, key in (("federated (Photon)", fed, "claim1/fed-lr", "clients.lr"),
                             ("centralized", cen, "claim1/central-lr", "centralized.lr")):
        print(f"| {name} | {best_value(sub(out, d), key)} | {seeds_of(rs)} | {rs[0]['summary']['tokens']:,} "
              f"| {fmt(final(rs), '.2f')} | {by_source(rs)} |")
    f, c = final(fed)[0], final(cen)[0]
    print(f"\nfederated / centralized final perplexity: {f / c:.3f}\n")
    print("| rounds (tokens) | federated | centralized | federated / centralized |\n|---|---|---|---|")
    rows = {fed[0]["summary"]["rounds"]: (fed[:1], cen[:1])}   # the seed-1 runs
    for path, i in ((sub(out, "claim1/fed-tokens"), 0), (sub(out, "claim1/central-tokens"), 1)):
        if exists(path):
            for k, rs in points(path).items():
                n = int(override(k, "run.rounds"))
                rows.setdefault(n, ([], []))[i].extend(rs)
    for n in sorted(rows):
        a, b = rows[n]
        if a and b:
            fa, fb = final(a)[0], final(b)[0]
            print(f"| {n} ({a[0]['summary']['tokens']:,}) | {fa:.2f} | {fb:.2f} | {fa / fb:.3f} |")
    fb, cb = sub(out, "claim1/fed-bigger"), sub(out, "claim1/central-bigger")
    if exists(fb) and exists(cb):
        print("\n| model (parameters) | federated | centralized | federated / centralized |\n|---|---|---|---|")
        for label, a, b in (("base", fed[:1], cen[:1]), ("bigger", runs(fb), runs(cb))):
            fa, fc = final(a)[0], final(b)[0]
            shape = f"{cfg(a[0], 'model', 'n_layer')}L d{cfg(a[0], 'model', 'd_model')}"
            print(f"| {label}: {shape} ({a[0]['summary']['parameters']:,}) | {fa:.2f} | {fc:.2f} | {fa / fc:.3f} |")
    plot(figs, "claim1.png", "Claim 1: federated vs centralized, same tokens",
         [("federated (Photon)", fed), ("centralized", cen)], "tokens", "training tokens")


def claim2(out, figs):
    fed = arm_runs(out, "claim1/fed")
    print("| T_local | rounds | seeds | communication reduction vs per-step all-reduce | bytes moved | final val. perplexity |")
    print("|---|---|---|---|---|---|")
    arms = [(int(cfg(fed[0], "clients", "local_steps")), fed)] + [(t, runs(p)) for t, p in subdirs(out, "claim2/t")]
    for t, rs in arms:
        s = rs[0]["summary"]
        print(f"| {t} | {s['rounds']} | {seeds_of(rs)} | {s['communication_reduction']:g}x | {s['bytes_moved']:,} "
              f"| {fmt(final(rs), '.2f')} |")
    nf, na = sub(out, "claim2/net-fed"), sub(out, "claim2/net-allreduce")
    if not (exists(nf) and exists(na)):
        return
    pf, pa = points(nf), points(na)
    bw = lambda k: float(override(k, "network.bandwidth_mbps"))
    allr = [r for g in list(pf.values()) + list(pa.values()) for r in g]
    target = max(r["summary"]["final_perplexity"] for r in allr)
    print(f"\nTarget perplexity {target:.2f} (the worse final of the two arms). Simulated wall time "
          "(20 ms one-way latency, compute = model):\n")
    print("| link | Photon: rounds, simulated time to target | per-step all-reduce: steps, simulated time to target "
          "| Photon speed-up | Photon round / all-reduce step (s) |\n|---|---|---|---|---|")
    series = []
    for kf in sorted(pf, key=bw):
        ka = next(k for k in pa if bw(k) == bw(kf))
        rf, ra = pf[kf][0], pa[ka][0]
        hf, ha = to_target(rf, target), to_target(ra, target)
        steps = ha[0] * ra["summary"]["global_step"] // ra["summary"]["rounds"] if ha[0] is not None else None
        per_round = rf["sim"][rf["summary"]["rounds"]] / rf["summary"]["rounds"]
        per_step = ra["sim"][ra["summary"]["rounds"]] / ra["summary"]["global_step"]
        sp = ha[2] / hf[2] if hf[2] and ha[2] else None
        print(f"| {bw(kf):g} Mbit/s | {hf[0]}, {hf[2]:.1f} s | {steps}, {ha[2]:.1f} s | "
              f"{'–' if sp is None else f'{sp:.1f}x'} | {per_round:.2f} / {per_step:.3f} |")
        series += [(f"Photon {bw(kf):g} Mbit/s", [rf]), (f"all-reduce {bw(kf):g} Mbit/s", [ra])]
    for name, p in (("Photon", pf), ("all-reduce", pa)):
        hs = {g[0]["summary"]["model_hash"] for g in p.values()}
        print(f"\n{name}: model_hash at every bandwidth: {', '.join(sorted(hs))}"
              f" ({'identical' if len(hs) == 1 else 'DIFFERENT'})")
    plot(figs, "claim2-wan.png", "Claim 2: time to target over slow links (simulated)", series, "sim",
         "simulated wall time (s)", logx=True)


def claim3(out, figs):
    fed, dil = arm_runs(out, "claim1/fed"), arm_runs(out, "claim3/diloco")
    print("DiLoCo LR sweep (seed 1): clients.lr " + lr_table(sub(out, "claim3/diloco-lr"), "clients.lr") + "\n")
    target = max(r["summary"]["final_perplexity"] for r in fed + dil)
    print(f"Target perplexity {target:.2f} (the worst final among the runs, which every run reaches).\n")
    print("| arm | client LR | seeds | final val. perplexity | seeds reaching target | rounds to target |\n|---|---|---|---|---|---|")
    res = []
    for name, rs, d in (("Photon (FedAvg, η_s 1)", fed, "claim1/fed-lr"), ("DiLoCo (Nesterov 0.7/0.9)", dil, "claim3/diloco-lr")):
        n, rounds, _, _ = reach(rs, target)
        res.append(rounds[0])
        print(f"| {name} | {best_value(sub(out, d), 'clients.lr')} | {seeds_of(rs)} | {fmt(final(rs), '.2f')} "
              f"| {n}/{len(rs)} | {fmt(rounds)} |")
    if all(res):
        print(f"\nDiLoCo rounds / Photon rounds to target: {res[1] / res[0]:.2f}")
    plot(figs, "claim3.png", "Claim 3: Photon's recipe vs DiLoCo", [("Photon", fed), ("DiLoCo", dil)],
         "rounds", "round")


def claim4(out, figs):
    arms = [("IID", arm_runs(out, "claim1/fed"))]
    for name, d in (("one source per client (by_source)", "claim4/by-source"), ("Dirichlet α 0.1", "claim4/dirichlet")):
        if exists(sub(out, d)):
            arms.append((name, runs(sub(out, d))))
    base = final(arms[0][1])[0]
    print("| partition | seeds | final val. perplexity | vs IID | by source |\n|---|---|---|---|---|")
    for name, rs in arms:
        f = final(rs)
        print(f"| {name} | {seeds_of(rs)} | {fmt(f, '.2f')} | {(f[0] / base - 1) * 100:+.1f}% | {by_source(rs)} |")
    plot(figs, "claim4.png", "Claim 4: heterogeneous client data", arms, "tokens", "training tokens")


def claim5(out, figs):
    pf, pa = points(sub(out, "claim5/fed")), points(sub(out, "claim5/allreduce"))
    K = lambda k: int(override(k, "clients.per_round"))
    target = max(g[0]["summary"]["final_perplexity"] for g in list(pf.values()) + list(pa.values()))
    print(f"Target perplexity {target:.2f} (the worst final among the runs). 100 Mbit/s, 20 ms, compute = model.\n")
    print("| K | Photon: final ppl, rounds, sim. time to target | K × time (worker-s) | data parallel: final ppl, rounds, "
          "sim. time to target | K × time (worker-s) |\n|---|---|---|---|---|")
    series = []
    for k in sorted(pf, key=K):
        rf = pf[k][0]
        ka = next((x for x in pa if K(x) == K(k)), None)
        ra = pa[ka][0] if ka else None
        hf = to_target(rf, target)
        cells = [f"{rf['summary']['final_perplexity']:.1f}, {hf[0]}, {hf[2]:.1f} s", f"{K(k) * hf[2]:.0f}"]
        if ra:
            ha = to_target(ra, target)
            cells += [f"{ra['summary']['final_perplexity']:.1f}, {ha[0]}, {ha[2]:.1f} s", f"{K(k) * ha[2]:.0f}"]
        else:
            cells += ["–", "–"]
        print(f"| {K(k)} | " + " | ".join(cells) + " |")
        series.append((f"Photon K={K(k)}", [rf]))
    plot(figs, "claim5.png", "Claim 5: adding clients (simulated, 100 Mbit/s)", series, "sim",
         "simulated wall time (s)", logx=True)


def claim6(out, figs):
    first = runs(sub(out, "claim1/fed-lr"))[0]
    arms = [(int(cfg(first, "clients", "batch_size")), int(cfg(first, "clients", "local_steps")), sub(out, "claim1/fed-lr"))]
    arms += [(b, int(cfg(runs(p)[0], "clients", "local_steps")), p) for b, p in subdirs(out, "claim6/b")]
    lrs = sorted({override(k, "clients.lr") for _, _, p in arms if exists(p) for k in points(p)}, key=float)
    print("| client batch | local steps | " + " | ".join(f"lr {v}" for v in lrs) + " |")
    print("|---|---|" + "---|" * len(lrs))
    series = []
    for b, t, p in arms:
        if not exists(p):
            continue
        g = {override(k, "clients.lr"): rs for k, rs in points(p).items()}
        print(f"| {b} | {t} | " + " | ".join(f"{final(g[v])[0]:.2f}" if v in g else "–" for v in lrs) + " |")
        series.append((f"batch {b} (best lr {best_value(p, 'clients.lr')})", best_point(p)[1]))
    plot(figs, "claim6.png", "Claim 6: client batch size and learning rate", series, "tokens", "training tokens")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sp = ap.add_subparsers(dest="cmd", required=True)
    b = sp.add_parser("best")
    b.add_argument("dir")
    b.add_argument("key")
    for c in range(1, 7):
        p = sp.add_parser(f"claim{c}")
        p.add_argument("out")
        p.add_argument("-o", dest="figs", default=None)
    args = ap.parse_args()
    if args.cmd == "best":
        cmd_best(args)
    else:
        globals()[args.cmd](args.out, args.figs)


if __name__ == "__main__":
    main()
