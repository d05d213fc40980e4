#!/usr/bin/env bash
# Carries a training checkpoint from one lent GPU machine to the next, for runs longer
# than one machine is held (the paper preset's 50k Ped2 steps: about 53 minutes).
# A call returns at most 8 files of 16 MiB and carries at most 64 MiB with the tree, so
# the checkpoint (about 190 MiB) travels as numbered parts with their SHA-256 sums.
#   on the old machine:  bash benchmarks/h100/relay.sh out CKPT FIRST COUNT  (parts FIRST.. to $OUT)
#   here:                copy the returned parts into gpu_data/relay/
#   on the new machine:  bash benchmarks/h100/relay.sh in CKPT   (carry gpu_data/relay/part.* a few
#                        at a time; joins them into CKPT once all have arrived and their sums match)
set -eu
keep=${KEEP:-/tmp/keep}
part_bytes=${PART_BYTES:-15000000}
case $1 in
  out)
    ckpt=$2 first=$3 count=$4 parts=$keep/relay_out
    if [ ! -f $parts/SHA256SUMS ]; then
      mkdir -p $parts
      split -b $part_bytes -d -a 2 "$ckpt" $parts/part.
      (cd $parts && sha256sum part.* > SHA256SUMS && sha256sum "$ckpt" | cut -d' ' -f1 > WHOLE)
    fi
    cp $parts/SHA256SUMS $parts/WHOLE "${OUT:?}/"
    ls $parts/part.* | sed -n "$((first + 1)),$((first + count))p" | xargs -r cp -t "$OUT/"
    echo "parts: $(ls $parts/part.* | wc -l), sent: $(ls $OUT/part.* | xargs -n1 basename | tr '\n' ' ')" ;;
  in)
    ckpt=$2 parts=$keep/relay_in
    mkdir -p $parts
    cp gpu_data/relay/SHA256SUMS gpu_data/relay/WHOLE $parts/ 2>/dev/null || true
    cp gpu_data/relay/part.* $parts/ 2>/dev/null || true
    missing=$(cd $parts && cut -d' ' -f3 SHA256SUMS | while read p; do [ -f $p ] || echo $p; done)
    if [ -n "$missing" ]; then echo "waiting for: $missing"; exit 0; fi
    (cd $parts && sha256sum -c --quiet SHA256SUMS)
    mkdir -p "$(dirname "$ckpt")"
    cat $parts/part.* > "$ckpt.partial"
    [ "$(sha256sum "$ckpt.partial" | cut -d' ' -f1)" = "$(cat $parts/WHOLE)" ]
    mv "$ckpt.partial" "$ckpt"
    echo "joined: $ckpt ($(du -h "$ckpt" | cut -f1))" ;;
  *) echo "usage: relay.sh out CKPT FIRST COUNT | in CKPT" >&2; exit 2 ;;
esac
