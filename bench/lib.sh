# bench/lib.sh - helpers of bench/run: timing, a raw S3 client on curl,
# mounting the three FUSE clients, request counting, the summary table.
# Sourced by bench/run; relies on its globals (W, EP, AK, SK, REGION, ...).

# ---------------------------------------------------------------- basics

log() {
	echo "[$(date +%H:%M:%S)] $*" >>"$W/bench.log"
}

say() {
	echo "bench: $*" >&2
	log "$*"
}

now_ns() {
	date +%s%N
}

# secs T0 T1: seconds between two now_ns stamps, 3 decimals.
secs() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'
}

# calc EXPR: floating point arithmetic in awk.
calc() {
	awk "BEGIN { printf \"%.3f\", $* }"
}

# record KEY CLIENT VALUE: one measurement (VALUE "fail" when it failed).
record() {
	printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$W/results.tsv"
	log "result $1 $2 $3"
}

drop_caches() {
	sync
	if [ -w /proc/sys/vm/drop_caches ]; then
		echo 3 >/proc/sys/vm/drop_caches
	fi
}

# run_t CMD...: run CMD under the workload timeout; sets T_ELAPSED
# (seconds) and returns CMD's status (124 on timeout).
run_t() {
	local t0 t1 rc
	t0=$(now_ns)
	if [ "$(type -t "$1")" = function ]; then
		# timeout runs programs: a function of ours runs in a bash that
		# sources this file (W, EP, TMO, HERE are exported).
		timeout -k 10 "$TMO" bash -c '. "$HERE/lib.sh"; "$@"' bash "$@" \
			>>"$W/bench.log" 2>&1
	else
		timeout -k 10 "$TMO" "$@" >>"$W/bench.log" 2>&1
	fi
	rc=$?
	t1=$(now_ns)
	T_ELAPSED=$(secs "$t0" "$t1")
	[ $rc = 124 ] && say "TIMEOUT after ${TMO}s: $*"
	[ $rc = 0 ] || log "exit $rc: $*"
	return $rc
}

# ------------------------------------------------------ raw S3 over curl

# Percent-encode everything but RFC 3986 unreserved characters (for query
# values: SigV4 wants them encoded exactly so, '/' included).
urlenc() {
	local s=$1 out="" c i
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		case "$c" in
		[A-Za-z0-9._~-]) out+=$c ;;
		*) out+=$(printf '%%%02X' "'$c") ;;
		esac
	done
	printf '%s' "$out"
}

write_curl_auth() {
	umask 077
	cat >"$W/curl-auth.cfg" <<EOF
aws-sigv4 = "aws:amz:$REGION:s3"
user = "$AK:$SK"
header = "x-amz-content-sha256: UNSIGNED-PAYLOAD"
silent
show-error
fail
EOF
	umask 022
}

# rcurl ARGS...: one signed request.
rcurl() {
	curl -K "$W/curl-auth.cfg" --max-time "$TMO" "$@"
}

bucket_create() {
	rcurl -X PUT "$EP/$1" || die "cannot create bucket $1"
}

# bucket_delete B: drop a bucket with its objects at once (no GC wait: the
# memstore OSD keeps deleted data in RAM until then).
bucket_delete() {
	timeout 300 radosgw-admin -c "$W/rgw/ceph.conf" -n client.admin \
		bucket rm --bucket="$1" --purge-objects --bypass-gc \
		>>"$W/bench.log" 2>&1 || say "warning: cannot delete bucket $1"
}

# raw_batch MODE BUCKET LIST [PARALLEL]: MODE put|get|head over the lines
# "LOCAL_PATH KEY" (put) or "KEY" (get/head) of LIST, one curl process per
# chunk reusing its connection; PARALLEL chunks at once (1).
raw_batch() {
	local mode=$1 b=$2 list=$3 par=${4:-1} i pids="" rc=0 p
	rm -f "$W"/batch.*.cfg
	awk -v mode="$mode" -v ep="$EP" -v b="$b" -v n="$par" \
		-v dir="$W" '{
		f = dir "/batch." (NR % n) ".cfg"
		if (mode == "put")
			printf "upload-file = \"%s\"\nurl = \"%s/%s/%s\"\n",
				$1, ep, b, $2 > f
		else if (mode == "get")
			printf "url = \"%s/%s/%s\"\noutput = \"/dev/null\"\n",
				ep, b, $1 > f
		else
			printf "url = \"%s/%s/%s\"\n", ep, b, $1 > f
	}' "$list"
	for i in "$W"/batch.*.cfg; do
		[ -e "$i" ] || continue
		if [ "$mode" = head ]; then
			# "head" in a config applies to all its URLs.
			curl -K "$W/curl-auth.cfg" -I -K "$i" >/dev/null &
		else
			curl -K "$W/curl-auth.cfg" -K "$i" &
		fi
		pids="$pids $!"
	done
	for p in $pids; do
		wait "$p" || rc=1
	done
	return $rc
}

# raw_list BUCKET PREFIX [DELIM [AGENT]]: ListObjectsV2 page by page;
# prints "KEY SIZE" per object (and "PREFIX/ -1" per common prefix).
raw_list() {
	local b=$1 prefix=$2 delim=${3:-} agent=${4:-} tok="" q page
	page=$W/list.$$.xml
	while :; do
		q=""
		[ -n "$tok" ] && q="continuation-token=$(urlenc "$tok")&"
		[ -n "$delim" ] && q="${q}delimiter=$(urlenc "$delim")&"
		q="${q}list-type=2&prefix=$(urlenc "$prefix")"
		rcurl ${agent:+-A "$agent"} -o "$page" "$EP/$b?$q" || return 1
		# One element per line, then pair each Key with its Size.
		sed 's/</\n</g' "$page" | awk '
			/^<Key>/ { k = substr($0, 6) }
			/^<Size>/ { print k, substr($0, 7) }
			/^<Prefix>/ && inpre { print substr($0, 9), -1 }
			/^<CommonPrefixes>/ { inpre = 1 }
			/^<\/CommonPrefixes>/ { inpre = 0 }'
		tok=$(sed -n 's:.*<NextContinuationToken>\([^<]*\)</NextContinuationToken>.*:\1:p' "$page")
		[ -n "$tok" ] || break
	done
	rm -f "$page"
}

# wait_visible BUCKET PREFIX COUNT BYTES: poll until at least COUNT objects
# holding at least BYTES in total are stored under PREFIX. The clients that
# write back after close (rclone) are measured until their data is in S3.
wait_visible() {
	local b=$1 prefix=$2 count=$3 bytes=$4 deadline have
	deadline=$(($(date +%s) + TMO))
	while :; do
		have=$(raw_list "$b" "$prefix" "" bench-poll |
			awk '$2 >= 0 { n++; s += $2 } END { print n + 0, s + 0 }')
		# shellcheck disable=SC2086
		set -- $have
		[ "$1" -ge "$count" ] && [ "$2" -ge "$bytes" ] && return 0
		if [ "$(date +%s)" -ge "$deadline" ]; then
			say "TIMEOUT: $b/$prefix has $1 objects, $2 bytes;" \
				"want $count, $bytes"
			return 1
		fi
		sleep 0.1
	done
}

# raw_ls_to FILE BUCKET PREFIX: what 'ls -l' asks of S3, into FILE.
raw_ls_to() {
	raw_list "$2" "$3" / >"$1"
}

# raw_cpout BUCKET GETLIST: what 'cp -r' out asks: list, then every GET.
raw_cpout() {
	raw_list "$1" tree/ >/dev/null && raw_batch get "$1" "$2"
}

# read_file FILE: open-read-close.
read_file() {
	cat "$1" >/dev/null
}

# create_visible FILE BUCKET KEY: write 4 KiB to FILE (on a mount) and
# wait until KEY is stored.
create_visible() {
	head -c 4096 /dev/urandom >"$1" && wait_visible "$2" "$3" 1 4096
}

# ------------------------------------------------------ request counting

# Every request RGW serves is in its log (debug rgw = 1, beast access
# lines) with the client's User-Agent: etagfs sends none ("-"), s3fs
# "s3fs/...", rclone "rclone/...", curl "curl/..."; the polling above
# uses "bench-poll" so it is never counted.
agent_re() {
	case "$1" in
	# no agent; a Range header, when sent, follows it
	etagfs) echo 'HTTP/1\.1" [0-9]+ [0-9-]+ - - [^ ]+ latency=' ;;
	s3fs) echo '"s3fs/' ;;
	rclone) echo '"rclone/' ;;
	raw) echo '"curl/' ;;
	esac
}

# etagfs_stats MNT: etagfs's own counters "head=N get=N ...".
etagfs_stats() {
	python3 -c 'import os, sys
print(os.getxattr(sys.argv[1], "user.etagfs.stats").decode())' "$1" \
		2>/dev/null ||
		getfattr --only-values -n user.etagfs.stats "$1" 2>/dev/null
}

# etagfs_total MNT: the requests counted so far. Not "retries" (each
# attempt is already counted) nor "prefetch_*" (HEADs sent ahead are in
# "head"; "prefetch_used" counts lookups, not requests).
etagfs_total() {
	etagfs_stats "$1" | tr ' ' '\n' | awk -F= '
		$1 != "retries" && $1 !~ /^prefetch_/ && $2 ~ /^[0-9]+$/ {
			s += $2
		} END { print s + 0 }'
}

# sod: UTC seconds of the day, to the millisecond, like RGW's log.
sod() {
	date -u '+%H %M %S %N' |
		awk '{ printf "%.3f", $1 * 3600 + $2 * 60 + $3 + $4 / 1e9 }'
}

# req_mark CLIENT MNT: where (log offset), when and, for etagfs, at which
# counter values counting starts.
req_mark() {
	REQ_LOG_OFF=$(stat -c %s "$RGW_LOG")
	REQ_T0=$(sod)
	REQ_E0=-
	if [ "$1" = etagfs ]; then
		REQ_E0=$(etagfs_total "$2")
		log "etagfs counters before: $(etagfs_stats "$2")"
	fi
}

# req_stop CLIENT MNT: close the span opened by req_mark without waiting;
# prints it ("OFFSET T0 T1 ETAGFS_DELTA") for req_collect.
req_stop() {
	local e=-
	if [ "$1" = etagfs ]; then
		e=$(($(etagfs_total "$2") - REQ_E0))
		log "etagfs counters after:  $(etagfs_stats "$2")"
	fi
	echo "$REQ_LOG_OFF $REQ_T0 $(sod) $e"
}

# req_collect CLIENT SPAN: the requests of SPAN. etagfs: its counters
# (cross-checked against the RGW log); others: the RGW log lines of the
# client whose request started within the span.
req_collect() {
	local c=$1 off t0 t1 e n
	read -r off t0 t1 e <<<"$2"
	sleep 1 # the RGW log is written asynchronously
	tail -c +$((off + 1)) "$RGW_LOG" | grep -a ' beast: ' |
		grep -aE "$(agent_re "$c")" | awk -v t0="$t0" -v t1="$t1" '{
			# [25/Nov/2026:04:13:48.802 +0000]: when it started
			if (!match($0, /\[[0-9]+\/[A-Za-z]+\/[0-9]+:[0-9:.]+ /))
				next
			split(substr($0, RSTART + 1, RLENGTH - 2), f, ":")
			t = f[2] * 3600 + f[3] * 60 + f[4]
			if (t >= t0 - 0.0005 && t <= t1 + 0.0005) print
		}' >"$W/req.lines"
	n=$(wc -l <"$W/req.lines")
	sed -n 's/.*"\([A-Z]* [^ ]*\) HTTP[^"]*" \([0-9]*\) .*/    \1 \2/p' \
		"$W/req.lines" | head -n 40 >>"$W/bench.log"
	if [ "$e" != - ]; then
		[ "$e" = "$n" ] ||
			log "note: etagfs counters say $e, RGW log says $n"
		n=$e
	fi
	echo "$n"
}

# req_count CLIENT MNT: requests since req_mark.
req_count() {
	req_collect "$1" "$(req_stop "$1" "$2")"
}

# ------------------------------------------------------------- mounting

# mount_fs CLIENT BUCKET MNT: start the client's daemon in the foreground
# (so its pid is ours) and wait until MNT is a mountpoint.
mount_fs() {
	local c=$1 b=$2 mnt=$3 i pid
	[ "$c" = raw ] && return 0
	mkdir -p "$mnt"
	MOUNT_SEQ=$((MOUNT_SEQ + 1))
	case "$c" in
	etagfs)
		"$ETAGFS" "$b" "$mnt" -f -o "endpoint=$EP,passwd_file=$W/passwd,staging_dir=$W/etagfs-staging,conflict_dir=$W/etagfs-conflicts,memo_file=$W/etagfs.memo${ETAGFS_OPTS:+,$ETAGFS_OPTS}" \
			>>"$W/etagfs.log" 2>&1 &
		;;
	s3fs)
		s3fs "$b" "$mnt" -f -o "url=$EP,use_path_request_style,passwd_file=$W/passwd,endpoint=$REGION,tmpdir=$W/s3fs-tmp" \
			>>"$W/s3fs.log" 2>&1 &
		;;
	rclone)
		env -u AWS_CA_BUNDLE RCLONE_CONFIG=/dev/null \
			RCLONE_CONFIG_BENCH_TYPE=s3 \
			RCLONE_CONFIG_BENCH_PROVIDER=Ceph \
			RCLONE_CONFIG_BENCH_ENDPOINT="$EP" \
			RCLONE_CONFIG_BENCH_REGION="$REGION" \
			RCLONE_CONFIG_BENCH_ACCESS_KEY_ID="$AK" \
			RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY="$SK" \
			RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE=true \
			rclone mount "bench:$b" "$mnt" --vfs-cache-mode writes \
			--vfs-write-back 0s \
			--cache-dir "$W/rclone-cache/$MOUNT_SEQ" \
			>>"$W/rclone.log" 2>&1 &
		;;
	esac
	pid=$!
	echo "$pid $mnt" >>"$W/daemons"
	MOUNT_PID=$pid
	for i in $(seq 1 300); do
		mountpoint -q "$mnt" && return 0
		if ! kill -0 "$pid" 2>/dev/null; then
			say "$c exited while mounting $b (see $W/$c.log)"
			return 1
		fi
		sleep 0.1
	done
	say "$c did not mount $b within 30 s"
	kill "$pid" 2>/dev/null
	return 1
}

# umount_fs CLIENT MNT: unmount and wait for the daemon to exit (it may
# still be uploading); lazy unmount and KILL when it hangs.
umount_fs() {
	local c=$1 mnt=$2 pid=$MOUNT_PID i
	[ "$c" = raw ] && return 0
	for i in $(seq 1 20); do
		mountpoint -q "$mnt" || break
		fusermount3 -u "$mnt" 2>/dev/null && break
		sleep 0.5
	done
	if mountpoint -q "$mnt"; then
		say "warning: $mnt busy; lazy unmount"
		fusermount3 -uz "$mnt" 2>/dev/null
	fi
	for i in $(seq 1 600); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	say "warning: $c (pid $pid) still running 60 s after unmount; killing"
	kill -KILL "$pid" 2>/dev/null
	return 0
}

# vm_hwm PID: peak resident set size in MiB.
vm_hwm() {
	awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" \
		2>/dev/null
}

# ------------------------------------------------------------- summary

# summarize ROWSPEC RESULTS: the table. ROWSPEC lines are
# "key|label|hi-or-lo"; ratios are etagfs's advantage (>1: etagfs better):
# etagfs/peer for rates, peer/etagfs for times, bytes and requests.
summarize() {
	awk -F'\t' -v clients="etagfs s3fs rclone raw" '
	function fmt(v) {
		if (v == "") return "n/a"
		v += 0
		if (v == int(v) && v < 100000) return sprintf("%d", v)
		if (v >= 100) return sprintf("%.0f", v)
		if (v >= 10) return sprintf("%.1f", v)
		return sprintf("%.2f", v)
	}
	function med(key, c,    n, i, j, t, a) {
		n = split(vals[key, c], a, " ")
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && a[j] + 0 < a[j - 1] + 0; j--) {
				t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
			}
		MIN = a[1]; MAX = a[n]; N = n
		if (n % 2) return a[(n + 1) / 2]
		return (a[n / 2] + a[n / 2 + 1]) / 2
	}
	function cell(key, c,    m) {
		if (fails[key, c] && vals[key, c] == "") return "fail"
		if (vals[key, c] == "") return "n/a"
		m = med(key, c)
		M[c] = m
		if (N > 1 && MIN != MAX)
			return fmt(m) " (" fmt(MIN) "–" fmt(MAX) ")" \
				(fails[key, c] ? " +fail" : "")
		return fmt(m) (fails[key, c] ? " +fail" : "")
	}
	function rfmt(v) {
		return sprintf(v >= 0.095 ? "%.2fx" : "%.2gx", v)
	}
	function ratio(dir, e, p) {
		if (e == "" || p == "") return "n/a"
		if (dir == "hi") return (p + 0 == 0) ? "n/a" : rfmt(e / p)
		if (e + 0 == 0) return (p + 0 == 0) ? "1.00x" : "inf"
		return rfmt(p / e)
	}
	FNR == NR {
		split($0, f, "|")
		nrow++; rkey[nrow] = f[1]; rlabel[nrow] = f[2]; rdir[nrow] = f[3]
		next
	}
	{
		if ($3 == "fail") fails[$1, $2] = 1
		else vals[$1, $2] = vals[$1, $2] " " $3
	}
	END {
		print "| workload | etagfs | s3fs | rclone | raw | etagfs/raw | etagfs/s3fs | etagfs/rclone |"
		print "|---|---|---|---|---|---|---|---|"
		split(clients, cl, " ")
		for (r = 1; r <= nrow; r++) {
			k = rkey[r]
			# A section heading waits for its first measured
			# row; rows of workloads not run (--only) are left out.
			if (substr(k, 1, 1) == "#") {
				head = rlabel[r]
				continue
			}
			measured = 0
			for (i = 1; i <= 4; i++)
				if (vals[k, cl[i]] != "" || fails[k, cl[i]])
					measured = 1
			if (!measured)
				continue
			if (head != "") {
				printf "| **%s** | | | | | | | |\n", head
				head = ""
			}
			delete M
			line = "| " rlabel[r]
			for (i = 1; i <= 4; i++) line = line " | " cell(k, cl[i])
			line = line " | " ratio(rdir[r], M["etagfs"], M["raw"])
			line = line " | " ratio(rdir[r], M["etagfs"], M["s3fs"])
			line = line " | " ratio(rdir[r], M["etagfs"], M["rclone"])
			print line " |"
		}
	}' "$1" "$2"
}
