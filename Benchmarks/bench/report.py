#!/usr/bin/python3
"""Collects a Benchmarks/bench.sh run into results.json, table.md (printed) and bench.png.

    report.py RUN_DIR [--elapsed SECONDS]

Reads the JSON files the run wrote (machine, idle, probe-*, load-*, storm-*, browser, slow-*,
hops, failover; any may be missing), puts the figures side by side with their ratios and the
issue's targets, and draws CPU-seconds per second and RSS against listeners (Icecast relay and
Casty mirror), time to first audio and hop latency by depth (matplotlib, Agg backend).
"""

import argparse
import json
import os
import sys


def load(run, name):
    try:
        with open(os.path.join(run, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def stages(d):
    if not d:
        return []
    return (d.get("stages") or []) + (d.get("stages_after_probe") or [])


def fmt(x, digits=2, unit=""):
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.{digits}f}{unit}"
    return f"{x}{unit}"


def ratio(a, b, digits=2):
    if a is None or b is None or b == 0:
        return "–"
    return f"{a / b:.{digits}f}"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run")
    p.add_argument("--elapsed", type=int)
    a = p.parse_args()
    run = a.run
    r = {k: load(run, f + ".json") for k, f in [
        ("machine", "machine"), ("idle", "idle"), ("probe_casty", "probe-idle-casty"),
        ("probe_icecast", "probe-idle-icecast"), ("load_casty", "load-casty"), ("load_icecast", "load-icecast"),
        ("storm_casty", "storm-casty"), ("storm_icecast", "storm-icecast"), ("browser", "browser"),
        ("slow_casty", "slow-casty"), ("slow_icecast", "slow-icecast"), ("hops", "hops"), ("failover", "failover")]}
    r["elapsed_s"] = a.elapsed
    targets = []  # (what, target, figure, met)
    md = []
    m = r["machine"] or {}
    md.append(f"Run {m.get('date', '?')}: {m.get('cores', '?')} cores ({m.get('cpu', '?')}), {m.get('mem_gib', '?')} GiB, "
              f"kernel {m.get('kernel', '?')}, icecast2 {m.get('icecast2', '?')}; load average at start "
              f"{m.get('loadavg_at_start', '?')}; harness time {fmt(a.elapsed)} s.\n")

    # --- load ---
    cs = {s["clients"]: s for s in stages(r["load_casty"])}
    ics = {s["clients"]: s for s in stages(r["load_icecast"])}
    md.append("### Listeners at 128 kbps: Casty mirror vs Icecast relay\n")
    md.append("| N | served (C / I) | CPU s/s Casty | CPU s/s Icecast | CPU per listener, Casty / Icecast | RSS MB Casty | RSS MB Icecast | "
              "rate B/s min / p1 / median Casty | rate B/s min / p1 / median Icecast | < 99 % real time (C / I) | "
              "dropped + failed (C / I) | loadgen CPU s/s (C / I) |")
    md.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    cpu = lambda s: (s or {}).get("servers", [{}])[0].get("cpu_s_per_s")
    rss = lambda s: None if not s or not s.get("servers") or "rss_kb" not in s["servers"][0] else s["servers"][0]["rss_kb"] / 1024
    served = lambda s: None if not s else s["alive_at_hold"]
    per = lambda s: None if cpu(s) is None or not served(s) else cpu(s) / served(s)
    rate = lambda s: "–" if not s else "/".join(fmt(s["rate_Bps"][k], 0) for k in ("min", "p1", "median"))
    for n in sorted(set(cs) | set(ics)):
        c, i = cs.get(n), ics.get(n)
        md.append(f"| {n} | {fmt(served(c))} / {fmt(served(i))} | {fmt(cpu(c), 4)} | {fmt(cpu(i), 4)} | {ratio(per(c), per(i), 3)} | {fmt(rss(c), 1)} | "
                  f"{fmt(rss(i), 1)} | {rate(c)} | {rate(i)} | "
                  f"{fmt((c or {}).get('below_99pct_realtime'))} / {fmt((i or {}).get('below_99pct_realtime'))} | "
                  f"{fmt(c and c['dropped'] + c['failed_new'])} / {fmt(i and i['dropped'] + i['failed_new'])} | "
                  f"{fmt((c or {}).get('loadgen_hold_cpu_per_s'), 3)} / {fmt((i or {}).get('loadgen_hold_cpu_per_s'), 3)} |")
    for n in (5000, 10000):
        c, i = per(cs.get(n)), per(ics.get(n))
        if c is not None and i:
            targets.append((f"CPU per listener at {n}, Casty / Icecast", "≤ 0.2", f"{c / i:.3f}", c / i <= 0.2))
    big = max(cs) if cs else None
    if big:
        s = cs[big]
        ok = s["below_99pct_realtime"] == 0 and s["dropped"] == 0 and s["connected"] >= big
        targets.append((f"one mirror holds {big} listeners, all ≥ 99 % real time", "all",
                        f"{s['connected']} connected, {s['below_99pct_realtime']} below 99 %, {s['dropped']} dropped, "
                        f"min {s['rate_Bps']['min']:.0f} B/s", ok))
    # memory per listener
    def slope(d):
        # by listeners actually connected at the end of each hold (Icecast loses some at 19,000)
        pts = [(s["alive_at_end"], rss(s)) for n, s in sorted(d.items()) if rss(s)]
        if len(pts) < 2 or pts[-1][0] == pts[0][0]:
            return None
        (n0, r0), (n1, r1) = pts[0], pts[-1]
        return (r1 - r0) * 1024 / (n1 - n0)
    idle = r["idle"] or {}
    mem_c, mem_i = slope(cs), slope(ics)
    md.append("")
    md.append(f"Memory per listener (RSS slope between the smallest and largest N, by listeners connected): Casty mirror "
              f"{fmt(mem_c, 1)} KB over an idle base of {fmt(idle.get('mirror_rss_kb', 0) / 1024, 1)} MB; Icecast relay "
              f"{fmt(mem_i, 1)} KB over {fmt(idle.get('icecast_relay_rss_kb', 0) / 1024, 1)} MB.\n")

    # --- first audio ---
    md.append("### Time to first audio for one new listener (ms)\n")
    md.append("| node state | first audio median / p99 Casty | first audio median / p99 Icecast | 64 KiB median / p99 Casty | "
              "64 KiB median / p99 Icecast | probes (C / I) |")
    md.append("| --- | --- | --- | --- | --- | --- |")
    under_c = (r["load_casty"] or {}).get("probe_under_load")
    under_i = (r["load_icecast"] or {}).get("probe_under_load")
    pp = lambda d, k: "–" if not d or not d.get(k) else f"{fmt(d[k]['median'], 2)} / {fmt(d[k]['p99'], 2)}"
    def probe_n(d):
        st = (d or {}).get("stages") or []
        return st[-1]["clients"] if st and d.get("probe_under_load") else None
    pn = probe_n(r["load_casty"]) or probe_n(r["load_icecast"])
    for label, c, i in (("idle", r["probe_casty"], r["probe_icecast"]), (f"under {pn:,} listeners" if pn else "under load", under_c, under_i)):
        md.append(f"| {label} | {pp(c, 'first_audio_ms')} | {pp(i, 'first_audio_ms')} | {pp(c, 'audio_64k_ms')} | "
                  f"{pp(i, 'audio_64k_ms')} | {fmt((c or {}).get('probes'))} / {fmt((i or {}).get('probes'))} |")
        if c and c.get("first_audio_ms") and c["first_audio_ms"]["median"] is not None:
            f, k = c["first_audio_ms"], c["audio_64k_ms"]
            targets.append((f"first audio, {label}", "median ≤ 5 ms, p99 ≤ 50 ms; 64 KiB median ≤ 10 ms",
                            f"{f['median']:.2f} / {f['p99']:.2f} ms; 64 KiB {k['median']:.2f} ms",
                            f["median"] <= 5 and f["p99"] <= 50 and k["median"] <= 10 and not c.get("failed")))

    # --- storm ---
    md.append("\n### Storm: listeners connecting within 2 s\n")
    md.append("| server | listeners | reply within 1 s | audio within 1 s | never got a reply (20 s) | first audio median / p99 / max ms | server CPU s/s (hold) |")
    md.append("| --- | --- | --- | --- | --- | --- | --- |")
    for name, d in (("Casty mirror", r["storm_casty"]), ("Icecast relay", r["storm_icecast"])):
        s = (stages(d) or [None])[0]
        if not s:
            continue
        fa = s["first_audio_ms"]
        md.append(f"| {name} | {s['clients']} | {s['reply_within_1s']} | {s['audio_within_1s']} | {s['failed_new']} | "
                  f"{fmt(fa['median'], 1)} / {fmt(fa['p99'], 1)} / {fmt(fa['max'], 1)} | {fmt(cpu(s), 3)} |")
        if name.startswith("Casty"):
            targets.append((f"storm of {s['clients']} in 2 s: reply and audio within 1 s", "all",
                            f"{s['audio_within_1s']} of {s['clients']}", s["audio_within_1s"] == s["clients"]))

    # --- browser ---
    b = r["browser"] or {}
    if b:
        md.append("\n### Browser: headless Chromium, page load to `currentTime` advancing\n")
        md.append("| server | median ms | runs (ms) |")
        md.append("| --- | --- | --- |")
        for name in ("casty", "icecast"):
            x = b.get(name) or {}
            md.append(f"| {name} | {fmt(x.get('median_advance_ms'), 0)} | "
                      f"{', '.join(fmt(rr.get('advance_ms'), 0) for rr in x.get('runs', []))} |")
        c = (b.get("casty") or {}).get("median_advance_ms")
        targets.append(("browser starts playing (Casty defaults)", "≤ 1000 ms", f"{fmt(c, 0)} ms", c is not None and c <= 1000))

    # --- hops ---
    h = r["hops"] or {}
    if h.get("depths"):
        md.append("\n### Hop latency: chain of 10 mirrors, segment arrival after the ingest (ms)\n")
        md.append("| depth | " + " | ".join(str(x["depth"]) for x in h["depths"]) + " |")
        md.append("| --- | " + " | ".join("---" for _ in h["depths"]) + " |")
        md.append("| median | " + " | ".join(fmt(x["median_ms"], 2) for x in h["depths"]) + " |")
        md.append("| p99 | " + " | ".join(fmt(x["p99_ms"], 2) for x in h["depths"]) + " |")
        md.append(f"\nAdded latency per hop (slope of the medians): {fmt(h.get('per_hop_ms'), 3)} ms; "
                  f"{h.get('segments_at_root')} segments, gaps {h.get('gaps')}, repeats {h.get('repeats')}.")
        if h.get("per_hop_ms") is not None:
            targets.append(("added latency per hop", "≤ 2 ms", f"{h['per_hop_ms']:.3f} ms", h["per_hop_ms"] <= 2))

    # --- failover ---
    f = r["failover"] or {}
    if f.get("faults"):
        md.append(f"\n### Failover: {f['mirrors']}-mirror tree, observers on the {len(f['leaves'])} leaves\n")
        md.append("| fault | node | every leaf whole again after (s) | worst extra delay of a segment (s) | leaves that saw a late segment | segments lost | root's tree healed after (s) |")
        md.append("| --- | --- | --- | --- | --- | --- | --- |")
        for x in f["faults"]:
            md.append(f"| {x['kind']} | {x['node']} | {x['whole_again_s']:.3f} | {x['worst_extra_delay_s']:.3f} | "
                      f"{x['late_leaves']} | {x['lost_segments']} | {fmt(x.get('tree_healed_s'), 3)} |")
            lim = 1.0 if x["kind"] == "kill" else 1.5
            targets.append((f"failover after a {x['kind']}", f"≤ {lim} s, 0 lost",
                            f"{x['whole_again_s']:.3f} s, {x['lost_segments']} lost",
                            x["whole_again_s"] <= lim and x["lost_segments"] == 0))
        md.append(f"\nRepeats at the leaves: {f.get('repeats')}; gaps seen: {f.get('gaps_seen')}.")

    # --- idle / ingest / slow ---
    if idle:
        md.append("\n### Idle and ingest cost\n")
        md.append(f"With no listener, over {idle['seconds']} s: casty-ingest {idle['ingest_cpu_s_per_s']:.4f} CPU s/s "
                  f"(pulling the radio and feeding two mirrors), a mirror {idle['mirror_cpu_s_per_s']:.4f}, the Icecast relay "
                  f"{idle['icecast_relay_cpu_s_per_s']:.4f}. RSS: ingest {idle['ingest_rss_kb'] / 1024:.1f} MB, mirror "
                  f"{idle['mirror_rss_kb'] / 1024:.1f} MB, Icecast relay {idle['icecast_relay_rss_kb'] / 1024:.1f} MB.")
        targets.append(("ingest cost for one stream", "≤ 0.01 core", f"{idle['ingest_cpu_s_per_s']:.4f}",
                        idle["ingest_cpu_s_per_s"] <= 0.01))
    for name, d in (("Casty mirror", r["slow_casty"]), ("Icecast relay", r["slow_icecast"])):
        if d:
            md.append(f"\nSlow listeners, {name}: {d['clients']} listeners that never read for {d['seconds']} s: RSS "
                      f"{d['rss_before_kb'] / 1024:.1f} → peak {d['rss_peak_kb'] / 1024:.1f} MB "
                      f"({d['peak_per_slow_listener_kb']} KB each), {d['rss_after_kb'] / 1024:.1f} MB after they left; "
                      f"{d['closed_by_server']} closed by the server meanwhile.")

    md.append("\n### Targets\n")
    md.append("| target | wanted | measured | met |")
    md.append("| --- | --- | --- | --- |")
    for what, want, got, ok in targets:
        md.append(f"| {what} | {want} | {got} | {'yes' if ok else '**no**'} |")
    r["targets"] = [{"what": w, "wanted": t, "measured": g, "met": bool(o)} for w, t, g, o in targets]
    text = "\n".join(md) + "\n"
    with open(os.path.join(run, "table.md"), "w") as fh:
        fh.write(text)
    with open(os.path.join(run, "results.json"), "w") as fh:
        json.dump(r, fh, indent=1)
    print(text)
    plot(run, cs, ics, r, cpu, rss)


def plot(run, cs, ics, r, cpu, rss):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("report: no matplotlib (apt-get install python3-matplotlib); no PNG", file=sys.stderr)
        return
    fig, ax = plt.subplots(2, 2, figsize=(10, 7.5))
    for d, name, style in ((ics, "Icecast relay", "o-"), (cs, "Casty mirror", "s-")):
        ns = sorted(n for n in d if cpu(d[n]) is not None)
        ax[0][0].plot(ns, [cpu(d[n]) for n in ns], style, label=name)
        ax[0][0].plot(ns, [d[n]["loadgen_hold_cpu_per_s"] for n in ns], style[0] + ":", alpha=0.5,
                      label=f"load generator ({name.split()[0]})")
        ns = sorted(n for n in d if rss(d[n]) is not None)
        ax[0][1].plot(ns, [rss(d[n]) for n in ns], style, label=name)
    ax[0][0].set(title="CPU-seconds per second", xlabel="listeners (128 kbps)", ylabel="CPU s/s (1.0 = one core)")
    ax[0][1].set(title="Resident memory", xlabel="listeners", ylabel="RSS (MB)")
    for x in ax[0]:
        x.legend(fontsize=8)
        x.grid(alpha=0.3)
    labels, vals = [], []
    under_c = (r["load_casty"] or {}).get("probe_under_load")
    under_i = (r["load_icecast"] or {}).get("probe_under_load")
    for lab, d in (("Icecast\nidle", r["probe_icecast"]), ("Casty\nidle", r["probe_casty"]),
                   ("Icecast\n10k", under_i), ("Casty\n10k", under_c)):
        if d and d.get("first_audio_ms") and d["first_audio_ms"]["median"] is not None:
            labels.append(lab)
            vals.append((d["first_audio_ms"]["median"], d["first_audio_ms"]["p99"]))
    if vals:
        xs = range(len(vals))
        ax[1][0].bar([x - 0.2 for x in xs], [v[0] for v in vals], 0.4, label="median")
        ax[1][0].bar([x + 0.2 for x in xs], [v[1] for v in vals], 0.4, label="p99")
        ax[1][0].set_xticks(list(xs))
        ax[1][0].set_xticklabels(labels, fontsize=8)
        ax[1][0].set_yscale("log")
        ax[1][0].legend(fontsize=8)
    ax[1][0].set(title="Time to first audio byte, one new listener", ylabel="ms (log)")
    h = r["hops"] or {}
    if h.get("depths"):
        ds = h["depths"]
        ax[1][1].plot([x["depth"] for x in ds], [x["median_ms"] for x in ds], "s-", label="median")
        ax[1][1].plot([x["depth"] for x in ds], [x["p99_ms"] for x in ds], "^:", label="p99")
        ax[1][1].legend(fontsize=8)
    ax[1][1].set(title="Casty: segment arrival after the ingest, chain", xlabel="depth", ylabel="ms")
    for x in ax[1]:
        x.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(run, "bench.png"), dpi=70)


if __name__ == "__main__":
    main()
