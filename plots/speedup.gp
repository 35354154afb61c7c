# Speedup vs sequence length: t(reference)/t(variant) and t(library baseline)/t(variant), log y.
# A ratio below 1 against a baseline means the variant is slower than the bare library floor.
#   gnuplot -e "dir='plots'; in='s.csv'; out='s.png'; title='...'; xlabel='L'; ncol=3" plots/speedup.gp
load dir.'/common.gp'
load dir.'/single_x.gp'
set logscale y
set ylabel 'speedup (ratio of times in one run)'
plot for [i=2:ncol] in using 1:i with linespoints title columnhead(i), 1 with lines dt 2 lc rgb '#777777' notitle
