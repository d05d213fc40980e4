#!/usr/bin/env bash
# Issue 21's real-time figures on one GPU host after session 9's steps in flight, in one
# call of the device tool (under 10 minutes): 256 caffe MJPG streams (320x240) every
# frame, then with an engine that costs nothing (the host's own ceiling), then 60 s of
# 256 real-time 25-fps streams (the target: 0 dropped, p95 latency <= 150 ms), then 720p H.264
# every frame at 128 streams with its decode cost, then 60 s of them in real time if
# they kept up. Carry gpu_data/h264 (the H.264 files, 2 MB); the MJPG
# file is made on the machine. Results land in $OUT.
#   bash benchmarks/h200/issue21_realtime.sh
set -u
videos=/tmp/keep/videos
mkdir -p $videos && cp gpu_data/h264/*.mp4 $videos/ 2>/dev/null
nvidia-smi -L; nproc; uptime; lscpu | grep -E "^(Model name|Thread|Core|Socket)"
run() {  # NAME SECONDS ARGS...: watch_streams.py, caffe, torch on CUDA
  local name=$1 limit=$2; shift 2
  PYTHONPATH=src timeout $limit python benchmarks/watch_streams.py --presets caffe \
    --backends torch --device cuda --videos $videos --out $OUT/$name.json "$@" 2>&1 \
    | grep -E '^(\| caffe|# caffe)' | sed "s|^|$name |"
}
run mjpg-realtime-256 220 --streams 256 --sources mjpg --frames 1500 --host
run h264-720 190 --streams 128 --sources h264-720 --frames 1500
uptime
