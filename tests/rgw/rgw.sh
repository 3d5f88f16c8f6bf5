#!/bin/bash
# rgw.sh - run a throwaway single-node Ceph RGW on 127.0.0.1 for tests.
#
# Usage: rgw.sh COMMAND STATE_DIR
#
#   start   make a new cluster in STATE_DIR (one ceph-mon, one OSD: memstore,
#           or bluestore with ETAGFS_RGW_STORE, one radosgw with the beast
#           frontend), create an S3 user and wait until RGW answers a signed
#           S3 request. Writes STATE_DIR/env.
#   stop    kill the daemons by their pid files, wait for them to exit and
#           remove STATE_DIR (the logs are kept in STATE_DIR/log when
#           ETAGFS_RGW_KEEP_LOGS=1). Idempotent.
#   env     print the shell exports of a running instance:
#           ETAGFS_TEST_ENDPOINT, ETAGFS_TEST_ACCESS_KEY,
#           ETAGFS_TEST_SECRET_KEY, ETAGFS_TEST_REGION.
#   status  exit 0 if all three daemons are alive and RGW answers S3.
#
# Server faults, for tests of a server that dies and comes back (each
# prints how long it took):
#   rgw-kill       kill -9 radosgw only, wait until it is gone, and drop
#                  its watches (see drop_watchers).
#   rgw-start      start radosgw again on the same port; wait until it
#                  answers S3.
#   cluster-kill   kill -9 radosgw, the OSD and the mon.
#   cluster-start  start the mon, the OSD and radosgw again (same ports,
#                  same data); wait until RGW answers S3. Refused for a
#                  memstore OSD, whose data died with it.
#
# Everything lives in STATE_DIR: ceph.conf, keyring, mon/osd data, pid files
# (run/), logs (log/). No systemd, no /etc/ceph, no fixed ports: ports are
# picked free at start, so several instances can run side by side.
# Daemons run as the invoking user (root in CI).
#
# Environment knobs:
#   ETAGFS_RGW_STORE        the OSD's object store, read by start:
#                           memstore (default: fast, RAM only, lost when
#                           the OSD dies) or bluestore (a sparse file
#                           STATE_DIR/osd.0.block that survives restarts)
#   ETAGFS_RGW_BLUESTORE_GB size of that file in GiB (4)
#   ETAGFS_RGW_TIMEOUT      seconds start may take before it fails (60)
#   ETAGFS_RGW_MEMSTORE_MB  capacity of the in-memory OSD (6144; RAM is
#                           used only for what is stored)
#   ETAGFS_RGW_KEEP_LOGS    1: stop keeps STATE_DIR/log
#   ETAGFS_RGW_DEBUG        1: verbose daemon logs (debug rgw = 20)

set -u

# The fixed user: tests need no secret from here, and a fixed key makes a
# failed run easy to reproduce by hand with curl.
RGW_ACCESS_KEY=${ETAGFS_RGW_ACCESS_KEY:-ETAGFSTESTACCESSKEY0}
RGW_SECRET_KEY=${ETAGFS_RGW_SECRET_KEY:-etagfsTestSecretKey0000000000000000000000}
# RGW verifies SigV4 against whatever region the client signs with; the
# default zonegroup accepts "us-east-1" (what most clients default to).
RGW_REGION=us-east-1

die() {
	echo "rgw.sh: $*" >&2
	exit 1
}

usage() {
	echo "usage: $0 start|stop|env|status STATE_DIR" >&2
	echo "       $0 rgw-kill|rgw-start|cluster-kill|cluster-start" \
		"STATE_DIR" >&2
	exit 2
}

now_ms() {
	local s ns
	read -r s ns < <(date '+%s %N')
	echo $((s * 1000 + 10#$ns / 1000000))
}

# port_free PORT: no socket of any state uses 127.0.0.1:PORT.
port_free() {
	if command -v ss >/dev/null 2>&1; then
		[ -z "$(ss -Hatn "sport = :$1" 2>/dev/null)" ]
		return
	fi
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Ports handed out to running instances, one file per STATE_DIR, so that
# concurrent starts never pick the same port even before the daemons bind.
PORT_DIR=${TMPDIR:-/tmp}/etagfs-rgw-ports

port_reserved() {
	grep -qsx "$1" "$PORT_DIR"/* 2>/dev/null
}

# pick_port: a free, unreserved TCP port below the kernel's ephemeral
# range (outgoing connections take ports from that range at any moment,
# and one that took ours between the pick and the daemon's bind made
# radosgw fail with "Address already in use"); the caller holds the port
# lock and records it in its reservation file.
pick_port() {
	local p lo=32768 span
	read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null ||
		lo=32768
	[ "$lo" -gt 12000 ] || lo=32768
	span=$((lo - 10000))
	for _ in $(seq 1 200); do
		p=$((10000 + (RANDOM * 32768 + RANDOM) % span))
		port_reserved "$p" && continue
		if port_free "$p"; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

reservation_file() {
	echo "$PORT_DIR/$(echo "$STATE" | tr '/' '_')"
}

ceph_cmd() {
	timeout 30 ceph -c "$CONF" --connect-timeout 20 "$@"
}

pid_alive() {
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null
}

pid_of() {
	local f="$STATE/run/$1.pid"
	[ -s "$f" ] && cat "$f"
}

# log_tail [FILE...]: the end of the given logs (under STATE/log), or of
# every daemon's when none are given.
log_tail() {
	local f files="$*"
	[ -n "$files" ] ||
		files="mon.a.out osd.0.out rgw.out mon.a.log osd.0.log client.rgw.log"
	for f in $files; do
		f=$STATE/log/$f
		[ -s "$f" ] || continue
		echo "---- tail $f" >&2
		tail -n 15 "$f" | cut -c1-300 >&2
	done
}

# fail_start MESSAGE [LOG...]: report, show the relevant logs, kill what we
# started and exit non-zero; the state stays for a post mortem.
fail_start() {
	local msg=$1
	shift
	echo "rgw.sh: start FAILED: $msg" >&2
	log_tail "$@"
	echo "rgw.sh: state kept in $STATE for inspection;" \
		"'$0 stop $STATE' removes it" >&2
	do_kill
	exit 1
}

# spawn NAME CMD...: run a daemon in the foreground mode (-f) detached from
# us (setsid, stdio to a file), its pid file written by us so stop works
# even when the daemon dies before writing its own.
spawn() {
	local name=$1
	shift
	setsid "$@" -f </dev/null >"$STATE/log/$name.out" 2>&1 &
	echo $! >"$STATE/run/$name.pid"
}

# s3_probe: HTTP status of a signed ListBuckets (000 if no answer).
s3_probe() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
		--aws-sigv4 "aws:amz:$RGW_REGION:s3" \
		--user "$RGW_ACCESS_KEY:$RGW_SECRET_KEY" \
		-H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
		"http://127.0.0.1:$1/" 2>/dev/null
}

# osd_store_conf: the [osd] lines of the object store $STORE.
osd_store_conf() {
	case "$STORE" in
	memstore)
		cat <<EOF
osd objectstore = memstore
memstore device bytes = $((${ETAGFS_RGW_MEMSTORE_MB:-6144} * 1024 * 1024))
EOF
		;;
	bluestore)
		# A sparse file in the state dir, so the data survives a
		# kill -9 of the OSD. Small caches: this is one test cluster
		# among several on the machine, not a production OSD.
		cat <<EOF
osd objectstore = bluestore
bluestore block path = $STATE/osd.\$id.block
bluestore block create = true
bluestore block size = $((${ETAGFS_RGW_BLUESTORE_GB:-4} * 1024 * 1024 * 1024))
bluestore block db create = false
bluestore block wal create = false
bluestore fsck on mount = false
osd memory target = 1073741824
bluestore cache autotune = false
bluestore cache size = 268435456
EOF
		;;
	esac
}

write_conf() {
	local debug_rgw=1 debug_ms=0
	if [ "${ETAGFS_RGW_DEBUG:-0}" = 1 ]; then
		debug_rgw=20
		debug_ms=1
	fi
	cat >"$CONF" <<EOF
# Generated by tests/rgw/rgw.sh; throwaway single-node cluster.
[global]
fsid = $FSID
mon host = [v2:127.0.0.1:$MON_PORT]
mon initial members = a
public addr = 127.0.0.1
ms bind msgr1 = false
ms bind msgr2 = true
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = $STATE/keyring
run dir = $STATE/run
admin socket = $STATE/run/\$name.asok
pid file = $STATE/run/\$name.ceph.pid
log file = $STATE/log/\$name.log
log to stderr = false
err to stderr = true
log to file = true
crash dir = $STATE/crash
exec dir = $STATE/run
lockdep = false
debug ms = $debug_ms
# One OSD, no replication, and no health warnings about it.
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim allowed = false
mon max pg per osd = 1000
auth allow insecure global id reclaim = false
# RGW creates ~7 pools at first start, each an osdmap commit: the default
# 1 s Paxos batching alone would add seconds to every start.
paxos propose interval = 0.05
paxos min wait = 0.01

[mon]
mon data = $STATE/mon.\$id
mon data avail crit = 1
mon data avail warn = 2

[osd]
osd data = $STATE/osd.\$id
$(osd_store_conf)
osd max object size = 1073741824
osd op num shards = 2
osd op num threads per shard = 1
osd check max object name len on startup = false

[client.rgw]
rgw data = $STATE/rgw
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT tcp_nodelay=1
rgw thread pool size = 64
rgw enable usage log = false
rgw enable ops log = false
rgw dns name = localhost
# Overwritten and deleted objects hold memstore RAM until garbage
# collection; the default keeps them for 2 hours.
rgw gc obj min wait = 5
rgw gc processor period = 10
# The lifecycle thread sleeps 5 s at a time and delays shutdown by as much.
rgw enable lc threads = false
debug rgw = $debug_rgw
EOF
}

do_start() {
	local t0 t1 deadline code osd_uuid osd_id
	t0=$(now_ms)
	STORE=${ETAGFS_RGW_STORE:-memstore}
	case "$STORE" in
	memstore | bluestore) ;;
	*) die "ETAGFS_RGW_STORE=$STORE: must be memstore or bluestore" ;;
	esac
	[ "$(id -u)" = 0 ] || echo "rgw.sh: warning: not root;" \
		"ceph daemons may lack permissions" >&2
	for c in ceph ceph-mon ceph-osd ceph-authtool monmaptool radosgw \
		radosgw-admin curl; do
		command -v "$c" >/dev/null 2>&1 ||
			die "$c not found: run scripts/install-deps" \
				"(apt-get install radosgw ceph-mon ceph-osd ceph-common curl)"
	done
	[ ! -e "$STATE" ] || ours ||
		die "$STATE exists and is not an rgw.sh state directory"
	if [ -e "$STATE/run/mon.a.pid" ]; then
		do_status >/dev/null 2>&1 &&
			die "already running in $STATE (stop it first)"
		# A previous run died half way: clear it away.
		do_stop_quiet
	fi
	rm -rf "$STATE"
	mkdir -p "$STATE/run" "$STATE/log" "$STATE/crash" "$STATE/rgw" \
		"$STATE/osd.0" || die "cannot create $STATE"
	CONF=$STATE/ceph.conf
	FSID=$(cat /proc/sys/kernel/random/uuid)
	deadline=$((t0 + ${ETAGFS_RGW_TIMEOUT:-60} * 1000))

	# Serialise port picking between concurrent starts; the reservation
	# file keeps the ports ours until stop.
	mkdir -p "$PORT_DIR" || die "cannot create $PORT_DIR"
	exec 9>"$PORT_DIR/.lock"
	flock -w 60 9 || die "cannot lock port allocation"
	MON_PORT=$(pick_port) || die "no free port for ceph-mon"
	echo "$MON_PORT" >"$(reservation_file)"
	RGW_PORT=$(pick_port) || die "no free port for radosgw"
	echo "$RGW_PORT" >>"$(reservation_file)"
	flock -u 9
	exec 9>&-
	write_conf

	ceph-authtool --create-keyring "$STATE/keyring" -n mon. --gen-key \
		--cap mon 'allow *' >/dev/null &&
	ceph-authtool "$STATE/keyring" -n client.admin --gen-key \
		--cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' \
		--cap mds 'allow *' >/dev/null &&
	ceph-authtool "$STATE/keyring" -n osd.0 --gen-key \
		--cap mon 'allow profile osd' --cap osd 'allow *' \
		--cap mgr 'allow profile osd' >/dev/null &&
	ceph-authtool "$STATE/keyring" -n client.rgw --gen-key \
		--cap mon 'allow rw' --cap osd 'allow rwx' \
		--cap mgr 'allow rw' >/dev/null ||
		fail_start "ceph-authtool failed"
	chmod 600 "$STATE/keyring"

	monmaptool --create --clobber --fsid "$FSID" \
		--addv a "[v2:127.0.0.1:$MON_PORT]" "$STATE/monmap" \
		>"$STATE/log/monmaptool.out" 2>&1 ||
		fail_start "monmaptool failed" monmaptool.out
	# --mkfs imports every key of the keyring, caps included, into the
	# mon's auth database: no 'ceph auth add' round trips later.
	ceph-mon -c "$CONF" --mkfs -i a --monmap "$STATE/monmap" \
		--keyring "$STATE/keyring" >"$STATE/log/mon-mkfs.out" 2>&1 ||
		fail_start "ceph-mon --mkfs failed" mon-mkfs.out
	spawn mon.a ceph-mon -c "$CONF" -i a

	osd_uuid=$(cat /proc/sys/kernel/random/uuid)
	osd_id=$(ceph_cmd osd new "$osd_uuid" 2>"$STATE/log/osd-new.out") ||
		fail_start "ceph-mon does not answer ('ceph osd new' failed)" \
			osd-new.out mon.a.out mon.a.log
	[ "$osd_id" = 0 ] || fail_start "unexpected osd id '$osd_id'"
	ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$osd_uuid" \
		>"$STATE/log/osd-mkfs.out" 2>&1 ||
		fail_start "ceph-osd --mkfs failed" osd-mkfs.out
	spawn osd.0 ceph-osd -c "$CONF" -i 0

	# The user goes straight into RADOS; it needs the OSD up, not RGW.
	# Made before radosgw starts: with an RGW already watching, the
	# metadata cache notify of 'user create' can stall for 5 s.
	for _ in $(seq 1 60); do
		radosgw-admin -c "$CONF" -n client.admin user create \
			--uid=etagfs-test --display-name="etagfs tests" \
			--access-key="$RGW_ACCESS_KEY" \
			--secret-key="$RGW_SECRET_KEY" \
			>"$STATE/log/user-create.out" 2>&1 && break
		[ "$(now_ms)" -lt "$deadline" ] ||
			fail_start "radosgw-admin user create failed" \
				user-create.out osd.0.out osd.0.log
		sleep 0.5
	done
	spawn rgw radosgw -c "$CONF" -n client.rgw

	while :; do
		for d in mon.a osd.0 rgw; do
			pid_alive "$(pid_of $d)" ||
				fail_start "$d exited" "$d.out" \
				"$([ $d = rgw ] && echo client.rgw || echo $d).log"
		done
		code=$(s3_probe "$RGW_PORT")
		[ "$code" = 200 ] && break
		[ "$(now_ms)" -lt "$deadline" ] ||
			fail_start "RGW on 127.0.0.1:$RGW_PORT did not answer" \
				"S3 within ${ETAGFS_RGW_TIMEOUT:-60} s" \
				"(last HTTP status $code)"
		sleep 0.2
	done

	{
		echo "ETAGFS_TEST_ENDPOINT=http://127.0.0.1:$RGW_PORT"
		echo "ETAGFS_TEST_ACCESS_KEY=$RGW_ACCESS_KEY"
		echo "ETAGFS_TEST_SECRET_KEY=$RGW_SECRET_KEY"
		echo "ETAGFS_TEST_REGION=$RGW_REGION"
	} >"$STATE/env.tmp" && chmod 600 "$STATE/env.tmp" &&
		mv "$STATE/env.tmp" "$STATE/env" || fail_start "cannot write env"
	t1=$(now_ms)
	printf 'rgw.sh: RGW up at http://127.0.0.1:%s (mon %s, %s) in %d.%03d s\n' \
		"$RGW_PORT" "$MON_PORT" "$STORE" $(((t1 - t0) / 1000)) \
		$(((t1 - t0) % 1000))
}

# ours: STATE is empty or was made by this script, so rm -rf is safe.
ours() {
	[ -z "$(ls -A "$STATE" 2>/dev/null)" ] ||
		grep -qs '^# Generated by tests/rgw/rgw.sh' "$STATE/ceph.conf" ||
		{ [ -d "$STATE/log" ] && [ -d "$STATE/run" ]; }
}

# stop_daemons NAME...: TERM those daemons that are still the ones we
# started, wait up to 5 s for them all, then KILL what is left (the state is
# thrown away anyway; the grace only lets the logs flush).
stop_daemons() {
	local d pid pids="" alive
	for d in "$@"; do
		pid=$(pid_of "$d") || continue
		pid_alive "$pid" || continue
		case "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" in
		*"$STATE/ceph.conf"*) ;;
		*) continue ;;
		esac
		kill -TERM "$pid" 2>/dev/null
		pids="$pids $pid"
	done
	for _ in $(seq 1 50); do
		alive=""
		for pid in $pids; do
			pid_alive "$pid" && alive="$alive $pid"
		done
		pids=$alive
		[ -z "$pids" ] && return 0
		sleep 0.1
	done
	for pid in $pids; do
		kill -KILL "$pid" 2>/dev/null
	done
	sleep 0.2
	return 0
}

# do_kill: the mon last: an OSD told to stop reports to the mon and waits
# up to 5 s for an answer when the mon is already gone.
do_kill() {
	stop_daemons rgw osd.0
	stop_daemons mon.a
}

do_stop_quiet() {
	do_kill
	rm -f "$(reservation_file)"
	if [ "${ETAGFS_RGW_KEEP_LOGS:-0}" = 1 ]; then
		find "$STATE" -mindepth 1 -maxdepth 1 ! -name log ! -name ceph.conf \
			-exec rm -rf {} + 2>/dev/null
	else
		rm -rf "$STATE"
	fi
}

do_stop() {
	if [ ! -d "$STATE" ]; then
		echo "rgw.sh: nothing running in $STATE"
		return 0
	fi
	ours || die "$STATE is not an rgw.sh state directory; not touching it"
	do_stop_quiet
	echo "rgw.sh: stopped $STATE"
}

# ------------------------------------------------------ server faults

# rgw_port: the port of the instance in STATE (from STATE/env).
rgw_port() {
	sed -n 's|^ETAGFS_TEST_ENDPOINT=http://127.0.0.1:||p' "$STATE/env" \
		2>/dev/null
}

# store_of: the object store STATE's OSD was made with.
store_of() {
	sed -n 's/^osd objectstore = //p' "$CONF" 2>/dev/null
}

# proc_gone PID: the process does not run (any more): no such process, or
# a zombie not reaped yet (it holds no socket and no lock).
proc_gone() {
	local st
	[ -n "$1" ] || return 0
	st=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' \
		"/proc/$1/status" 2>/dev/null)
	[ -z "$st" ] || [ "$st" = Z ] || [ "$st" = X ]
}

# kill9 NAME...: SIGKILL those daemons that are still the ones we started,
# then wait (10 s at most) until they are gone.
kill9() {
	local d pid pids="" alive
	for d in "$@"; do
		pid=$(pid_of "$d") || continue
		proc_gone "$pid" && continue
		case "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" in
		*"$STATE/ceph.conf"*) ;;
		*) continue ;;
		esac
		kill -KILL "$pid" 2>/dev/null
		pids="$pids $pid"
	done
	for _ in $(seq 1 200); do
		alive=""
		for pid in $pids; do
			proc_gone "$pid" || alive="$alive $pid"
		done
		[ -z "$alive" ] && return 0
		sleep 0.05
	done
	die "still running 10 s after SIGKILL:$alive"
}

# wait_s3 T0 WHAT: wait until RGW answers S3 (ETAGFS_RGW_TIMEOUT seconds
# at most), failing early if a daemon died; print how long WHAT took.
wait_s3() {
	local t0=$1 what=$2 deadline code d t1 port
	port=$(rgw_port)
	deadline=$((t0 + ${ETAGFS_RGW_TIMEOUT:-60} * 1000))
	while :; do
		for d in mon.a osd.0 rgw; do
			proc_gone "$(pid_of $d)" || continue
			echo "rgw.sh: $what FAILED: $d exited" >&2
			log_tail "$d.out" \
				"$([ $d = rgw ] && echo client.rgw || echo $d).log"
			exit 1
		done
		code=$(s3_probe "$port")
		[ "$code" = 200 ] && break
		if [ "$(now_ms)" -ge "$deadline" ]; then
			echo "rgw.sh: $what FAILED: RGW on 127.0.0.1:$port" \
				"did not answer S3 within" \
				"${ETAGFS_RGW_TIMEOUT:-60} s (last HTTP" \
				"status $code)" >&2
			log_tail rgw.out client.rgw.log osd.0.log
			exit 1
		fi
		sleep 0.1
	done
	t1=$(now_ms)
	printf 'rgw.sh: %s: RGW answers at http://127.0.0.1:%s after %d.%03d s\n' \
		"$what" "$port" $(((t1 - t0) / 1000)) $(((t1 - t0) % 1000))
}

# wait_osd_up T0: wait until the restarted OSD has booted (its admin
# socket says "active"; the mon's map is no help: it still shows the killed
# OSD up), within ETAGFS_RGW_TIMEOUT seconds from T0.
wait_osd_up() {
	local deadline=$(($1 + ${ETAGFS_RGW_TIMEOUT:-60} * 1000))
	until timeout 5 ceph --admin-daemon "$STATE/run/osd.0.asok" status \
		2>/dev/null | grep -q '"state": "active"'; do
		if proc_gone "$(pid_of osd.0)" ||
			[ "$(now_ms)" -ge "$deadline" ]; then
			echo "rgw.sh: cluster-start FAILED: the OSD did not" \
				"come up" >&2
			log_tail osd.0.out osd.0.log mon.a.log
			exit 1
		fi
		sleep 0.1
	done
}

# rgw_watchers: the client addresses that watch RGW's control objects
# (each radosgw watches notify.0..7 to keep its metadata cache in sync).
rgw_watchers() {
	local i
	for i in 0 1 2 3 4 5 6 7; do
		timeout 20 rados -c "$CONF" -p default.rgw.control \
			listwatchers "notify.$i" 2>/dev/null
	done | sed -n 's/^watcher=\([^ ]*\) .*/\1/p' | sort -u
}

# drop_watchers ADDR...: blocklist the clients of a killed radosgw. The OSD
# keeps a dead client's watches for osd_client_watch_timeout (30 s, and
# again after an OSD restart); until then every notify RGW sends (a bucket
# creation, a user change) waits for the dead watcher: ~25 s per request.
drop_watchers() {
	local a
	for a in "$@"; do
		ceph_cmd osd blocklist add "$a" 3600 >/dev/null 2>&1 ||
			echo "rgw.sh: warning: cannot blocklist $a" >&2
	done
}

need_instance() {
	[ -s "$STATE/env" ] && [ -s "$CONF" ] ||
		die "no RGW state in $STATE (not started?)"
}

do_rgw_kill() {
	local t0 t1
	need_instance
	t0=$(now_ms)
	kill9 rgw
	t1=$(now_ms)
	# Only radosgw watches: every watcher left is a dead one.
	# shellcheck disable=SC2046 # one address per word
	drop_watchers $(rgw_watchers)
	echo "rgw.sh: radosgw killed in $((t1 - t0)) ms" \
		"(its watches dropped after $(($(now_ms) - t0)) ms)"
}

do_rgw_start() {
	local t0
	need_instance
	t0=$(now_ms)
	proc_gone "$(pid_of rgw)" || die "radosgw is still running"
	# The same ceph.conf, so the same port: clients find it where it was.
	# The reservation file keeps other rgw.sh instances off that port.
	spawn rgw radosgw -c "$CONF" -n client.rgw
	wait_s3 "$t0" rgw-start
}

do_cluster_kill() {
	local t0
	need_instance
	t0=$(now_ms)
	kill9 rgw osd.0 mon.a
	echo "rgw.sh: radosgw, ceph-osd and ceph-mon killed in" \
		"$(($(now_ms) - t0)) ms"
}

do_cluster_start() {
	local t0 d
	need_instance
	t0=$(now_ms)
	[ "$(store_of)" = bluestore ] ||
		die "cluster-start needs a bluestore OSD" \
			"(ETAGFS_RGW_STORE=bluestore at start): a memstore" \
			"OSD lost its data when it died"
	for d in mon.a osd.0 rgw; do
		proc_gone "$(pid_of $d)" || die "$d is still running"
	done
	spawn mon.a ceph-mon -c "$CONF" -i a
	spawn osd.0 ceph-osd -c "$CONF" -i 0
	# A radosgw started before the OSD has booted stalls 10-15 s in its
	# first RADOS requests; waiting for the OSD is faster.
	wait_osd_up "$t0"
	# The OSD restored the killed radosgw's watches with the objects.
	# shellcheck disable=SC2046 # one address per word
	drop_watchers $(rgw_watchers)
	spawn rgw radosgw -c "$CONF" -n client.rgw
	wait_s3 "$t0" cluster-start
}

do_env() {
	[ -s "$STATE/env" ] || die "no RGW state in $STATE (not started?)"
	sed 's/^/export /' "$STATE/env"
}

do_status() {
	local d port
	[ -s "$STATE/env" ] || {
		echo "not running (no $STATE/env)"
		return 1
	}
	for d in mon.a osd.0 rgw; do
		pid_alive "$(pid_of $d)" || {
			echo "$d not running"
			return 1
		}
	done
	port=$(sed -n 's|^ETAGFS_TEST_ENDPOINT=http://127.0.0.1:||p' \
		"$STATE/env")
	[ "$(s3_probe "$port")" = 200 ] || {
		echo "RGW on port $port does not answer S3"
		return 1
	}
	echo "running: http://127.0.0.1:$port"
}

[ $# -eq 2 ] || usage
[ -n "$2" ] || usage
case "$2" in
/*) STATE=$2 ;;
*) STATE=$PWD/$2 ;;
esac
STATE=${STATE%/}
CONF=$STATE/ceph.conf

case "$1" in
start) do_start ;;
stop) do_stop ;;
env) do_env ;;
status) do_status ;;
rgw-kill) do_rgw_kill ;;
rgw-start) do_rgw_start ;;
cluster-kill) do_cluster_kill ;;
cluster-start) do_cluster_start ;;
*) usage ;;
esac
