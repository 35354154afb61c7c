# Bytes kept per sequence between decode steps vs context length (KV cache vs fixed state), log-log.
#   gnuplot -e "dir='plots'; in='b.csv'; out='b.png'; title='...'; xlabel='context'; ncol=3" plots/bytes_vs_L.gp
load dir.'/common.gp'
load dir.'/single_x.gp'
set logscale y
set format y '%.0b%B'
set ylabel 'bytes per sequence per layer'
plot for [i=2:ncol] in using 1:i with linespoints title columnhead(i)
