#!/usr/bin/env bash
# The located live score on a full-size model (issue 24), on one lent H200; each call of
# the device tool runs this once. Idempotent: copies what was carried into KEEP, starts the
# chain once (detached, on a frozen copy of src/, so it outlives the call), waits, and
# before it returns copies every finished result (no weights) into $OUT.
# A call carries at most 64 MiB with the tree (about 36 MB), so Ped2 (109 MB) travels in
# parts of whole videos, each gpu_data/ped2/pN/{training,testing}/frames/NN; the last
# holds labels.json, which marks the test videos complete:
#   calls 1-5: carry gpu_data/ped2/p1 .. p5 (SECONDS_PER_CALL=0 until the chain has started)
#   later:     no carry; each call waits up to SECONDS_PER_CALL for the chain
# The chain starts once all 16 training videos are there.
# The chain: train the caffe preset without the default held-out videos (04, 08, 12, 16),
# choose the live score on them (experiment live-score --install), then watch all 12 test
# videos as file sources and draw test video 04's overlay.
set -u
keep=${KEEP:-/tmp/keep}
seconds=${SECONDS_PER_CALL:-540}
preset=${PRESET:-caffe} steps=${STEPS:-20000} batch=${BATCH:-16} workers=${WORKERS:-6}
start=$(date +%s)
mkdir -p $keep/logs $keep/ped2 $keep/results
export CONVLSTM_AE_CACHE=$keep/cache TQDM_MININTERVAL=30 PYTHONUNBUFFERED=1
for part in gpu_data/ped2/p*; do
  [ -d $part ] || continue
  for kind in training testing; do [ -d $part/$kind ] && cp -rn $part/$kind $keep/ped2/ 2>/dev/null; done
  [ -f $part/labels.json ] && cp $part/labels.json $keep/ped2/.labels.json \
    && mv $keep/ped2/.labels.json $keep/ped2/labels.json
done
echo "training videos: $(ls $keep/ped2/training/frames 2>/dev/null | wc -l)," \
  "test videos: $(ls $keep/ped2/testing/frames 2>/dev/null | wc -l)"
if [ ! -f $keep/started ] && [ "$(ls $keep/ped2/training/frames 2>/dev/null | wc -l)" = 16 ]; then
  touch $keep/started
  cp -r src $keep/code
  cp benchmarks/h100/chain.sh $keep/chain.sh
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null
  model=$keep/runs/$preset/model
  tests=$(for i in 01 02 03 04 05 06 07 08 09 10 11 12; do echo -n "$keep/ped2/testing/frames/$i "; done)
  ( cd $keep && PYTHONPATH=$keep/code exec setsid nohup bash $keep/chain.sh $keep live \
      "train --data $keep/ped2/training/frames --preset $preset --out $keep/runs/$preset \
        --max-steps $steps --batch-size $batch --num-workers $workers" \
      "@test" \
      "experiment live-score $model $keep/ped2 --out $keep/runs/live --install" \
      "watch $model $tests --no-realtime --out $keep/runs/watch" \
      "score $model $keep/ped2/testing/frames/04 --out $keep/runs/overlay/04.csv \
        --overlay $keep/runs/overlay/04.mp4" ) > $keep/logs/live.log 2>&1 < /dev/null &
  echo live > $keep/chains
fi
finished() { [ -f $keep/logs/live.done ]; }
[ -f $keep/started ] || exit 0
while [ $(( $(date +%s) - start )) -lt $seconds ] && ! finished; do sleep 10; done
tr '\r' '\n' < $keep/logs/live.log | grep -v "^\s*$" | tail -6
if finished && [ ! -f $keep/results/runs.tgz ]; then  # the records without weights, and
  # the weights in float16 as parts of 12 MB (benchmarks/h200/join_weights.py rebuilds them)
  tar czf $keep/results/runs.tgz -C $keep/runs --exclude='*.safetensors' --exclude='*.ckpt' \
    --exclude='*.onnx' --exclude=checkpoints .
  python -c "import sys, torch; from safetensors.torch import load_file, save_file
save_file({k: v.half() for k, v in load_file(sys.argv[1]).items()}, sys.argv[2])" \
    $keep/runs/$preset/model/model.safetensors $keep/weights16.safetensors \
    && split -b 12000000 -d -a 1 $keep/weights16.safetensors $keep/results/weights16.part
fi
tar czf $keep/results/logs.tgz -C $keep logs
cp $keep/results/* ${OUT:-$keep/out}/ 2>/dev/null
ls -la ${OUT:-$keep/out}
finished && echo "ALL DONE"
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader 2>/dev/null
exit 0
