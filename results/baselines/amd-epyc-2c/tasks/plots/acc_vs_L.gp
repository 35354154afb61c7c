# Test accuracy vs sequence length L, one line per mixer, one panel per task and d_model; error bars span min..max over the seeds of the best learning rate.
# Written by seqmix sweep plot; redraw with: gnuplot -e "out='plots/acc_vs_L.svg'" plots/acc_vs_L.gp
if (!exists('out')) out = 'plots/acc_vs_L.png'
width = 760; height = 400; title = ''; xlabel = ''
load '/work/main/plots/common.gp'
set datafile separator tab
set key inside right bottom noenhanced box opaque font ',9'
set multiplot layout 1,1 title 'test accuracy vs sequence length at the best learning rate (bars: min..max over seeds) — amd-epyc-2c' noenhanced font ',9'
set logscale x 2
set yrange [0:1.05]
set xlabel 'sequence length L (key-value pairs N)'
set ylabel 'test accuracy'
set xrange [24.6154:62.4]
set title 'mqar, d_model = 64' noenhanced
plot 'plots/acc_vs_L_1.tsv' using 1:3:4:5:xtic(2) with yerrorlines ls 1 title columnhead(3), \
     'plots/acc_vs_L_1.tsv' using 1:6:7:8:xtic(2) with yerrorlines ls 2 title columnhead(6)
unset multiplot
