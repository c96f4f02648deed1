#!/usr/bin/env bash
# Content value (A1.3): the error of Catalog's k-nearest-neighbour estimate (src/Marquee/Modules/Catalog/ContentValueModel.cs,
# compiled as it is into bench/ContentValueBench) on held-out MovieLens titles, ratings as a proxy for views.
#
#   bench/content-value.sh
#
# Reads ../shared/data/movielens/ml-latest-small (GroupLens research licence, non-commercial: for evaluation only; never copied
# into the repository, never shipped, never used by the demo), or $MARQUEE_SHARED_DATA; exits 2 when it is absent.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
data="${MARQUEE_SHARED_DATA:-$here/../../shared/data}"
folder="$data/movielens/ml-latest-small"
if [[ ! -f "$folder/ratings.csv" ]]; then
    echo "content-value: $folder is absent: this evaluation needs MovieLens ml-latest-small from the shared data folder (../shared/data, or set MARQUEE_SHARED_DATA)." >&2
    exit 2
fi
dotnet build "$here/ContentValueBench" -c Release -v q -nologo >/dev/null
dotnet "$here/ContentValueBench/bin/Release/net10.0/ContentValueBench.dll" "$folder"
