#!/usr/bin/env bash
# Where the decoders' time goes on one GPU host, in one short call of the device tool:
# 256 caffe MJPG streams (320x240) every frame, then the same with an engine that costs
# nothing at 8, 15, 30 and 60 decoder processes (fewer grab threads per process as they
# grow). Carries nothing; results land in $OUT.
#   bash benchmarks/h200/issue21_decoders.sh
set -u
nvidia-smi -L; nproc; uptime; lscpu | grep -E "^(Model name|Thread|Core|Socket)"
PYTHONPATH=src timeout 240 python benchmarks/watch_streams.py --presets caffe --backends torch \
  --device cuda --streams 256 --sources mjpg --frames 300 --no-check --host 8,15,30,60 \
  --videos /tmp/keep/videos --out $OUT/decoders.json 2>&1 | grep -E '^\| caffe'
uptime
