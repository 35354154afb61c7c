# Test accuracy vs sequence length L, one line per mixer, one panel per task and d_model; error bars span min..max over the seeds of the best learning rate.
# Written by seqmix sweep plot; redraw with: gnuplot -e "out='results/baselines/amd-epyc-2c/claims-5-9/plots/sweep/acc_vs_L.svg'" results/baselines/amd-epyc-2c/claims-5-9/plots/sweep/acc_vs_L.gp
if (!exists('out')) out = 'results/baselines/amd-epyc-2c/claims-5-9/plots/sweep/acc_vs_L.png'
width = 760; height = 400; title = ''; xlabel = ''
load '/work/main/plots/common.gp'
set datafile separator tab
set key inside right bottom noenhanced box opaque font ',9'
set multiplot layout 1,1 title 'test accuracy vs sequence length at the best learning rate (bars: min..max over seeds) — amd-epyc-2c' noenhanced font ',9'
set logscale x 2
set yrange [0:1.05]
set xlabel 'sequence length L (key-value pairs N)'
set ylabel 'test accuracy'
set xrange [98.4615:665.6]
set title 'bytes, d_model = 64' noenhanced
plot 'results/baselines/amd-epyc-2c/claims-5-9/plots/sweep/acc_vs_L_1.tsv' using 1:3:4:5:xtic(2) with yerrorlines ls 1 title columnhead(3), \
     'results/baselines/amd-epyc-2c/claims-5-9/plots/sweep/acc_vs_L_1.tsv' using 1:6:7:8:xtic(2) with yerrorlines ls 2 title columnhead(6), \
     'results/baselines/amd-epyc-2c/claims-5-9/plots/sweep/acc_vs_L_1.tsv' using 1:9:10:11:xtic(2) with yerrorlines ls 3 title columnhead(9)
unset multiplot
