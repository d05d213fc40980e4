#!/usr/bin/env bash
# What issue 21 still needs from a GPU host, in one call of the device tool (under 10
# minutes): this tree's decoding against the tree before session 7's decoding changes
# (MJPG to luma, the whole-factor resize), alternated in one call, then the real-time
# count. Carry gpu_data/h264 (the H.264 files) and gpu_data/src-before (made here by
# `git archive cdf5a25 src | tar x -C gpu_data/src-before`); results land in $OUT.
#   bash benchmarks/h100/issue21_rest.sh
set -u
videos=/tmp/keep/videos
mkdir -p $videos && cp gpu_data/h264/*.mp4 $videos/
nvidia-smi -L; nproc; uptime
streams() {  # SECONDS TREE NAME ARGS...: watch_streams.py of one tree, at most SECONDS,
  local limit=$1 tree=$2 name=$3; shift 3  # its JSON as $OUT/NAME.json
  PYTHONPATH=$tree timeout $limit python benchmarks/watch_streams.py --presets caffe \
    --backends torch --device cuda --videos $videos --out $OUT/$name.json "$@" 2>&1 \
    | grep -E '^\| caffe|^# end' | sed "s|^|$name |"
}
for round in 1 2; do  # caffe, 256 MJPG streams of 600 frames, every frame
  for side in before after; do
    tree=src; [ $side = before ] && tree=gpu_data/src-before/src
    streams 100 $tree mjpg-$side-$round --streams 256 --sources mjpg --frames 600 --no-check
  done
done
for side in before after; do  # caffe, 64 720p H.264 streams, every frame
  tree=src; [ $side = before ] && tree=gpu_data/src-before/src
  streams 120 $tree h264-720-$side --streams 64 --sources h264-720 --frames 1500 --no-check
done
# real time: 60 s of 25-fps MJPG streams at 192, then 128 (the largest B with 0 dropped)
streams 220 src realtime --streams 192,128 --sources mjpg --frames 1500 --budget 150
uptime
