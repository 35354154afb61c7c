# Shared terminal and style for seqmix plots. Loaded by the other scripts; `out` decides PNG or SVG,
# and `width` and `height` (when set) the size.
if (!exists('width')) width = 900
if (!exists('height')) height = 560
if (strstrt(out, '.svg') > 0) {
    set terminal svg size width,height dynamic enhanced font 'sans,12' background rgb 'white'
} else {
    set terminal pngcairo size width,height enhanced font 'sans,11'
}
set output out
set datafile separator ','
set datafile missing 'NaN'
set key outside right top noenhanced box
set grid xtics ytics mxtics mytics lc rgb '#dddddd'
set title title noenhanced
set xlabel xlabel noenhanced
set logscale x 2
set format x '2^{%L}'
set style line 1 lw 2 pt 7 lc rgb '#1f77b4'
set style line 2 lw 2 pt 5 lc rgb '#d62728'
set style line 3 lw 2 pt 9 lc rgb '#2ca02c'
set style line 4 lw 2 pt 11 lc rgb '#ff7f0e'
set style line 5 lw 2 pt 13 lc rgb '#9467bd'
set style line 6 lw 2 pt 3 lc rgb '#8c564b'
set style increment user
