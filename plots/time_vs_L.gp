# Time vs sequence length per variant, log-log.
#   gnuplot -e "dir='plots'; in='t.csv'; out='t.png'; title='...'; xlabel='L'; ncol=4" plots/time_vs_L.gp
load dir.'/common.gp'
load dir.'/single_x.gp'
set logscale y
set format y '%.0s%c'
set ylabel 'median time [s]'
plot for [i=2:ncol] in using 1:i with linespoints title columnhead(i)
