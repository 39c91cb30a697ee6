#!/usr/bin/env bash
# A throw-away single-node SLURM cluster for tests, as plain processes (no systemd):
#
#   tests/cluster/slurm.sh up   [DIR]   # munged, MariaDB, slurmdbd, slurmctld, slurmd
#   tests/cluster/slurm.sh down [DIR]   # cancels every job, stops the daemons, deletes DIR
#
# DIR (default $LOGREG_SLURM_DIR or /tmp/logreg-slurm) holds everything: a fresh munge key,
# slurm.conf, slurmdbd.conf, the accounting database, state, spool, logs, pid files and
# sockets. Nothing under /etc is touched, so it can run beside a real installation. Every
# daemon listens on loopback only, on free ports. Job accounting is on (slurmdbd on a private
# MariaDB): submitit reads job states from sacct; the Snakemake profile uses squeue, which
# also works on clusters without accounting. Needs Debian's slurm-wlm, slurmdbd, munge and
# mariadb-server (.ci/run installs them) and root (slurmd starts jobs as their submitting
# user). `up` prints the line that points the SLURM commands (and the jobs they start) at the
# cluster; in about 10 s:
#   eval "$(tests/cluster/slurm.sh up)"     # export SLURM_CONF=DIR/slurm.conf PATH=DIR/bin:$PATH
set -euo pipefail

action=${1:-}
dir=${2:-${LOGREG_SLURM_DIR:-/tmp/logreg-slurm}}
node=$(hostname)

die() { echo "slurm.sh: $*" >&2; exit 1; }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

stop_pidfile() {
    local file=$1 pid
    [ -f "$file" ] || return 0
    pid=$(cat "$file")
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
}

down() {
    [ -d "$dir" ] || return 0
    if [ -f "$dir/slurm.conf" ] && [ -f "$dir/slurmctld.pid" ]; then
        SLURM_CONF=$dir/slurm.conf timeout 10 scancel --full --quiet --user "$(id -un)" \
            2>/dev/null || true
    fi
    # slurmd first: it ends the jobs it still runs; munged last, the others need it to stop.
    stop_pidfile "$dir/slurmd.pid"
    stop_pidfile "$dir/slurmctld.pid"
    stop_pidfile "$dir/slurmdbd.pid"
    stop_pidfile "$dir/mariadb.pid"
    stop_pidfile "$dir/munged.pid"
    rm -rf "$dir"
}

up() {
    for tool in munged mungekey slurmctld slurmd slurmdbd mariadbd mariadb-install-db sinfo sbatch squeue; do
        command -v "$tool" >/dev/null || die "$tool not found: install Debian's slurm-wlm, slurmdbd, munge, mariadb-server"
    done
    [ "$(id -u)" -eq 0 ] || die "needs root (slurmd runs jobs as their submitting user)"
    [ ! -e "$dir/slurmctld.pid" ] || die "$dir holds a running cluster; run 'down' first"
    rm -rf "$dir"
    mkdir -p "$dir"/{munge,state,spool,log,mysql}
    chmod 700 "$dir" "$dir/munge"

    mungekey --create --keyfile "$dir/munge/munge.key" >/dev/null
    chmod 400 "$dir/munge/munge.key"
    munged --force --socket "$dir/munge/munge.socket" --key-file "$dir/munge/munge.key" \
        --pid-file "$dir/munged.pid" --log-file "$dir/log/munged.log" \
        --seed-file "$dir/munge/munged.seed"

    # Job accounting (sacct, which submitit reads job states from): slurmdbd on a private
    # MariaDB, both on loopback ports, the database password generated here.
    local db_port dbd_port db_password
    db_port=$(free_port)
    dbd_port=$(free_port)
    db_password=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
    mariadb-install-db --no-defaults --user=root --datadir="$dir/mysql" \
        --auth-root-authentication-method=socket --skip-test-db >"$dir/log/mariadb-install.log" 2>&1
    mariadbd --no-defaults --user=root --datadir="$dir/mysql" --socket="$dir/mysql.sock" \
        --port="$db_port" --bind-address=127.0.0.1 --pid-file="$dir/mariadb.pid" \
        --log-error="$dir/log/mariadb.log" --innodb-buffer-pool-size=64M </dev/null >/dev/null 2>&1 &
    for _ in $(seq 150); do
        mariadb --no-defaults --socket="$dir/mysql.sock" -u root -e 'select 1' >/dev/null 2>&1 && break
        sleep 0.2
    done
    mariadb --no-defaults --socket="$dir/mysql.sock" -u root -e "
        CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$db_password';
        GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
    cat >"$dir/slurmdbd.conf" <<EOF
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$dbd_port
SlurmUser=root
PidFile=$dir/slurmdbd.pid
LogFile=$dir/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$db_port
StorageUser=slurm
StoragePass=$db_password
StorageLoc=slurm_acct_db
EOF
    chmod 600 "$dir/slurmdbd.conf"
    SLURM_CONF=$dir/slurm.conf slurmdbd  # reads slurmdbd.conf beside SLURM_CONF
    for _ in $(seq 100); do
        (echo >"/dev/tcp/127.0.0.1/$dbd_port") 2>/dev/null && break
        sleep 0.2
    done

    local cpus mem_mb
    cpus=$(nproc)
    # Half the machine's memory: jobs asking for more than their mem_mb are refused, not run.
    mem_mb=$(awk '/^MemTotal/ {print int($2 / 1024 / 2)}' /proc/meminfo)
    cat >"$dir/slurm.conf" <<EOF
ClusterName=logreg-test
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
PlugStackConfig=$dir/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$dbd_port
AccountingStoragePass=$dir/munge/munge.socket
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
ReturnToService=2
MpiDefault=none
MailProg=/bin/true
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=300
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
    : >"$dir/plugstack.conf"
    # Client commands pinned to this cluster: SLURM_CONF alone is not enough, since
    # snakemake-executor-plugin-slurm-jobstep drops every SLURM_* variable before its srun.
    mkdir -p "$dir/bin"
    for tool in sbatch srun squeue scancel sinfo scontrol sacct; do
        printf '#!/bin/sh\nSLURM_CONF=%s exec %s "$@"\n' "$dir/slurm.conf" "$(command -v "$tool")" \
            >"$dir/bin/$tool"
        chmod 755 "$dir/bin/$tool"
    done
    export SLURM_CONF=$dir/slurm.conf
    slurmctld -i
    slurmd -N "$node"

    for _ in $(seq 100); do
        if [ "$(sinfo --noheader --node "$node" --format %t 2>/dev/null)" = idle ]; then
            echo "export SLURM_CONF=$dir/slurm.conf PATH=$dir/bin:\$PATH"
            return 0
        fi
        sleep 0.2
    done
    echo "slurm.sh: node $node not idle after 20 s; logs follow" >&2
    tail -n 20 "$dir"/log/*.log >&2 || true
    down
    exit 1
}

case $action in
    up)
        # A failed start stops whatever it had started (pid files) and deletes DIR.
        set -E
        trap 'echo "slurm.sh: up failed; stopping what had started" >&2; down' ERR
        up ;;
    down) down ;;
    *) die "usage: $0 up|down [DIR]" ;;
esac
