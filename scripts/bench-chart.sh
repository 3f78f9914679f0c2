#!/bin/bash
# Draws scripts/bench.sh's table as a bar chart: for each workload, fsd's speed
# as a fraction of native (a rate's mount/native, a time's native/mount, so that
# higher is better everywhere and 1 is native speed), over /dev/fuse and, when
# the run had that side, over io_uring.  gnuplot (package gnuplot-nox) writes
# the PNG.
#
# Usage: scripts/bench-chart.sh ROWS PNG
#   ROWS: one line per workload, "label|unit|kind|native|fsd|fsd+uring", kind
#   rate or time, the last field empty without an io_uring side (bench.sh
#   writes it with BENCH_CHART=PNG).
set -euo pipefail
export LC_ALL=C

me=bench-chart
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/bench-lib.sh
source "$top/scripts/bench-lib.sh"

(($# == 2)) || die "usage: $0 ROWS PNG"
rows=$1 png=$2
[[ -r $rows ]] || die "cannot read $rows"
command -v gnuplot >/dev/null || die "gnuplot is missing (make deps installs gnuplot-nox)"

data=$(mktemp)
plot=$(mktemp)
trap 'rm -f "$data" "$plot"' EXIT

# label<TAB>fsd<TAB>fsd+uring, speeds relative to native ("-" where not measured).
awk -F'|' '
	function speed(kind, nat, m) {
		if (nat == "" || m == "" || nat <= 0 || m <= 0)
			return "-"
		return sprintf("%.4f", kind == "time" ? nat / m : m / nat)
	}
	NF >= 5 {
		ring = speed($3, $4, $6)
		if (ring != "-")
			any_ring = 1
		printf "%s\t%s\t%s\n", $1, speed($3, $4, $5), ring
	}
	END { exit any_ring ? 0 : 3 }' "$rows" >"$data" && with_ring=1 || with_ring=
[[ -s $data ]] || die "no workloads in $rows"
# The y range: 0.01 to 3, or wider if a bar would fall outside it.
read -r ymin ymax < <(awk -F'\t' '{ for (i = 2; i <= 3; i++) if ($i != "-") {
		if (!n++ || $i < lo) lo = $i; if ($i > hi) hi = $i } }
	END { printf "%g %g\n", (lo < 0.01 ? lo / 2 : 0.01), (hi > 2 ? hi * 1.5 : 3) }' "$data")

{
	cat <<EOF
set terminal pngcairo size 1280,800 font "DejaVu Sans,11" noenhanced
set output "$png"
set datafile separator "\t"
set datafile missing "-"
set title "fsd against native: the speed of each workload through the mount, 1 = native (higher is better)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set yrange [$ymin:$ymax]
set ytics ("0.01" 0.01, "0.02" 0.02, "0.05" 0.05, "0.1" 0.1, "0.2" 0.2, "0.5" 0.5, "1 (native)" 1, "2" 2)
set grid ytics
set ylabel "speed through the mount / native speed"
set xtics rotate by 30 right nomirror
set bmargin 12
set key top right
set arrow from graph 0, first 1 to graph 1, first 1 nohead lw 2 lc rgb "black"
EOF
	# Each bar's number above it: with two series, the bars of workload n
	# stand at n - 1/6 and n + 1/6 (clustered, gap 1).
	if [[ -n $with_ring ]]; then
		echo "plot '$data' using 2:xtic(1) title 'fsd over /dev/fuse' lc rgb '#4477aa', \\"
		echo "     '' using 3 title 'fsd over io_uring' lc rgb '#ee6677', \\"
		echo "     '' using (\$0 - 1.0/6):2:(sprintf('%.2f', \$2)) with labels offset 0,0.7 notitle, \\"
		echo "     '' using (\$0 + 1.0/6):3:(sprintf('%.2f', \$3)) with labels offset 0,0.7 notitle"
	else
		echo "plot '$data' using 2:xtic(1) title 'fsd' lc rgb '#4477aa', \\"
		echo "     '' using 0:2:(sprintf('%.2f', \$2)) with labels offset 0,0.7 notitle"
	fi
} >"$plot"
gnuplot "$plot" || die "gnuplot failed on $plot"
