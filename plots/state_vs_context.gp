# KV cache and recurrent state bytes one sequence holds (all layers) vs context length, log-log:
# attention's grows with the context, SSD's and Conba's do not. seqmix task efficiency --plots.
#   gnuplot -e "dir='plots'; in='s.csv'; out='s.png'; title='...'; xlabel='context'; ncol=4" plots/state_vs_context.gp
load dir.'/common.gp'
load dir.'/single_x.gp'
set logscale y
set format y '%.0b%B'
set ylabel 'bytes per sequence (fp32, all layers)'
plot for [i=2:ncol] in using 1:i with linespoints title columnhead(i)
