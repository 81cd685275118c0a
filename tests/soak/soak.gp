# The soak's plot (tests/regress/monitor-soak.sh): agentbox-monitor's RSS
# and open fds each second; the backups made and its children's RSS.
# gnuplot -e "csv='soak.csv'; png='soak.png'; warmup=60" soak.gp
set terminal pngcairo size 1000,560 font "sans,10"
set output png
set datafile separator ","
set key autotitle columnhead bottom right opaque
set multiplot layout 2,1 title "agentbox-monitor soak: 1 s ticks, file/process/socket churn, backups every 5 s"
set xlabel "seconds"
set ylabel "VmRSS (KiB)"
set y2label "open fds"
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
set arrow from warmup, graph 0 to warmup, graph 1 nohead dt 2 lc rgb "gray"
plot csv using 1:3 with lines lw 2 lc rgb "#1f77b4" title "monitor VmRSS (KiB)", \
     csv using 1:4 axes x1y2 with steps lw 1 lc rgb "#d62728" title "monitor open fds", \
     csv using 1:13 axes x1y2 with steps lw 2 lc rgb "#9467bd" title "monitor base fds (without followed processes' stat files, job pipes)"
set ylabel "backups"
set y2label "KiB"
plot csv using 1:9 with steps lw 2 lc rgb "#ff7f0e" title "periodic backups made (cumulative)", \
     csv using 1:6 axes x1y2 with impulses lc rgb "#2ca02c" title "children (agentbox backup) VmRSS when sampled (KiB)"
unset multiplot
