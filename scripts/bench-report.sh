#!/usr/bin/env bash
# Writes the figures of bench/README.md's "Issue 17" section from the recorded runs, so they are
# copied and not typed: bench/results-issue17.json (one scripts/bench.sh run of the benchmarks below,
# Google Benchmark JSON) and
# bench/profile.json (scripts/bench-profile.sh: callgrind breakdown, peak RSS of a 1 GB trace), next to
# bench/profile-before.json (the same script's output before the parser and event-log work of issue 17).
# The section between the `bench-report` markers is replaced; the rest of the file is left alone.
# Usage: scripts/bench-report.sh [results.json] [profile.json]
# The run:  KVMSIM_BENCH_DIR=build-release scripts/bench.sh "$(scripts/bench-report.sh --filter)" --benchmark_min_time=0.01
#           cp build-release/bench.json bench/results-issue17.json
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == --filter ]]; then
  echo 'ReplayStreamVsCat|MemslotChurn|GuestAccessModel/MiB:1024/random:0|GuestFirstTouch|PrefaultDirtyLogged|PrefaultSlot/level:1/GiB:1024'
  exit 0
fi
python3 - "${1:-bench/results-issue17.json}" "${2:-bench/profile.json}" bench/README.md bench/profile-before.json <<'PY'
import json, re, sys
res = {b["name"]: b for b in json.load(open(sys.argv[1]))["benchmarks"] if not b.get("error_occurred")}
prof = json.load(open(sys.argv[2]))
readme = sys.argv[3]
before = json.load(open(sys.argv[4]))

def get(name, key):
    b = res.get(name)
    return None if b is None or key not in b else b[key]

def fmt(v, spec):
    return "n/a (not in this run)" if v is None else format(v, spec)

def verdict(ok):
    return "n/a" if ok is None else ("met" if ok else "not met")

rows = []
def row(what, measured, anchor, ratio, source):
    rows.append(f"| {what} | {measured} | {anchor} | {ratio} | {source} |")

rp = "BM_ReplayStreamVsCat/stmts:1000000/manual_time"
sps, bps, cat, vs_cat = (get(rp, k) for k in ("stmts_per_s", "bytes_per_s", "cat_bytes_per_s", "replay_vs_cat"))
row("replay, streamed (`kvmsim replay FILE` path), 1 M-statement churn trace",
    f"{fmt(sps and sps / 1e6, '.2f')} M statements/s, {fmt(bps and bps / 1e6, '.0f')} MB/s",
    f"`cat FILE > /dev/null`: {fmt(cat and cat / 1e6, '.0f')} MB/s",
    f"{fmt(vs_cat, '.1f')}x the time of `cat`", "same file, same run (`BM_ReplayStreamVsCat`)")
mc = "BM_MemslotChurnModel/manual_time"
row("memslot creation, model, 32764 one-page slots (deletions not counted)",
    f"{fmt(get(mc, 'create_ns_per_slot'), '.0f')} ns per slot ({fmt(get(mc, 'ns_per_ioctl'), '.0f')} ns per ioctl over creates and deletes)",
    "kernel: 15.8 us per slot (508 slots created in 8.03 ms), 18.0 us (32763 slots in 0.59 s); x86 Xeon 8167M, TDP MMU off",
    f"{fmt(get(mc, 'speedup_vs_published_509'), '.0f')}x / {fmt(get(mc, 'speedup_vs_published_32k'), '.0f')}x faster",
    "memslot_perf_test \"Slot setup\", \"After\" column, M. S. Szmigiero, \"[PATCH v2 0/8] KVM: Scalable memslots implementation\", kvm@vger.kernel.org, 2021-04-13")
ft = "BM_GuestAccessModel/MiB:1024/random:0/retouch:0/write:1/manual_time"
row("first-touch write fault, model, 1 GiB sequential, 4K anonymous", f"{fmt(get(ft, 'ns_per_access'), '.0f')} ns per 4K page",
    "kernel: 11.8 us per 4K first-touch write per vCPU (1 GiB per vCPU populated in 3.105 s, 16 vCPUs at once; x86, CPU not stated)",
    f"{fmt(get(ft, 'speedup_vs_published_fault'), '.0f')}x faster",
    "dirty_log_perf_test -v 16 -s anonymous \"Populate memory time\", K. Zhu, \"Re: [RFC PATCH v2 2/2] KVM: x86: Not wr-protect huge page with init_all_set dirty log\", kvm@vger.kernel.org, 2021-04-27")
for name, what in (("BM_MemslotChurnModelVsKvm/iterations:1/manual_time", "memslot churn, this host's /dev/kvm, same run"),
                   ("BM_GuestFirstTouchModelVsKvm/MiB:4/iterations:3/manual_time", "first touch, this host's /dev/kvm, same run")):
    r = get(name, "model_vs_kvm_ratio")
    if r:
        row(what, "", "this host's kernel", f"{1 / r:.0f}x faster", f"`{name.split('/')[0]}`")

cg, rss = prof["callgrind"], prof["rss"]
dl = get("BM_PrefaultDirtyLoggedSlot/GiB:1024", "prefault_ms")
plain = get("BM_PrefaultSlot/level:1/GiB:1024/root:4", "prefault_ms")
targets = [
    f"| replay >= 2 M statements/s (churn trace, Release, one core) | {fmt(sps and sps / 1e6, '.2f')} M/s (`BM_ReplayStreamVsCat`); "
    f"{rss['stmts_per_s_wall'] / 1e6:.2f} M/s end to end (wall) and {rss['statements'] / rss['user_s'] / 1e6:.2f} M/s by user CPU time "
    f"({rss['user_s']:.1f} s) for `kvmsim replay` of the {rss['trace_bytes'] / 1e9:.2f} GB trace | {verdict(sps and sps >= 2e6)} |",
    f"| <= 64 MiB peak RSS for a 1 GB trace | {rss['max_rss_kib'] / 1024:.1f} MiB for {rss['trace_bytes'] / 1e9:.2f} GB, "
    f"{rss['statements']:,} statements ({rss['wall_s']:.1f} s wall) | {verdict(rss['max_rss_kib'] <= 64 * 1024 and rss['trace_bytes'] >= 1e9)} |",
    f"| 1 TiB dirty-logged pre-fault <= 50 ms | {fmt(dl, '.1f')} ms (`BM_PrefaultDirtyLoggedSlot/GiB:1024`; without dirty logging "
    f"{fmt(plain, '.1f')} ms) | {verdict(dl and dl <= 50)} |",
]
bcg, brss = before["callgrind"], before["rss"]
bareas = {a["area"]: a for a in bcg["areas"]}
def area_row(a):
    b = bareas.get(a["area"])
    was = f"{b['ir'] / bcg['statements']:.0f} ({100 * b['share']:.1f} %)" if b else "n/a"
    return f"| {a['area']} | {was} | {a['ir'] / cg['statements']:.0f} | {100 * a['share']:.1f} % |"
areas = "\n".join(area_row(a) for a in cg["areas"])
areas += (f"\n| **all** | **{bcg['total_ir'] / bcg['statements']:.0f}** | **{cg['total_ir'] / cg['statements']:.0f}** "
          f"| {cg['total_ir'] / cg['statements'] / (bcg['total_ir'] / bcg['statements']) * 100:.0f} % of before |")
top = "\n".join(f"| {t['self_ir'] / cg['statements']:.0f} | `{t['symbol'].replace('|', '/')}` |" for t in cg["top_self"])
section = f"""<!-- bench-report:begin (scripts/bench-report.sh writes this section; do not edit by hand) -->
### Targets

| target | measured | status |
|---|---|---|
{chr(10).join(targets)}

### Anchors: the model against published kernel figures

| what | model | anchor | ratio | source |
|---|---|---|---|---|
{chr(10).join(rows)}

### Where replay time goes (callgrind)

`valgrind --tool=callgrind build-release/kvmsim replay` of a {cg['statements']:,}-statement `bench/gen_churn_trace.sh`
trace: {cg['total_ir'] / cg['statements']:.0f} instructions per statement in all, {bcg['total_ir'] / bcg['statements']:.0f} before
(instruction counts, not time: they do not move with the load of this shared machine). Self cost by area,
before (bench/profile-before.json) and now (bench/profile.json):

| area | before: instructions per statement (share) | now: instructions per statement | share |
|---|---|---|---|
{areas}

Peak RSS of the {rss['trace_bytes'] / 1e9:.2f} GB trace: {brss['max_rss_kib'] / 1024:.1f} MiB before, {rss['max_rss_kib'] / 1024:.1f} MiB now.

The 15 most expensive functions (self cost):

| instructions per statement | function |
|---|---|
{top}
<!-- bench-report:end -->"""
text = open(readme).read()
pat = re.compile(r"<!-- bench-report:begin.*?<!-- bench-report:end -->", re.S)
if not pat.search(text):
    sys.exit("bench-report: markers missing in " + readme)
open(readme, "w").write(pat.sub(lambda _: section, text))
print("bench-report: updated " + readme)
PY
