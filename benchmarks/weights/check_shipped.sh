#!/bin/bash
# Every shipped name from the command line, one thread, in an empty scratch folder (default /tmp/gensci-shipped):
# `gensci sample NAME --n 16` (the model's own steps) and `gensci evaluate NAME --n 40`, each timed; afterwards the
# folder must hold only s/ (samples), e/ (evaluations) and the logs: nothing written anywhere else.
#   bash benchmarks/weights/check_shipped.sh [SCRATCH]
export OMP_NUM_THREADS=1
scratch=${1:-/tmp/gensci-shipped}
rm -rf "$scratch" && mkdir -p "$scratch/log" && cd "$scratch" || exit 1
echo "start $(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
for n in $(python -c "from gensci.workflows.shipped import shipped_names; print(' '.join(shipped_names()))"); do
  /usr/bin/time -f "$n sample --n 16: %e s wall, %U s user, rc %x" gensci sample "$n" --n 16 --out "s/$n/" \
    > /dev/null 2> "log/sample_$n.err"; tail -1 "log/sample_$n.err"
  /usr/bin/time -f "$n evaluate --n 40: %e s wall, %U s user, rc %x" gensci evaluate "$n" --n 40 --out "e/$n" --json \
    > "log/evaluate_$n.json" 2> "log/evaluate_$n.err"; tail -1 "log/evaluate_$n.err"
done
echo "end $(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "top-level entries (expect e log s): $(ls "$scratch" | tr '\n' ' ')"
