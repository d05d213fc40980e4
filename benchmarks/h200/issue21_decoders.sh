#!/usr/bin/env bash
# Where the decoders' time goes on one GPU host, in one call of the device tool (about 6
# minutes): first the decoders' work alone in 1, 8, 15 and 16 processes at once
# (decode_scaling.py: does this host give its cores?), then 256 caffe MJPG streams
# (320x240) every frame, and the same with an engine that costs nothing at 8, 15, 30 and
# 60 decoder processes, each row with its CPU columns (decoder and scorer CPU ms per frame,
# CPUs busy and stolen); then 64 streams once more under cProfile (decoders and scorer,
# where py-spy cannot attach; $OUT/profile), which is slow, so last and small. Session 11
# ran the first part, every frame at 256 and 384 streams and 384 in real time; the sweep
# and the profile, then run after the profile of all 256 streams, did not finish. Carries
# nothing; results land in $OUT.
#   bash benchmarks/h200/issue21_decoders.sh
set -u
nvidia-smi -L; nproc; uptime; lscpu | grep -E "^(Model name|Thread|Core|Socket)"
cat /sys/devices/system/cpu/cpu0/topology/thread_siblings_list
PYTHONPATH=src:benchmarks timeout 90 python benchmarks/decode_scaling.py --processes 8,15,16 \
  --seconds 4 2>&1 | tee $OUT/decode_scaling.txt
run() {  # NAME SECONDS ARGS...: watch_streams.py, caffe, torch on CUDA, MJPG
  local name=$1 limit=$2; shift 2
  PYTHONPATH=src timeout $limit python benchmarks/watch_streams.py --presets caffe \
    --backends torch --device cuda --sources mjpg --videos /tmp/keep/videos \
    --out $OUT/$name.json "$@" 2>&1 | grep -E '^(\| caffe|# caffe|# prof|# decoders|# scorer)' | sed "s|^|$name |"
}
run decoders 240 --streams 256 --frames 300 --no-check --host 8,15,30,60
run profile 150 --streams 64 --frames 200 --no-check --profile $OUT/profile
uptime
