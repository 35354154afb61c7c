# One x value (a sweep of a single shape) gives gnuplot an empty x range and a warning on stderr:
# widen it to a factor of 2 each way. Loaded after common.gp by the scripts whose x is a size.
stats in using 1 nooutput
if (exists('STATS_records')) { if (STATS_records > 0 && STATS_min == STATS_max) { set xrange [STATS_min / 2.0 : STATS_max * 2.0] } }
