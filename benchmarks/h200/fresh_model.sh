#!/usr/bin/env bash
# A fresh Ped2 model on one lent GPU (issue 24: a model whose test set no read has seen).
# Each call of the device tool runs this once. Idempotent: the first call carries
# gpu_data/ped2-train (Ped2's 16 training videos, 57 MB: it fits one call only with
# docs/results left out of the tree, e.g. `git sparse-checkout set --no-cone '/*'
# '!/docs/results/'`), copies it to KEEP and starts `train` detached on a frozen copy of
# src/; every call waits up to SECONDS_PER_CALL for it, and once it has finished puts the
# run's records (no weights) and the weights in float16, as parts of 12 MB
# (benchmarks/h200/join_weights.py rebuilds them), into $OUT. The held-out videos are
# train's default (04, 08, 12, 16); only the training set travels: the test videos are
# scored on the CPU, after the live score has been chosen.
set -u
keep=${KEEP:-/tmp/keep}
seconds=${SECONDS_PER_CALL:-560}
preset=${PRESET:-caffe} steps=${STEPS:-20000} seed=${SEED:-1} workers=${WORKERS:-6}
run=$keep/runs/$preset-seed$seed
start=$(date +%s)
mkdir -p $keep/logs $keep/results
export CONVLSTM_AE_CACHE=$keep/cache TQDM_MININTERVAL=30 PYTHONUNBUFFERED=1
[ -d gpu_data/ped2-train ] && [ ! -d $keep/ped2-train ] && cp -r gpu_data/ped2-train $keep/
echo "training videos: $(ls $keep/ped2-train/frames 2>/dev/null | wc -l)"
if [ ! -f $keep/started ] && [ "$(ls $keep/ped2-train/frames 2>/dev/null | wc -l)" = 16 ]; then
  touch $keep/started
  cp -r src $keep/code
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
  (cd $keep && PYTHONPATH=$keep/code setsid nohup sh -c "python -m convlstm_ae.cli train \
      --data $keep/ped2-train/frames --preset $preset --out $run --max-steps $steps \
      --seed $seed --num-workers $workers; echo \$? > $keep/logs/train.rc" \
      > $keep/logs/train.log 2>&1 < /dev/null &)
fi
[ -f $keep/started ] || exit 0
while [ $(( $(date +%s) - start )) -lt $seconds ] && [ ! -f $keep/logs/train.rc ]; do sleep 10; done
tr '\r' '\n' < $keep/logs/train.log | grep -v "^\s*$" | tail -4
if [ -f $keep/logs/train.rc ] && [ ! -f $keep/results/run.tgz ]; then
  echo "train exit status: $(cat $keep/logs/train.rc)"
  tar czf $keep/results/run.tgz -C $run --exclude='*.safetensors' --exclude='*.ckpt' \
    --exclude=checkpoints .
  python -c "import sys, torch; from safetensors.torch import load_file, save_file
save_file({k: v.half() for k, v in load_file(sys.argv[1]).items()}, sys.argv[2])" \
    $run/model/model.safetensors $keep/weights16.safetensors \
    && split -b 12000000 -d -a 1 $keep/weights16.safetensors $keep/results/weights16.part
fi
cp $keep/logs/train.log $keep/results/ 2>/dev/null
cp $keep/results/* ${OUT:-$keep/out}/ 2>/dev/null
ls -la ${OUT:-$keep/out}
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader
exit 0
