#!/usr/bin/env bash
# Transcode benchmark: the one-decode ladder (as Marquee's Transcoder/Packager build it) against one ffmpeg process
# per rendition, on a 60 s 1080p24 source made from the Blender "Sintel" clip in ../shared/data.
#
#   bench/transcode-ladder.sh            # cases a, b, c
#   PRESET=ultrafast SECONDS_SRC=10 TUNED= bench/transcode-ladder.sh   # a quick smoke run (not a measurement)
#   TUNED="d1 d3" bench/transcode-ladder.sh                           # only some of the tuned variants (d1..d4)
#   SOURCE=prores bench/transcode-ladder.sh                           # a ProRes 422 HQ mezzanine instead of H.264
#
# Reads ../shared/data/media/video/sintel-1080p24-10s-noaudio.mp4 (CC BY 3.0, Blender Foundation; see
# ../shared/data/README.md) directly, or $MARQUEE_SHARED_DATA; exits 2 when it is absent.
# Writes only to a temp folder (cached source in $BENCH_CACHE, default /tmp/marquee-bench); no encryption is done
# (the Packager encrypts after ffmpeg, in .NET; that cost is not measured here).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
data="${MARQUEE_SHARED_DATA:-$here/../../shared/data}"
clip="$data/media/video/sintel-1080p24-10s-noaudio.mp4"
if [[ ! -f "$clip" ]]; then
    echo "transcode-ladder: $clip is absent: this benchmark needs the shared data folder (../shared/data, or set MARQUEE_SHARED_DATA)." >&2
    exit 2
fi

for tool in ffmpeg ffprobe; do
    command -v "$tool" >/dev/null || { echo "transcode-ladder: $tool is not installed" >&2; exit 2; }
done
if [[ ! -x /usr/bin/time ]]; then
    echo "transcode-ladder: installing GNU time (apt)" >&2
    apt-get install -y time >/dev/null || { apt-get update >/dev/null && apt-get install -y time >/dev/null; }
fi

PRESET="${PRESET:-veryfast}"          # Marquee:Media:X264Preset default
SECONDS_SRC="${SECONDS_SRC:-60}"
SEG=4                                 # Marquee:Media:SegmentSeconds default
FPS=24
GOP=$((FPS * SEG))                    # round(frame rate * segment seconds), as the Transcoder computes it
cache="${BENCH_CACHE:-/tmp/marquee-bench}"
mkdir -p "$cache"
work="$(mktemp -d "$cache/run.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# --- the source: Sintel 1080p24 looped to 60 s, re-encoded once, cached ----------------------------------------------
# SOURCE=h264 (default): high-quality H.264 (crf 16; ~5.7 Mbit/s for this clip) + AAC (sine), like an upload.
# SOURCE=prores: Apple ProRes 422 HQ (10-bit 4:2:2, ~110 Mbit/s here) + PCM, the mezzanine a studio delivers to a
# streaming service; its decode (and 10-bit 4:2:2 -> 8-bit 4:2:0 conversion) is what one decode saves.
SOURCE="${SOURCE:-h264}"
if [[ $SOURCE == prores ]]; then
    src="$cache/sintel-1080p24-${SECONDS_SRC}s-prores.mov"
    if [[ ! -s "$src" ]]; then
        echo "Making the ${SECONDS_SRC} s ProRes source (once, cached at $src) ..."
        ffmpeg -nostdin -v error -y -stream_loop -1 -i "$clip" -f lavfi -i "sine=frequency=440:sample_rate=48000" \
            -map 0:v:0 -map 1:a:0 -t "$SECONDS_SRC" \
            -c:v prores_ks -profile:v 3 -pix_fmt yuv422p10le -r "$FPS" -c:a pcm_s16le -ac 2 "$src.tmp.mov"
        mv "$src.tmp.mov" "$src"
    fi
elif [[ $SOURCE != h264 ]]; then
    echo "transcode-ladder: SOURCE is h264 or prores" >&2
    exit 2
fi
src="${src:-$cache/sintel-1080p24-${SECONDS_SRC}s-aac.mp4}"
if [[ ! -s "$src" ]]; then
    echo "Making the ${SECONDS_SRC} s source (once, cached at $src) ..."
    ffmpeg -nostdin -v error -y -stream_loop -1 -i "$clip" -f lavfi -i "sine=frequency=440:sample_rate=48000" \
        -map 0:v:0 -map 1:a:0 -t "$SECONDS_SRC" \
        -c:v libx264 -preset veryfast -crf 16 -pix_fmt yuv420p -r "$FPS" \
        -c:a aac -b:a 192k -ac 2 \
        -movflags +faststart "$src.tmp.mp4"
    mv "$src.tmp.mp4" "$src"
fi

# The ladder the Ladder class gives a 1920x1080 source: (height, width, kbps).
rungs=("1080 1920 5000" "720 1280 3000" "480 854 1400" "360 640 800" "240 426 400")
X264=(-c:v libx264 -preset "$PRESET" -profile:v high -pix_fmt yuv420p -g "$GOP" -keyint_min "$GOP" -sc_threshold 0
      -flags +cgop -force_key_frames "expr:gte(t,n_forced*$SEG)")
HLS_TAIL=(-f hls -hls_time "$SEG" -hls_playlist_type vod -hls_segment_type fmp4 -hls_flags independent_segments
          -hls_fmp4_init_filename init.mp4)
IN=(-nostdin -v error -y -protocol_whitelist file -i "file:$src")

# (a) ONE ffmpeg: decode once, one x264 encoder per rung, one AAC rendition. This MIRRORS the product's arguments
# (src/Marquee/Modules/Media/Transcoder.cs: Arguments and VideoGraph) by hand, argument for argument, for this source:
# the cascade of scalers, each rung scaled from the rung above
#   [0:v:0]scale=1920:1080,setsar=1,split=2[v0][c0];[c0]scale=1280:720,setsar=1,split=2[v1][c1];...;[c3]scale=426:240,setsar=1[v4]
# (the product's only extra arguments are -format_whitelist, -progress pipe:1 and -nostats, which change no work).
# If the Transcoder's graph or encoder options change, change them here too.
# Extra arguments ($@) go before the HLS output options (encoder/filter threading).
ladder_args() {
    local n=${#rungs[@]} graph="[0:v:0]" maps=() rates=() map="" i=0
    for r in "${rungs[@]}"; do
        read -r h w k <<<"$r"
        ((i > 0)) && graph+=";[c$((i - 1))]"
        graph+="scale=$w:$h,setsar=1"
        if ((i < n - 1)); then graph+=",split=2[v$i][c$i]"; else graph+="[v$i]"; fi
        maps+=(-map "[v$i]")
        rates+=("-b:v:$i" "${k}k" "-maxrate:v:$i" "$((k * 11 / 10))k" "-bufsize:v:$i" "$((k * 2))k")
        map+=" v:$i,agroup:audio,name:${h}p"
        i=$((i + 1))
    done
    printf '%s\n' -filter_complex "$graph" "${maps[@]}" "${X264[@]}" "${rates[@]}" \
        -map 0:a:0 -c:a aac -b:a 128k -ac 2 -ar 48000 "$@" "${HLS_TAIL[@]}" \
        -hls_segment_filename "%v/seg_%05d.m4s" -master_pl_name master.m3u8 \
        -var_stream_map "a:0,agroup:audio,name:audio$map" "%v/index.m3u8"
}


# (b)/(c) one ffmpeg per rendition: each decodes the whole source itself; the audio rendition is one more process.
rendition_cmd() { # $1 = out dir, $2 = "h w k" or "audio"
    local out=$1 spec=$2
    mkdir -p "$out"
    if [[ $spec == audio ]]; then
        echo "cd '$out' && ffmpeg ${IN[*]@Q} -map 0:a:0 -c:a aac -b:a 128k -ac 2 -ar 48000 ${HLS_TAIL[*]@Q} -hls_segment_filename seg_%05d.m4s index.m3u8"
    else
        read -r h w k <<<"$spec"
        echo "cd '$out' && ffmpeg ${IN[*]@Q} -map 0:v:0 -vf scale=$w:$h,setsar=1 ${X264[*]@Q} -b:v ${k}k -maxrate $((k * 11 / 10))k -bufsize $((k * 2))k -an ${HLS_TAIL[*]@Q} -hls_segment_filename seg_%05d.m4s index.m3u8"
    fi
}

results="$work/results.tsv"
: >"$results"
measure() { # $1 = label, $2 = description, $3 = shell command
    local label=$1 desc=$2 cmd=$3 t
    echo "== ($label) $desc"
    echo "   load before: $(uptime)"
    /usr/bin/time -o "$work/time.txt" -f "%e %U %S" bash -c "$cmd"
    read -r e u s <"$work/time.txt"
    echo "   load after:  $(uptime)"
    printf '%s\t%s\t%s\t%s\t%s\n' "$label" "$e" "$u" "$s" "$desc" >>"$results"
    awk -v e="$e" -v u="$u" -v s="$s" -v d="$SECONDS_SRC" \
        'BEGIN { printf "   wall %.1f s, CPU %.1f s (user %.1f + sys %.1f), CPU use %.0f%%, realtime x%.2f\n", e, u + s, u, s, 100 * (u + s) / e, d / e }'
}

per_seq="" per_par=""
for spec in "${rungs[@]}" audio; do
    name=${spec%% *}
    per_seq+="$(rendition_cmd "$work/b/$name" "$spec"); "
    per_par+="( $(rendition_cmd "$work/c/$name" "$spec") ) & "
done
per_par+="wait"

echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), ffmpeg $(ffmpeg -version | head -1 | awk '{print $3}'), preset $PRESET, source ${SECONDS_SRC} s 1920x1080 ${FPS} fps ($SOURCE: $(basename "$src"), $(ffprobe -v error -show_entries format=bit_rate -of csv=p=0 "$src") bit/s)"

# Each case is its own bash so that GNU time counts every ffmpeg it waits for.
lad() { # label desc in_extra(quoted string) out_extra...
    local label=$1 desc=$2 inx=$3; shift 3
    local args; mapfile -t args < <(ladder_args "$@")
    mkdir -p "$work/$label"
    measure "$label" "$desc" "cd '$work/$label' && ffmpeg $inx ${IN[*]@Q} ${args[*]@Q}"
    rm -rf "${work:?}/$label"
}

lad a "one-decode ladder, as the Transcoder builds it (cascaded scalers, ffmpeg default threads)" ""
measure b "one ffmpeg per rendition, one after another (5 video + 1 audio)" "$per_seq"
rm -rf "$work/b"
measure c "one ffmpeg per rendition, all at once (5 video + 1 audio)" "$per_par"
rm -rf "$work/c"
# (d) the one-decode graph tuned for 2 cores.
# TUNED picks the tuned variants d1..d4 (default none: the product's graph with ffmpeg's default threading is (a));
# e.g. TUNED="d1 d3".
TUNED="${TUNED-}"
for t in $TUNED; do
    case $t in
        d1) lad d1 "one-decode + -filter_complex_threads 2 -threads 2" "" -filter_complex_threads 2 -threads 2 ;;
        d2) lad d2 "one-decode + -filter_complex_threads 2 -threads 1 (x264 one thread each)" "" -filter_complex_threads 2 -threads 1 ;;
        d3) lad d3 "one-decode + -threads 2 -x264-params sliced-threads=1" "" -threads 2 -x264-params sliced-threads=1 ;;
        d4) lad d4 "one-decode + decoder -threads 2, -filter_complex_threads 1, x264 -threads 2" "-threads 2" -filter_complex_threads 1 -threads 2 ;;
    esac
done

echo
echo "label	wall_s	cpu_s	cpu_use_%	realtime_x	description"
awk -F'\t' -v d="$SECONDS_SRC" '{ printf "%s\t%.1f\t%.1f\t%.0f\t%.2f\t%s\n", $1, $2, $3 + $4, 100 * ($3 + $4) / $2, d / $2, $5 }' "$results"
echo
awk -F'\t' '
    { wall[$1] = $2; cpu[$1] = $3 + $4 }
    END {
        printf "CPU(b)/CPU(a)   = %.2f  (target >= 1.5)\n", cpu["b"] / cpu["a"]
        printf "wall(c)/wall(a) = %.2f  (target >= 1.3)\n", wall["c"] / wall["a"]
        best = "a"; for (k in wall) if (k ~ /^d/ && wall[k] < wall[best]) best = k
        printf "best one-decode variant by wall time: %s (%.1f s); CPU(b)/CPU(%s) = %.2f, wall(c)/wall(%s) = %.2f\n", best, wall[best], best, cpu["b"] / cpu[best], best, wall["c"] / wall[best]
    }' "$results"
