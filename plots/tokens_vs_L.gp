# Throughput (tokens per second, B * L / median time) vs sequence length per variant, log-log.
#   gnuplot -e "dir='plots'; in='t.csv'; out='t.png'; title='...'; xlabel='L'; ncol=4" plots/tokens_vs_L.gp
load dir.'/common.gp'
load dir.'/single_x.gp'
set logscale y
set format y '%.0s%c'
set ylabel 'tokens / s'
plot for [i=2:ncol] in using 1:i with linespoints title columnhead(i)
