#!/usr/bin/env bash
# Where the decoders' time goes on one GPU host, and how many real-time cameras it
# carries, in one call of the device tool (about 5 minutes): 256 caffe MJPG streams
# (320x240) every frame, then the same with an engine that costs nothing at 8, 15, 30
# and 60 decoder processes, each row with its CPU columns (decoder and scorer CPU ms per
# frame, CPUs busy and stolen), and once under cProfile (decoders and scorer, where
# py-spy cannot attach; $OUT/profile); then 384 streams every frame and, if they keep up, 60 s
# of them in real time. First, the decoders' work alone in 1, 8, 15 and 16 processes at
# once (decode_scaling.py), so the machine's own scaling is known apart from watch's.
# Carries nothing; results land in $OUT.
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
run decoders 220 --streams 256 --frames 300 --no-check --host 8,15,30,60 \
  --profile $OUT/profile
run realtime-384 230 --streams 384 --frames 1500
uptime
