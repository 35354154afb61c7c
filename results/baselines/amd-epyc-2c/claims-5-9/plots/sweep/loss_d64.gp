# Training loss per epoch, one line per mixer, one panel per task point, at one d_model: the mean over the seeds of each mixer's best learning rate.
# Written by seqmix sweep plot; redraw with: gnuplot -e "out='results/baselines/amd-epyc-2c/claims-5-9/plots/sweep/loss_d64.svg'" results/baselines/amd-epyc-2c/claims-5-9/plots/sweep/loss_d64.gp
if (!exists('out')) out = 'results/baselines/amd-epyc-2c/claims-5-9/plots/sweep/loss_d64.png'
width = 800; height = 400; title = ''; xlabel = ''
load '/work/main/plots/common.gp'
set datafile separator tab
set key inside right bottom noenhanced box opaque font ',9'
set multiplot layout 1,2 title 'training loss per epoch at d_model = 64 (mean over the seeds of each mixer''s best learning rate) — amd-epyc-2c' noenhanced font ',9'
unset logscale x
set format x '%g'
set logscale y
set format y '%g'
set key right top
set xlabel 'epoch'
set ylabel 'training loss'
set title 'bytes L=128' noenhanced
set xtics 1
plot 'results/baselines/amd-epyc-2c/claims-5-9/plots/sweep/loss_d64_1.tsv' using 1:2 with linespoints ls 1 title columnhead(2), \
     'results/baselines/amd-epyc-2c/claims-5-9/plots/sweep/loss_d64_1.tsv' using 1:3 with linespoints ls 2 title columnhead(3), \
     'results/baselines/amd-epyc-2c/claims-5-9/plots/sweep/loss_d64_1.tsv' using 1:4 with linespoints ls 3 title columnhead(4)
set title 'bytes L=512' noenhanced
set xtics 1
plot 'results/baselines/amd-epyc-2c/claims-5-9/plots/sweep/loss_d64_2.tsv' using 1:2 with linespoints ls 1 title columnhead(2), \
     'results/baselines/amd-epyc-2c/claims-5-9/plots/sweep/loss_d64_2.tsv' using 1:3 with linespoints ls 2 title columnhead(3), \
     'results/baselines/amd-epyc-2c/claims-5-9/plots/sweep/loss_d64_2.tsv' using 1:4 with linespoints ls 3 title columnhead(4)
unset multiplot
