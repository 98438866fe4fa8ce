#!/usr/bin/env bash
# Builds the libFuzzer binary (address sanitizer on) and fuzzes one target.
#
#   Tests/Fuzz/fuzz.sh TARGET SECONDS [extra libFuzzer flags]
#
# TARGET: frames, client-handshake, server-handshake, json, client-state, metric-lines, fastslow, lantern-tlv, http-request, agent-messages, deflate, hub-dispatch, mqtt-packets.
# The working corpus grows in .fuzz/TARGET (seeded from Tests/Fuzz/Corpus/TARGET); crashes,
# timeouts and out-of-memory inputs land in .fuzz/artifacts/TARGET/. To keep a finding as a
# regression, copy it into Tests/Fuzz/Corpus/TARGET: `swift test` replays every file there.
set -euo pipefail

if [[ $# -lt 2 ]]; then
    echo "usage: $0 TARGET SECONDS [libFuzzer flags...]" >&2
    echo "targets: frames client-handshake server-handshake json client-state metric-lines fastslow lantern-tlv http-request agent-messages deflate hub-dispatch mqtt-packets" >&2
    exit 2
fi
target=$1
seconds=$2
shift 2

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
seeds="Tests/Fuzz/Corpus/$target"
if [[ ! -d "$seeds" ]]; then
    echo "unknown target '$target' (no $seeds)" >&2
    exit 2
fi

SENSORSTREAM_FUZZ=1 swift build -c release --scratch-path .build-fuzz --product sensorstream-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library >&2
binary=$(SENSORSTREAM_FUZZ=1 swift build -c release --scratch-path .build-fuzz --show-bin-path)/sensorstream-fuzz

mkdir -p ".fuzz/$target" ".fuzz/artifacts/$target"
SENSORSTREAM_FUZZ_TARGET=$target exec "$binary" \
    -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix=".fuzz/artifacts/$target/" "$@" ".fuzz/$target" "$seeds"
