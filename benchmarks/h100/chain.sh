#!/usr/bin/env bash
# Steps of one chain of supervise.sh, in order; a failed step is logged and the chain
# goes on. "@test" waits for the test videos; "@pack RUN PRESET..." puts each preset's
# records and logs (no weights) into KEEP/results, "@top RUN" the run's tables and figures.
keep=$1 name=$2; shift 2
for step in "$@"; do
  echo "[$name] $(date +%T) $step"
  case $step in
    @test) while [ ! -f $keep/ped2/labels.json ]; do sleep 5; done ;;
    @pack*)
      set -- $step
      for preset in "${@:3}"; do
        tar czf $keep/results/${2}_$preset.tgz -C $keep/runs/$2 --exclude='*.safetensors' \
          --exclude='*.ckpt' $preset
      done ;;
    @top*)
      set -- $step
      (cd $keep/runs/$2 && tar czf $keep/results/${2}_top.tgz $(find . -maxdepth 1 -type f)) ;;
    *) python -m convlstm_ae.cli $step || echo "[$name] FAILED: $step" ;;
  esac
done
touch $keep/logs/$name.done
