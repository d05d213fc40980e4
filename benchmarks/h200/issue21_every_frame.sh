#!/usr/bin/env bash
# Issue 21's every-frame figures on one GPU host, in one call of the device tool (under
# 10 minutes): the CUDA engine tests of steps in flight, the engine step profiled
# (benchmarks/engine_profile.py), the engine alone (gpu_stream.py), then watch on 256
# MJPG streams, every frame, this tree against the tree before (gpu_data/src-before,
# made by `git archive REV src | tar x -C gpu_data/src-before`) alternated, the last
# run under py-spy where it can attach; then paper.
# Carry gpu_data/tools (a py-spy binary) and gpu_data/src-before; results land in $OUT.
#   bash benchmarks/h200/issue21_every_frame.sh
set -u
nvidia-smi -L; nproc; uptime
PYTHONPATH=src timeout 150 python -m pytest -q -p no:warnings tests/live/test_engine.py \
  -k "launched or left_out or added_mid" 2>&1 | tail -3
cd benchmarks
PYTHONPATH=../src timeout 100 python engine_profile.py --preset caffe --streams 256 \
  > $OUT/engine-profile-caffe.txt 2>&1; head -8 $OUT/engine-profile-caffe.txt
PYTHONPATH=../src timeout 90 python gpu_stream.py --presets caffe,paper --streams 256 \
  --variants ours-fast 2>&1 | tee $OUT/gpu-stream.txt
cd ..
streams() {  # TREE NAME PRESET FRAMES [PREFIX...]: watch_streams.py, every frame, 256 MJPG
  local tree=$1 name=$2 preset=$3 frames=$4; shift 4
  PYTHONPATH=$tree timeout 100 "$@" python benchmarks/watch_streams.py --presets $preset \
    --backends torch --device cuda --streams 256 --sources mjpg --frames $frames --no-check \
    --videos /tmp/keep/videos --out $OUT/$name.json 2>&1 | grep -E '^\| [a-z]' | sed "s|^|$name |"
}
for round in 1 2; do
  streams gpu_data/src-before/src before-$round caffe 600
  streams src after-$round caffe 600
done
spy=()
gpu_data/tools/py-spy --version && spy=(gpu_data/tools/py-spy record --rate 100 --format raw --subprocesses -o $OUT/watch-caffe.spy --)
streams src after-spy caffe 600 "${spy[@]}"
streams src paper-after paper 300
uptime
