# The seed design's shell check, for the benchmarks that compare with it
# (bench/monitor.sh, bench/monitor-tick.sh); source it. Needs SEED_RUNS.
# seed TREE -> "cpu_ms wall_ms" per run: user+sys CPU of the whole pipeline
# (getrusage of the children) and wall time, after one warm-up run.
seed() {
	python3 - "$1" "$SEED_RUNS" <<'PY'
import os, resource, subprocess, sys, time
ws, runs = sys.argv[1], int(sys.argv[2])
cmd = 'find "$WS" -type f -mmin -30 | head -1; pgrep -f "claude|node"; who | wc -l; ss -tnp | grep -c ESTAB'
env = dict(os.environ, WS=ws)
run = lambda: subprocess.run(["sh", "-c", cmd], env=env, stdout=subprocess.DEVNULL)
run()  # warm-up: the tree's dentries and inodes in cache, as on a box checked every minute
r0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
for _ in range(runs):
    run()
r1, t1 = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
cpu = (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) / runs
print("%.2f %.2f" % (cpu * 1e3, (t1 - t0) / runs * 1e3))
PY
}
