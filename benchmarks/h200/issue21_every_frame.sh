#!/usr/bin/env bash
# Issue 21's every-frame figures on one GPU host, in one call of the device tool (under
# 10 minutes): the engine step profiled (benchmarks/engine_profile.py), the engine alone
# (gpu_stream.py), then watch on 256 MJPG streams, every frame, beside it in the same
# run, caffe then paper; the caffe watch run under py-spy where it can attach.
# Carry gpu_data/tools (a py-spy binary); results land in $OUT.
#   bash benchmarks/h200/issue21_every_frame.sh
set -u
nvidia-smi -L; nproc; uptime
cd benchmarks
PYTHONPATH=../src timeout 120 python engine_profile.py --preset caffe --streams 256 \
  2>&1 | tee $OUT/engine-profile-caffe.txt | head -60
PYTHONPATH=../src timeout 90 python gpu_stream.py --presets caffe,paper --streams 256 \
  --variants ours-fast 2>&1 | tee $OUT/gpu-stream.txt
cd ..
spy=""
if gpu_data/tools/py-spy --version; then
  spy="gpu_data/tools/py-spy record --rate 100 --format raw --subprocesses -o $OUT/watch-caffe.spy --"
fi
PYTHONPATH=src timeout 200 $spy python benchmarks/watch_streams.py --presets caffe \
  --backends torch --device cuda --streams 256 --sources mjpg --frames 1500 --no-check \
  --videos /tmp/keep/videos --out $OUT/watch-caffe.json 2>&1 | grep -E '^\||^#' | tee $OUT/watch-caffe.txt
PYTHONPATH=src timeout 150 python benchmarks/watch_streams.py --presets paper \
  --backends torch --device cuda --streams 256 --sources mjpg --frames 600 --no-check \
  --videos /tmp/keep/videos --out $OUT/watch-paper.json 2>&1 | grep -E '^\||^#' | tee $OUT/watch-paper.txt
uptime
