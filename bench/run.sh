#!/bin/bash
# bench/run.sh — `make bench`: Kluis's audited read measured side by side with its two yardsticks
# (../shared/baselines: the limit server, the physical ceiling of this stack, and PostgreSQL with
# row-level security and an audit insert per read), plus the micro-benchmarks of issue 7.
#
#   bench/run.sh [all|read|sweep|micro|scale|pages|baselines]  (default: all = read sweep micro)
#
#   read   three rounds, each Kluis then limit then PostgreSQL, wrk -t2 -c64 -d10s (pgbench -c8 -j2
#          -T10 for PostgreSQL, its own best setting), after a warm-up; ONE table of medians: req/s,
#          p50, p99, server CPU µs per request (utime+stime of the server's processes over the run,
#          /proc/<pid>/stat), and the ratios Kluis/limit and Kluis/PostgreSQL of each round.
#   sweep  throughput against connections (1, 8, 64, 256) for all three → a gnuplot PNG.
#   micro  grant creation rate (wrk, pre-signed grants), log append (100,000 leaves) and proof
#          latency on a 1,000,000-leaf log (bench/tlog.c).
#   pages  what each group commit writes, by kind of LMDB page (bench/pages.c, LD_PRELOAD): the
#          flush costs per scattered page, so pages per read is what bounds the commit cycle.
#   scale  1,000 vs 1,000,000 citizens: read figures, start-up time, RSS of kluisd. Both vaults are
#          served at once and read in turns (SCALE_ROUNDS rounds of both); the ratio is the median
#          of the rounds' own ratios. The large data set (~25 GB, some fifteen minutes to make) is
#          kept in build/bench/ for later runs.
#
# Everything is built and kept under build/bench/ (nothing is copied into the repository); tables
# and the plot go to bench/results/ (not committed). Needs wrk, gnuplot and PostgreSQL 15 (Debian
# packages wrk, gnuplot-nox, postgresql): installed with apt-get when missing and run as root.
# Knobs (environment): ROUNDS=3 DUR=10 CONNS=64 CITIZENS=1000 ENTRIES=4 SWEEP="1 8 64 256"
# SWEEP_DUR=5 SCALE_N=1000000 SCALE_ENTRIES=1 SCALE_WARM=60 SCALE_ROUNDS=5 SETTLE=1 (seconds after a sync before each run)
# NO_PG=1 (skip PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
B=${B:-build}
OUT=$ROOT/$B/bench
RES=$ROOT/bench/results
mkdir -p "$OUT" "$RES"
for d in "${KLUIS_SHARED:-}" ../shared /work/shared; do
    if [ -n "$d" ] && [ -d "$d/baselines" ]; then SHARED=$(cd "$d" && pwd); break; fi
done
: "${SHARED:?cannot find the shared folder with baselines/ (set KLUIS_SHARED)}"

ROUNDS=${ROUNDS:-3}
DUR=${DUR:-10}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
CITIZENS=${CITIZENS:-1000}
ENTRIES=${ENTRIES:-4}
SWEEP=${SWEEP:-1 8 64 256}
SWEEP_DUR=${SWEEP_DUR:-5}
WARM=${WARM:-3}
SCALE_ROUNDS=${SCALE_ROUNDS:-5}
SCALE_N=${SCALE_N:-1000000}
SCALE_ENTRIES=${SCALE_ENTRIES:-1}
KPORT=${KPORT:-18080}
LPORT=${LPORT:-18081}
PGPORT=${PGPORT:-15432}
HZ=$(getconf CLK_TCK)
STAMP=$(date +%Y%m%d-%H%M%S)
WHAT=${1:-all}

log() { printf '%s\n' "bench: $*" >&2; }

# ------------------------------------------------------------------ tools and builds

need_tools() {
    local missing=()
    command -v wrk >/dev/null || missing+=(wrk)
    command -v gnuplot >/dev/null || missing+=(gnuplot-nox)
    [ -x /usr/bin/time ] || missing+=(time)
    if [ -z "${NO_PG:-}" ] && [ ! -x /usr/lib/postgresql/15/bin/initdb ]; then missing+=(postgresql); fi
    if [ ${#missing[@]} -gt 0 ]; then
        if [ "$(id -u)" != 0 ]; then
            log "missing ${missing[*]}: install them (apt-get install ${missing[*]}) or run as root"
            exit 1
        fi
        log "installing ${missing[*]}"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    if [ -z "${NO_PG:-}" ] && [ "$(id -u)" != 0 ]; then
        log "the PostgreSQL baseline runs its cluster as user postgres: run as root, or set NO_PG=1"
        exit 1
    fi
}

CFLAGS_B="-std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Wshadow -Wvla -I$ROOT"
build() {
    [ -x "$B/kluisd" ] && [ -f "$B/libkluis.a" ] || make -s all
    # the limit server, as its own Makefile builds it, but into build/bench/
    local lim=$SHARED/baselines/limit/limit_server.c
    if [ ! -x "$OUT/limit_server" ] || [ "$lim" -nt "$OUT/limit_server" ]; then
        cc -O2 -g -Wall -Wextra -std=c11 -pthread $(pkg-config --cflags libmicrohttpd libsodium jansson) \
            -o "$OUT/limit_server" "$lim" $(pkg-config --libs libmicrohttpd libsodium jansson) -llmdb -pthread
    fi
    local libs="$B/libkluis.a $(pkg-config --libs libsodium lmdb jansson) -lpthread"
    local inc="$(pkg-config --cflags libsodium lmdb jansson)"
    cc $CFLAGS_B $inc -o "$OUT/bench_gen" bench/gen.c $libs
    cc $CFLAGS_B $inc -o "$OUT/bench_tlog" bench/tlog.c $libs
}

# ------------------------------------------------------------------ processes and CPU

ticks_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# CPU ticks of a PostgreSQL cluster: every live process of the postmaster's tree, plus what its
# exited children (pgbench's backends) left in the postmaster's cutime/cstime.
pg_ticks() {
    local pm=$1 sum kids
    sum=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$pm/stat")
    kids=$(pgrep -P "$pm" || true)
    for k in $kids; do
        [ -r "/proc/$k/stat" ] && sum=$((sum + $(ticks_of "$k" 2>/dev/null || echo 0)))
    done
    echo "$sum"
}

wait_port() { # port pid
    for _ in $(seq 1 600); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

KPID=""
KPIDS="" # every kluisd this run started and has not stopped (the scale run serves two at once)
LIMPID=""
PG_STARTED=""
cleanup() {
    local k
    for k in $KPIDS; do kill "$k" 2>/dev/null && wait "$k" 2>/dev/null || true; done
    [ -n "$LIMPID" ] && kill "$LIMPID" 2>/dev/null && wait "$LIMPID" 2>/dev/null || true
    if [ -n "$PG_STARTED" ]; then
        su postgres -s /bin/sh -c "/usr/lib/postgresql/15/bin/pg_ctl -D $OUT/pg/pg-cluster/data -m fast -w stop" \
            >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT

# start_kluisd VAULTDIR [LOG] → KPID, and KSTART (seconds from exec to listening on $KPORT)
start_kluisd() {
    local t0 t1 klog=${2:-$OUT/kluisd.log}
    t0=$(date +%s.%N)
    env ${KLUISD_ENV:-} "$B/kluisd" serve --dir "$1" --listen "127.0.0.1:$KPORT" --web none --max-per-ip 1024 \
        >"$klog" 2>&1 &
    KPID=$!
    KPIDS="$KPIDS $KPID"
    wait_port "$KPORT" "$KPID" || { cat "$klog" >&2; log "kluisd did not start"; exit 1; }
    t1=$(date +%s.%N)
    KSTART=$(echo "$t1 - $t0" | bc -l)
}
stop_kluisd() {
    kill "$KPID"
    wait "$KPID" || true
    KPIDS=$(echo "$KPIDS" | tr ' ' '\n' | grep -vx "$KPID" | tr '\n' ' ' || true)
    KPID=""
}

start_limit() {
    (cd "$OUT" && exec ./limit_server -p "$LPORT" -m gc -t pool -d "$OUT/limit-db" -n 100000) \
        >"$OUT/limit.log" 2>&1 &
    LIMPID=$!
    wait_port "$LPORT" "$LIMPID" || { cat "$OUT/limit.log" >&2; log "limit_server did not start"; exit 1; }
}
stop_limit() { kill "$LIMPID"; wait "$LIMPID" || true; LIMPID=""; }

# ------------------------------------------------------------------ data sets

# kluis_dataset N E → DS (file prefix) and VAULT
kluis_dataset() {
    local n=$1 e=$2
    VAULT=$OUT/vault-$n-e$e
    DS=$OUT/ds-$n-e$e
    mkdir -p "$OUT"
    # a small data set is made afresh each run (seconds), so every run reads the same vault;
    # a large one is kept (minutes) and only grows
    [ "$n" -le 10000 ] && rm -rf "$VAULT"
    if [ ! -f "$VAULT/.complete" ]; then
        log "making the Kluis data set: $n citizens, $e entries of 1 KiB in section plan (bench/gen.c)"
        local extra=--fast
        [ "$n" -le 10000 ] && extra=--real-wraps
        "$OUT/bench_gen" vault "$VAULT" --charter policy/charter.example.json --citizens "$n" --entries "$e" \
            --out "$DS" $extra
        touch "$VAULT/.complete"
    else
        "$OUT/bench_gen" sessions "$VAULT" --citizens "$n" --out "$DS" # fresh tokens
    fi
    TOKEN=$(cat "$DS.token")
}

pg_setup() {
    [ -n "${NO_PG:-}" ] && return 0
    # run the baseline's own script from a copy under build/bench/ (it writes results/ beside itself)
    mkdir -p "$OUT/pg"
    cp "$SHARED"/baselines/pg/*.sql "$SHARED"/baselines/pg/run.sh "$OUT/pg/"
    log "PostgreSQL baseline: its run.sh (load on first use, then its own pgbench runs)"
    (cd "$OUT/pg" && BASE="$OUT/pg/pg-cluster" PORT=$PGPORT DUR=${PG_DUR:-5} KEEP=1 bash ./run.sh) \
        >"$OUT/pg/run.log" 2>&1 || { tail -20 "$OUT/pg/run.log" >&2; log "pg/run.sh failed"; exit 1; }
    PG_STARTED=1
    PGPM=$(head -1 "$OUT/pg/pg-cluster/data/postmaster.pid")
}

# ------------------------------------------------------------------ load generators

# wrk_run PORT CONNS SECONDS [lua-env...] → "rps p50_us p99_us requests non2xx+errors"
wrk_run() {
    local port=$1 c=$2 d=$3 t=$THREADS line
    [ "$c" -lt "$t" ] && t=$c
    line=$(env "${@:4}" /usr/bin/time -f '%U %S' -o "$OUT/client.cpu" \
        wrk -t"$t" -c"$c" -d"${d}s" --timeout 10s -s bench/read.lua "http://127.0.0.1:$port/" |
        grep '^WRK ' || true)
    [ -n "$line" ] || { log "wrk gave no result"; echo "0 0 0 0 1"; return; }
    echo "$line" | awk '{for (i = 2; i <= NF; i++) {split($i, kv, "="); v[kv[1]] = kv[2]}
        print v["rps"], v["p50_us"], v["p99_us"], v["requests"], v["non2xx"] + v["errors"]}'
}

# pg_run CLIENTS SECONDS → same fields as wrk_run (latencies from pgbench's per-transaction log)
pg_run() {
    local c=$1 d=$2 j=2 out
    [ "$c" -lt "$j" ] && j=$c
    rm -rf "$OUT/pglog" && mkdir -p "$OUT/pglog"
    out=$(cd "$OUT/pglog" && PGHOST=127.0.0.1 PGPORT=$PGPORT /usr/bin/time -f '%U %S' -o "$OUT/client.cpu" \
        pgbench -n -M simple -c "$c" -j "$j" -T "$d" \
        -f "$OUT/pg/read_audit.sql" -U app --log --log-prefix=tx postgres 2>&1)
    local tps fails
    tps=$(echo "$out" | awk '/^tps/{print $3; exit}')
    fails=$(echo "$out" | awk '/failed transactions/{print $4; exit}')
    cat "$OUT"/pglog/tx* | awk '{print $3}' | sort -n |
        awk -v tps="${tps:-0}" -v f="${fails:-0}" '{v[NR] = $1} END {
            p50 = v[int(NR * 0.50) > 0 ? int(NR * 0.50) : 1]; p99 = v[int(NR * 0.99) > 0 ? int(NR * 0.99) : 1];
            printf "%.1f %d %d %d %d\n", tps, p50, p99, NR, f}'
}

# settle: each run starts from a quiet disk — the dirty pages the previous system left (PostgreSQL's
# WAL and heap, Kluis's and the limit server's LMDB pages) are written back now, not during the next
# system's run, whose fdatasync would otherwise wait behind them.
settle() { sync; sleep "${SETTLE:-1}"; }

# measure SYSTEM CONNS SECONDS → "rps p50 p99 requests bad cpu_us_per_req client_cpu_us_per_req"
# (the load generator — wrk or pgbench — shares the two cores: its CPU per request is reported too)
measure() {
    local sys=$1 c=$2 d=$3 t0 t1 r
    settle
    case $sys in
    kluis)
        t0=$(ticks_of "$KPID")
        r=$(wrk_run "$KPORT" "$c" "$d" KLUIS_PATHS="$DS.paths" KLUIS_TOKEN="$TOKEN" \
            KLUIS_PATH_FORMAT="${KLUIS_PATH_FORMAT:-}" KLUIS_PATH_COUNT="${KLUIS_PATH_COUNT:-}")
        t1=$(ticks_of "$KPID") ;;
    limit)
        t0=$(ticks_of "$LIMPID")
        r=$(wrk_run "$LPORT" "$c" "$d")
        t1=$(ticks_of "$LIMPID") ;;
    pg)
        t0=$(pg_ticks "$PGPM")
        r=$(pg_run "$c" "$d")
        t1=$(pg_ticks "$PGPM") ;;
    esac
    local cl
    cl=$(awk '{print $1 + $2}' "$OUT/client.cpu" 2>/dev/null || echo 0)
    echo "$r" | awk -v dt=$((t1 - t0)) -v hz="$HZ" -v cl="${cl:-0}" \
        '{cpu = $4 > 0 ? dt * 1e6 / hz / $4 : 0; ccpu = $4 > 0 ? cl * 1e6 / $4 : 0; print $0, cpu, ccpu}'
}

# ------------------------------------------------------------------ the read table

run_read() {
    local raw=$RES/read-$STAMP.tsv table=$RES/read-$STAMP.txt
    kluis_dataset "$CITIZENS" "$ENTRIES"
    start_kluisd "$VAULT"
    start_limit
    pg_setup
    # sanity: one authorised read answers 200 with entries
    local probe
    probe=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
        "http://127.0.0.1:$KPORT$(head -1 "$DS.paths")" || true)
    [ "$probe" = 200 ] || { log "a probe read answered $probe, not 200: is GET .../entries routed?"; exit 1; }
    log "warm-up (${WARM}s each)"
    measure kluis "$CONNS" "$WARM" >/dev/null
    measure limit "$CONNS" "$WARM" >/dev/null
    if [ -z "${NO_PG:-}" ]; then measure pg 8 "$WARM" >/dev/null; fi
    printf 'round\tsystem\tconns\trps\tp50_us\tp99_us\trequests\tbad\tcpu_us_per_req\tclient_cpu_us_per_req\n' >"$raw"
    for r in $(seq 1 "$ROUNDS"); do
        log "round $r/$ROUNDS: kluis"
        printf '%s\tkluis\t%s\t%s\n' "$r" "$CONNS" "$(measure kluis "$CONNS" "$DUR" | tr ' ' '\t')" >>"$raw"
        log "round $r/$ROUNDS: limit"
        printf '%s\tlimit\t%s\t%s\n' "$r" "$CONNS" "$(measure limit "$CONNS" "$DUR" | tr ' ' '\t')" >>"$raw"
        if [ -z "${NO_PG:-}" ]; then
            # its documented setting (8 clients) and wrk's (64): the better one is the yardstick
            log "round $r/$ROUNDS: postgresql (c8, c64)"
            printf '%s\tpg8\t8\t%s\n' "$r" "$(measure pg 8 "$DUR" | tr ' ' '\t')" >>"$raw"
            printf '%s\tpg64\t64\t%s\n' "$r" "$(measure pg 64 "$DUR" | tr ' ' '\t')" >>"$raw"
        fi
    done
    {
        echo "Kluis audited read vs baselines — $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -r)"
        echo "Kluis: GET /v1/citizens/{c}/sections/plan/entries, $CITIZENS citizens x $ENTRIES entries of 1 KiB, bearer token,"
        echo "       random citizen per request; wrk -t$THREADS -c$CONNS -d${DUR}s; limit: limit_server -m gc -t pool (same wrk);"
        echo "       PostgreSQL 15: pgbench -c8 and -c64, -j2 -T$DUR read_audit.sql (RLS + audit insert, synchronous_commit=on);"
        echo "       the ratio takes, per round, the better of its two."
        echo "Median of $ROUNDS rounds (each round: Kluis, limit, PostgreSQL one after the other, each after a sync)."
        echo "CPU us/req: the server's processes; client us/req: the load generator's (wrk or pgbench), on the same cores."
        echo
        awk -F'\t' 'NR > 1 {k = $2; n[k]++; rps[k, n[k]] = $4; p50[k, n[k]] = $5; p99[k, n[k]] = $6;
                            cpu[k, n[k]] = $9; ccpu[k, n[k]] = $10; bad[k] += $8; round[k, $1] = $4}
            function med(a, k, m,   i, j, t, v) { for (i = 1; i <= m; i++) v[i] = a[k, i];
                for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
                return m % 2 ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2 }
            END {
                printf "%-34s %10s %9s %9s %12s %12s %8s\n", "system", "req/s", "p50 ms", "p99 ms", "CPU us/req", "client us/req", "errors"
                split("kluis limit pg8 pg64", order, " ")
                name["kluis"] = "Kluis audited read (c" conns ")"; name["limit"] = "limit server gc (c" conns ")"
                name["pg8"] = "PostgreSQL RLS+audit (pgbench c8)"; name["pg64"] = "PostgreSQL RLS+audit (pgbench c64)"
                for (r = 1; r <= n["pg8"]; r++) round["pg", r] = round["pg8", r] > round["pg64", r] ? round["pg8", r] : round["pg64", r]
                n["pg"] = n["pg8"]
                for (o = 1; o <= 4; o++) { k = order[o]; if (!n[k]) continue
                    R[k] = med(rps, k, n[k])
                    printf "%-34s %10.0f %9.2f %9.2f %12.1f %12.1f %8d\n", name[k], R[k], med(p50, k, n[k]) / 1000,
                        med(p99, k, n[k]) / 1000, med(cpu, k, n[k]), med(ccpu, k, n[k]), bad[k] }
                print ""
                split("x limit pg", order, " ")
                for (o = 2; o <= 3; o++) { k = order[o]; if (!n[k]) continue
                    line = ""; for (r = 1; r <= n[k]; r++) { ratio[r] = round["kluis", r] / round[k, r]
                        line = line sprintf(" %.2f", ratio[r]) }
                    for (i = 1; i <= n[k]; i++) for (j = i + 1; j <= n[k]; j++) if (ratio[j] < ratio[i]) { t = ratio[i]; ratio[i] = ratio[j]; ratio[j] = t }
                    m = n[k] % 2 ? ratio[(n[k] + 1) / 2] : (ratio[n[k] / 2] + ratio[n[k] / 2 + 1]) / 2
                    printf "ratio Kluis/%-10s median %.2f   (per round:%s)\n", (k == "pg" ? "PostgreSQL" : k), m, line }
            }' conns="$CONNS" "$raw"
    } | tee "$table"
    cp "$table" "$RES/read-latest.txt"
    log "table: $table (raw: $raw)"
}

# ------------------------------------------------------------------ connections sweep + plot

run_sweep() {
    local raw=$RES/sweep-$STAMP.tsv
    [ -n "$KPID" ] || { kluis_dataset "$CITIZENS" "$ENTRIES"; start_kluisd "$VAULT"; }
    [ -n "$LIMPID" ] || start_limit
    [ -z "${NO_PG:-}" ] && [ -z "$PG_STARTED" ] && pg_setup
    printf 'conns\tkluis\tlimit\tpg\n' >"$raw"
    for c in $SWEEP; do
        log "sweep: $c connections"
        local k l p="NaN"
        k=$(measure kluis "$c" "$SWEEP_DUR" | awk '{print $1}')
        l=$(measure limit "$c" "$SWEEP_DUR" | awk '{print $1}')
        # the baseline cluster keeps initdb's max_connections = 100
        if [ -z "${NO_PG:-}" ] && [ "$c" -le 90 ]; then p=$(measure pg "$c" "$SWEEP_DUR" | awk '{print $1}'); fi
        printf '%s\t%s\t%s\t%s\n' "$c" "$k" "$l" "$p" >>"$raw"
    done
    cp "$raw" "$RES/sweep-latest.tsv"
    gnuplot <<EOF
set terminal pngcairo size 900,560 font "sans,11"
set output "$RES/throughput-$STAMP.png"
set title "Audited read: throughput against connections ($(nproc) cores, load generator on the same machine)"
set xlabel "connections"
set ylabel "requests (transactions) per second"
set logscale x 2
set xrange [0.8:330]
set xtics ($(echo "$SWEEP" | sed 's/\([0-9]*\)/"\1" \1/g; s/ "/, "/g'))
set key top left
set grid
set datafile missing "NaN"
plot "$raw" using 1:3 with linespoints lw 2 title "limit server (ceiling: LMDB read + group-committed audit)", \
     "$raw" using 1:2 with linespoints lw 2 title "Kluis: session, policy, sealed LMDB, journal, group commit", \
     "$raw" using 1:4 with linespoints lw 2 title "PostgreSQL 15: RLS + audit insert (pgbench)"
EOF
    cp "$RES/throughput-$STAMP.png" "$RES/throughput-latest.png"
    log "plot: $RES/throughput-$STAMP.png"
}

# ------------------------------------------------------------------ micro-benchmarks

run_micro() {
    local table=$RES/micro-$STAMP.txt
    [ -n "$KPID" ] || { kluis_dataset "$CITIZENS" "$ENTRIES"; start_kluisd "$VAULT"; }
    log "micro: pre-signing grant requests"
    "$OUT/bench_gen" grants --ctokens "$DS.ctokens" --count "${GRANTS:-40000}" --out "$OUT/grants.txt"
    local g
    g=$(KLUIS_GRANTS="$OUT/grants.txt" KLUIS_WRK_THREADS=$THREADS wrk -t"$THREADS" -c16 -d"${GRANT_DUR:-5}s" \
        --timeout 10s -s bench/grants.lua "http://127.0.0.1:$KPORT/" | grep '^WRK ')
    log "micro: the transparency log (bench/tlog.c)"
    rm -rf "$OUT/tlog"
    local t
    t=$("$OUT/bench_tlog" "$OUT/tlog" --append 100000 --size 1000000 --proofs 20000)
    rm -rf "$OUT/tlog"
    {
        echo "Micro-benchmarks — $(date -u '+%Y-%m-%d %H:%M UTC')"
        echo "$g" | awk '{for (i = 2; i <= NF; i++) {split($i, kv, "="); v[kv[1]] = kv[2]}
            printf "grant creation (POST /citizens/{c}/grants, wrk -c16, signature+policy+wraps+journal): %.0f created/s, p50 %.2f ms, p99 %.2f ms (%d sent, %d not 201)\n",
                (v["requests"] - v["non2xx"]) / v["seconds"], v["p50_us"] / 1000, v["p99_us"] / 1000, v["requests"], v["non2xx"]}'
        echo "$t" | awk '{for (i = 3; i <= NF; i++) {split($i, kv, "="); v[kv[1]] = kv[2]}
            if ($2 == "append") printf "log append: %d leaves in %.2f s = %.0f leaves/s (%d commits, mean batch %.1f; per-append p50 %.2f ms, p99 %.2f ms)\n", v["leaves"], v["seconds"], v["leaves_per_s"], v["commits"], v["mean_batch"], v["p50_ms"], v["p99_ms"]
            if ($2 == "grow") printf "log grown to %d leaves in %.1f s (bulk)\n", v["size"], v["seconds"]
            if ($2 == "inclusion" || $2 == "consistency") printf "%s proof on %d leaves: p50 %.4f ms, p99 %.4f ms, max %.3f ms (%d proofs, %d bad)\n", $2, v["size"], v["p50_ms"], v["p99_ms"], v["max_ms"], v["proofs"], v["bad"]}'
    } | tee "$table"
    cp "$table" "$RES/micro-latest.txt"
}

# ------------------------------------------------------------------ scale

# cache_file FILE: read FILE once into the page cache when kluisd itself would treat it as fitting
# in memory (at most 3/4 of it: the rule of its readahead choice, vault_readahead_wanted()) and
# it fits in MemAvailable → "yes"/"no". A server that has run for a while has such a file's pages
# cached; right after bench_gen they are partly evicted. A larger file is left to kluisd's warm
# (the read path's tables only): read whole, its cold tables (epoch records, statements) took the
# page cache from the hot ones as the vault grew past memory during the rounds, and reads faulted
# 100-200 pages a second back in (docs/performance.md, "Eleventh pass").
cache_file() {
    local size_kb avail_kb mem_kb
    size_kb=$(($(stat -c %s "$1") / 1024))
    avail_kb=$(awk '/MemAvailable/{print $2}' /proc/meminfo)
    mem_kb=$(awk '/MemTotal/{print $2}' /proc/meminfo)
    if [ $((size_kb * 4)) -le $((mem_kb * 3)) ] && [ "$size_kb" -lt $((avail_kb * 9 / 10)) ]; then
        dd if="$1" of=/dev/null bs=4M status=none
        echo yes
    else
        echo no
    fi
}

# cached_pct FILE → the share of FILE's pages in the page cache now (fincore, util-linux)
cached_pct() {
    fincore -b -n -o RES,SIZE "$1" 2>/dev/null | awk '{if ($2 > 0) printf "%.0f", 100 * $1 / $2; else print 0}'
}

# The scale run serves both vaults at once, each from its own kluisd, and measures them in turns:
# round r reads the 1,000-citizen vault then the large one (the other way round in even rounds),
# so that both sizes of a round see the same machine. Measured one after the other, the
# 1,000-citizen rate alone moved by 16 % between two runs six minutes apart and decided the ratio
# (docs/performance.md, "Tenth pass"). The ratio is the median of the rounds' own ratios. Only the
# kluisd being read works: the other waits on its sockets (no batches, no checkpoint rounds).
run_scale() {
    local table=$RES/scale-$STAMP.txt raw=$RES/scale-$STAMP.tsv rounds=$SCALE_ROUNDS
    local -A vault ds token port pid start cached
    local sizes=(1000 "$SCALE_N") n r warm p=$KPORT kport0=$KPORT
    # wrk formats each path from the citizen's number at both sizes (bench/read.lua), so that its
    # own CPU per request, on the same two cores, does not grow with the vault's size. bench_gen's
    # citizen i is "c%07lu", line i of the paths file: checked on the first and last lines and the count.
    local KLUIS_PATH_FORMAT=/v1/citizens/c%07d/sections/plan/entries KLUIS_PATH_COUNT
    for n in "${sizes[@]}"; do
        kluis_dataset "$n" "$SCALE_ENTRIES"
        vault[$n]=$VAULT ds[$n]=$DS token[$n]=$TOKEN
        # shellcheck disable=SC2059
        if [ "$(head -1 "$DS.paths")" != "$(printf "$KLUIS_PATH_FORMAT" 1)" ] ||
            [ "$(tail -1 "$DS.paths")" != "$(printf "$KLUIS_PATH_FORMAT" "$n")" ] ||
            [ "$(wc -l <"$DS.paths")" != "$n" ]; then
            log "$DS.paths is not bench_gen's c%07lu list of $n paths"
            exit 1
        fi
    done
    [ -n "$KPID" ] && stop_kluisd
    sync
    : >"$RES/scale-$STAMP.warm"
    for n in "${sizes[@]}"; do
        cached[$n]=$(cache_file "${vault[$n]}/data.mdb")
        KPORT=$p
        start_kluisd "${vault[$n]}" "$OUT/kluisd-$n.log"
        port[$n]=$p pid[$n]=$KPID start[$n]=$KSTART
        p=$((p + 3))
        # kluisd warms the read path's tables in the background (vault_warm); the rounds begin
        # once it has said so, as on a server that has run for a while
        for _ in $(seq 1 900); do
            grep -q '^kluisd: warm' "$OUT/kluisd-$n.log" || ! kill -0 "$KPID" 2>/dev/null && break
            sleep 1
        done
        grep -E '^kluisd: (warm|data.mdb)' "$OUT/kluisd-$n.log" | sed "s/^/  $n citizens: /" >>"$RES/scale-$STAMP.warm"
    done
    # scale_use N: the next measure reads from the kluisd of N citizens
    scale_use() { KPID=${pid[$1]} KPORT=${port[$1]} DS=${ds[$1]} TOKEN=${token[$1]} KLUIS_PATH_COUNT=$1; }
    for n in "${sizes[@]}"; do
        # a large vault that did not fit the page cache warms up longer: reads of random citizens
        # bring what the warm left out into memory
        warm=$WARM
        [ "${cached[$n]}" = no ] && warm=${SCALE_WARM:-60}
        scale_use "$n"
        measure kluis "$CONNS" "$warm" >/dev/null
    done
    printf 'round\tcitizens\trps\tp50_us\tp99_us\trequests\tbad\tcpu_us_per_req\tclient_cpu_us_per_req\n' >"$raw"
    for r in $(seq 1 "$rounds"); do
        local order=("${sizes[@]}")
        [ $((r % 2)) = 0 ] && order=("${sizes[1]}" "${sizes[0]}")
        for n in "${order[@]}"; do
            log "scale round $r/$rounds: $n citizens"
            scale_use "$n"
            printf '%s\t%s\t%s\n' "$r" "$n" "$(measure kluis "$CONNS" "$DUR" | tr ' ' '\t')" >>"$raw"
        done
    done
    # VmRSS counts the pages of data.mdb that LMDB's read-only map has touched (file-backed,
    # reclaimable page cache); RssAnon is kluisd's own memory (heap, stacks, buffers)
    local mem=$RES/scale-$STAMP.mem
    : >"$mem"
    for n in "${sizes[@]}"; do
        printf '%s\t%.3f\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "${start[$n]}" \
            "$(awk '/VmRSS/{print $2}' "/proc/${pid[$n]}/status")" "$(awk '/VmHWM/{print $2}' "/proc/${pid[$n]}/status")" \
            "$(awk '/RssAnon/{print $2}' "/proc/${pid[$n]}/status")" "$(du -m "${vault[$n]}/data.mdb" | awk '{print $1}')" \
            "${cached[$n]}" "$(cached_pct "${vault[$n]}/data.mdb")" >>"$mem"
    done
    for n in "${sizes[@]}"; do
        scale_use "$n"
        stop_kluisd
    done
    KPORT=$kport0
    {
        echo "Scale — $(date -u '+%Y-%m-%d %H:%M UTC'): $SCALE_ENTRIES entries of 1 KiB per read, wrk -t$THREADS -c$CONNS -d${DUR}s,"
        echo "both vaults served at once and read in turns, $rounds rounds (medians; the ratio is the median of the rounds' ratios);"
        echo "wrk formats each path from a random citizen number (the same work at both sizes); client us: wrk's CPU per read"
        echo "(data.mdb read into the page cache before kluisd starts when it fits in 3/4 of memory and in available memory:"
        echo " \"cached\"; otherwise kluisd's warm and ${SCALE_WARM:-60} s of random reads warm it up before the rounds;"
        echo " RSS counts LMDB's file-backed map pages, anon MB is kluisd's own memory)"
        awk -F'\t' -v small="${sizes[0]}" -v large="${sizes[1]}" '
            function med(a, k, m,   i, j, t, v) { for (i = 1; i <= m; i++) v[i] = a[k, i];
                for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
                return m % 2 ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2 }
            FNR == NR { st[$1] = $2; rss[$1] = $3; hwm[$1] = $4; an[$1] = $5; d[$1] = $6; c[$1] = $7; pc[$1] = $8; next }
            FNR == 1 { next }
            { k = $2; m[k]++; rps[k, m[k]] = $3; p50[k, m[k]] = $4; p99[k, m[k]] = $5; cpu[k, m[k]] = $8; ccpu[k, m[k]] = $9; bad[k] += $7
              per[$1, k] = $3; if ($1 > nr) nr = $1 }
            END {
              printf "%-10s %8s %9s %8s %8s %10s %9s %9s %9s %8s %9s %7s %8s %7s\n", "citizens", "start s", "req/s", "p50 ms", "p99 ms", "CPU us/req", "client us", "RSS MB", "peak MB", "anon MB", "data MB", "cached", "in cache", "errors"
              split(small " " large, ks, " ")
              for (i = 1; i <= 2; i++) { k = ks[i]
                printf "%-10s %8.3f %9.0f %8.2f %8.2f %10.1f %9.1f %9.1f %9.1f %8.1f %9s %7s %7s%% %7d\n", k, st[k], med(rps, k, m[k]), med(p50, k, m[k]) / 1000, med(p99, k, m[k]) / 1000, med(cpu, k, m[k]), med(ccpu, k, m[k]), rss[k] / 1024, hwm[k] / 1024, an[k] / 1024, d[k], c[k], pc[k], bad[k] }
              line = ""
              for (r = 1; r <= nr; r++) { q[1, r] = per[r, small] > 0 ? per[r, large] / per[r, small] : 0; line = line sprintf(" %.2f", q[1, r]) }
              printf "read throughput %s / %s citizens: %.2f (rounds:%s)\n", large, small, med(q, 1, nr), line }' "$mem" "$raw"
        cat "$RES/scale-$STAMP.warm"
    } | tee "$table"
    cp "$table" "$RES/scale-latest.txt"
}

# ------------------------------------------------------------------ pages per commit

# What each group commit writes, by kind of LMDB page (bench/pages.c, an LD_PRELOAD shim): one
# 10 s run of the read at $CONNS connections. A commit's flush costs about 11 µs per scattered page on
# this kind of disk, so pages per read is the figure to watch (docs/performance.md, "Fourth pass").
run_pages() {
    local table=$RES/pages-$STAMP.txt so=$OUT/pages.so w r
    cc -O2 -Wall -Wextra -shared -fPIC -o "$so" bench/pages.c -ldl
    kluis_dataset "$CITIZENS" "$ENTRIES"
    rm -f "$OUT/pages.out"
    KLUISD_ENV="LD_PRELOAD=$so PAGES_OUT=$OUT/pages.out" start_kluisd "$VAULT"
    w=$(measure kluis "$CONNS" "$WARM")
    r=$(measure kluis "$CONNS" "$DUR")
    stop_kluisd
    local reads
    reads=$(echo "$w $r" | awk '{print $4 + $11}')
    {
        echo "Pages per group commit — $(date -u '+%Y-%m-%d %H:%M UTC'): $CITIZENS citizens x $ENTRIES entries,"
        echo "wrk -t$THREADS -c$CONNS, counted over the warm-up (${WARM}s) and the run (${DUR}s): $reads reads"
        echo "$r" | awk '{printf "the run: %.0f req/s, p99 %.2f ms\n", $1, $3 / 1000}'
        cat "$OUT/pages.out"
        awk -v n="$reads" '/^commits/{c = $2} /^all pages/{a = $3}
            END {if (n > 0 && c > 0) printf "per read: %.2f pages; mean batch %.1f reads per commit\n", a / n, n / c}' \
            "$OUT/pages.out"
    } | tee "$table"
}

# ------------------------------------------------------------------ main

need_tools
build
case $WHAT in
all) run_read; run_sweep; run_micro ;;
read) run_read ;;
sweep) run_sweep ;;
micro) run_micro ;;
scale) run_scale ;;
pages) run_pages ;;
baselines) start_limit; pg_setup; log "limit and PostgreSQL baselines are built and loaded" ;;
*) echo "usage: bench/run.sh [all|read|sweep|micro|scale|pages|baselines]" >&2; exit 2 ;;
esac
