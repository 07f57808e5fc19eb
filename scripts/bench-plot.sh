#!/usr/bin/env bash
# Turns the benchmark JSON of scripts/bench.sh into bench/results.svg (gnuplot, Debian package
# gnuplot-nox; scripts/deps.sh --bench installs it):
#   left:  pre-fault cost, ns per 4K page of guest vs guest size, one line per leaf level
#          (BM_PrefaultSlot through model::Kvm; the 64 TiB point is the 5-level profile);
#   right: how many times faster the model is than this host's /dev/kvm on the same workload
#          in the same run (guest first touch, memslot churn), log scale.
# Usage: scripts/bench-plot.sh [bench.json] [out.svg]
set -euo pipefail
cd "$(dirname "$0")/.."
json=${1:-build-bench/bench.json}
out=${2:-bench/results.svg}
command -v gnuplot >/dev/null || { echo "bench-plot: gnuplot missing (apt-get install gnuplot-nox)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

python3 - "$json" "$tmp" <<'EOF'
import json, sys
data = json.load(open(sys.argv[1]))
out = sys.argv[2]
series = {1: [], 2: [], 3: []}
perpage = []
ratios = []
for b in data["benchmarks"]:
    name = b["name"]
    if b.get("error_occurred"):
        continue
    if name.startswith("BM_PrefaultSlot/"):
        series[int(b["level"])].append((b["guest_GiB"], b["ns_per_page"]))
    elif name.startswith("BM_TdpMmuMap") and not name.startswith("BM_TdpMmuMapRange") and "/level:1/" in name:
        gib = int(name.split("GiB:")[1].split("/")[0])
        perpage.append((gib, b["ns_per_page"]))
    elif name.startswith("BM_GuestFirstTouchModelVsKvm") and "model_vs_kvm_ratio" in b:
        ratios.append(("guest first touch", 1.0 / b["model_vs_kvm_ratio"]))
    elif name.startswith("BM_MemslotChurnModelVsKvm") and "model_vs_kvm_ratio" in b:
        ratios.append(("32764-slot churn", 1.0 / b["model_vs_kvm_ratio"]))
for level, pts in series.items():
    with open(f"{out}/level{level}.dat", "w") as f:
        for gib, ns in sorted(pts):
            f.write(f"{gib} {ns}\n")
with open(f"{out}/perpage.dat", "w") as f:
    for gib, ns in sorted(perpage):
        f.write(f"{gib} {ns}\n")
    if not perpage:
        f.write("1 NaN\n")
with open(f"{out}/ratio.dat", "w") as f:
    for i, (label, r) in enumerate(ratios):
        f.write(f'{i} "{label}" {r}\n')
    if not ratios:
        f.write('0 "no /dev/kvm in this run" 1\n')
EOF

gnuplot <<EOF
set terminal svg size 1100,450 dynamic font "sans,11"
set output "$out"
set termoption noenhanced
set multiplot layout 1,2 title "kvmsim benchmarks (scripts/bench.sh, $(basename "$json"))"
set title "KVM_PRE_FAULT_MEMORY of a whole slot (model)"
set logscale xy
set xlabel "guest size (GiB)"
set ylabel "ns per 4K page of guest"
set key bottom left
set grid
plot "$tmp/level1.dat" using 1:2 with linespoints lw 2 title "4K leaves (anon)", \
     "$tmp/level2.dat" using 1:2 with linespoints lw 2 title "2M leaves (hugetlb 2M; 64 TiB: 5-level)", \
     "$tmp/level3.dat" using 1:2 with linespoints lw 2 title "1G leaves (hugetlb 1G)", \
     "$tmp/perpage.dat" using 1:2 with linespoints lw 1 dt 2 title "4K, one map() per page (the kernel's loop)"
unset logscale x
set title "model speed-up over /dev/kvm, same run"
set xlabel ""
set ylabel "kernel time / model time"
set logscale y
set style fill solid 0.6
set boxwidth 0.5
set xrange [-0.75:*]
set yrange [1:10000]
set key top left
plot "$tmp/ratio.dat" using 1:3:xtic(2) with boxes notitle, 1000 with lines dt 2 lw 2 title "target 1000x", \
     "$tmp/ratio.dat" using 1:3:(sprintf("%.0fx", \$3)) with labels offset 0,1 notitle
unset multiplot
EOF
echo "bench-plot: wrote $out"
