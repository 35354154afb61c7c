# Achieved bandwidth (the op's compulsory bytes / time) vs sequence length, against the machine's
# measured copy bandwidth (a dashed line per device present: cpu_peak, gpu_peak in GB/s; 0 = absent).
#   gnuplot -e "dir='plots'; in='b.csv'; out='b.png'; title='...'; xlabel='L'; ncol=3; cpu_peak=12.5; gpu_peak=0" plots/bandwidth.gp
load dir.'/common.gp'
load dir.'/single_x.gp'
set logscale y
set ylabel 'achieved bandwidth [GB/s]'
extra = ''
if (cpu_peak > 0) extra = extra.sprintf(", %g with lines dt 2 lw 2 lc rgb '#555555' title 'CPU copy peak (measured)'", cpu_peak)
if (gpu_peak > 0) extra = extra.sprintf(", %g with lines dt 4 lw 2 lc rgb '#000000' title 'GPU copy peak (measured)'", gpu_peak)
eval('plot for [i=2:ncol] in using 1:i with linespoints title columnhead(i)'.extra)
