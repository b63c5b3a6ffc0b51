#!/usr/bin/env bash
# The single- and cross-database protocols of docs/results.md ("Other protocols"): every protocol
# preset on the published composite flows, for FR and every baseline (each on its paper's
# channels), 3 seeds, default recipe. Rerunning resumes (same output folders).
#   bash scripts/run_protocols.sh <composite data dir> <output root> [featref run options...]
# MODELS="featref ststnet" restricts the models (e.g. two streams with --workers 1 each on two
# cores: no worker idles at the end of the three-unit cross-database runs).
# Then: featref protocol-report <output root> --output-dir <figure folder>
set -euo pipefail
data=${1:?usage: run_protocols.sh DATA_DIR OUT_ROOT [featref run options]}
out=${2:?usage: run_protocols.sh DATA_DIR OUT_ROOT [featref run options]}
shift 2
presets=(megc2019_casme2_only megc2019_samm_only megc2019_smic_only
         megc2019_cross_samm+smic_to_casme2 megc2019_cross_casme2+smic_to_samm
         megc2019_cross_casme2+samm_to_smic
         megc2019_cross_samm_to_casme2 megc2019_cross_smic_to_casme2
         megc2019_cross_casme2_to_samm megc2019_cross_smic_to_samm
         megc2019_cross_casme2_to_smic megc2019_cross_samm_to_smic)
for model in ${MODELS:-featref ststnet off_apexnet dual_inception}; do
  case $model in  # each model on its paper's channels
    featref|ststnet) channels=u,v,strain ;;
    off_apexnet|dual_inception) channels=u,v ;;
    *) echo "run_protocols.sh: unknown model '$model' (featref ststnet off_apexnet dual_inception)" >&2
       exit 2 ;;
  esac
  for p in "${presets[@]}"; do
    featref run --config "$p" --model "$model" --channels "$channels" --data-dir "$data" \
      --output-dir "$out/$p/$model" --no-progress "$@"
  done
done
