# Grouped bars: one cluster per variant, one bar per run (machine), log y.
#   gnuplot -e "dir='plots'; in='b.csv'; out='b.png'; title='...'; xlabel='variant'; ncol=3" plots/bars.gp
load dir.'/common.gp'
unset logscale x
set format x '%g'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set format y '%.0s%c'
set ylabel 'median time [s]'
set xtics nomirror rotate by -20 noenhanced
set grid noxtics
plot for [i=2:ncol] in using i:xtic(1) title columnhead(i)
