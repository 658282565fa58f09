#!/usr/bin/env python3
"""Resident memory per cached name: tern and Unbound, the same names.

One NSD serves `mem.example.` with a wildcard `*.w.mem.example. A`; tern and
Unbound each get it as a stub zone, start with caches large enough that
nothing is evicted, and are sent the same N unique names (dnsperf, each name
once). The script reads each resolver's resident memory (VmRSS) after start
and after the load and prints bytes per cached name.

    python3 benches/memory.py [--names 1000000] [--tern target/release/tern]

Needs root (port 53 on 127.210.0.1-3), nsd, unbound and dnsperf (Debian
packages; ../shared/bench/setup installs them). Bounded: dnsperf runs at
most --limit seconds, every process is stopped at the end.
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

NSD_ADDR = "127.210.0.1"
TERN_ADDR = "127.210.0.2"
UNBOUND_ADDR = "127.210.0.3"

ZONE = """$ORIGIN mem.example.
$TTL 86400
@   IN SOA ns hostmaster 1 3600 600 86400 3600
@   IN NS  ns
ns  IN A   {nsd}
*.w IN A   192.0.2.1
"""

NSD_CONF = """server:
    ip-address: {nsd}
    port: 53
    server-count: 1
    zonesdir: "{dir}"
    pidfile: "{dir}/nsd.pid"
    xfrdfile: "{dir}/xfrd.state"
    zonelistfile: "{dir}/zone.list"
    database: ""
    username: ""
    chroot: ""
    logfile: "{dir}/nsd.log"
    rrl-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: mem.example.
    zonefile: "{dir}/mem.example.zone"
"""

TERN_CONF = """[server]
listen = ["{tern}:53"]
udp_sockets = 0
max_concurrent_queries = 20000
access_control = [{{ net = "127.0.0.0/8", action = "allow" }}]

[resolver]
allow_loopback_upstream = true
[[resolver.stub_zone]]
name = "mem.example."
addrs = ["{nsd}"]

[cache]
max_bytes = 4294967296

[dnssec]
validate = false

[log]
level = "warn"
"""

UNBOUND_CONF = """server:
    interface: {unbound}
    port: 53
    do-ip6: no
    num-threads: 2
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: no
    module-config: "iterator"
    rrset-cache-size: 4g
    msg-cache-size: 4g
    username: ""
    chroot: ""
    directory: "{dir}"
    pidfile: "{dir}/unbound.pid"
    use-syslog: no
    logfile: "{dir}/unbound.log"
    verbosity: 0
stub-zone:
    name: "mem.example."
    stub-addr: {nsd}
remote-control:
    control-enable: no
"""


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait_answering(addr, seconds=10):
    """True once `addr` answers a query over UDP (dig, bounded)."""
    end = time.time() + seconds
    while time.time() < end:
        r = subprocess.run(
            ["dig", f"@{addr}", "+tries=1", "+time=1", "ready.w.mem.example", "A"],
            capture_output=True, text=True)
        if "status: NOERROR" in r.stdout:
            return True
        time.sleep(0.2)
    return False


def start(argv, log):
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def load(addr, queries, limit):
    r = subprocess.run(
        ["dnsperf", "-s", addr, "-d", queries, "-n", "1", "-c", "4", "-q", "200",
         "-t", "5", "-l", str(limit)],
        capture_output=True, text=True)
    completed = 0
    for line in r.stdout.splitlines():
        if "Queries completed:" in line:
            completed = int(line.split()[2])
    return completed


def measure(name, proc, addr, queries, names, limit):
    if not wait_answering(addr):
        sys.exit(f"{name} does not answer on {addr}:53")
    time.sleep(1)
    start_kib = rss_kib(proc.pid)
    t0 = time.time()
    answered = load(addr, queries, limit)
    secs = time.time() - t0
    time.sleep(1)
    end_kib = rss_kib(proc.pid)
    per_name = (end_kib - start_kib) * 1024 / max(answered, 1)
    return (name, answered, names, secs, start_kib, end_kib, per_name)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--names", type=int, default=1_000_000)
    ap.add_argument("--tern", default="target/release/tern")
    ap.add_argument("--limit", type=int, default=900, help="dnsperf -l per resolver")
    ap.add_argument("--only", default="tern,unbound")
    args = ap.parse_args()
    tern_bin = os.path.abspath(args.tern)
    work = tempfile.mkdtemp(prefix="tern-memory-")
    subs = dict(nsd=NSD_ADDR, tern=TERN_ADDR, unbound=UNBOUND_ADDR, dir=work)
    for file, text in [("mem.example.zone", ZONE), ("nsd.conf", NSD_CONF),
                       ("tern.toml", TERN_CONF), ("unbound.conf", UNBOUND_CONF)]:
        with open(os.path.join(work, file), "w") as f:
            f.write(text.format(**subs))
    queries = os.path.join(work, "queries.txt")
    with open(queries, "w") as f:
        for i in range(args.names):
            f.write(f"n{i:08d}.w.mem.example A\n")
    procs, rows = [], []
    try:
        log = open(os.path.join(work, "processes.log"), "w")
        nsd = start(["nsd", "-d", "-c", os.path.join(work, "nsd.conf")], log)
        procs.append(nsd)
        only = args.only.split(",")
        if "tern" in only:
            tern = start([tern_bin, "serve", "--config", os.path.join(work, "tern.toml")], log)
            procs.append(tern)
            rows.append(measure("tern", tern, TERN_ADDR, queries, args.names, args.limit))
            stop(tern)
        if "unbound" in only:
            unbound = start(["unbound", "-d", "-p", "-c",
                             os.path.join(work, "unbound.conf")], log)
            procs.append(unbound)
            rows.append(measure("unbound", unbound, UNBOUND_ADDR, queries, args.names,
                                args.limit))
            stop(unbound)
    finally:
        for p in procs:
            stop(p)
    print(f"{'resolver':<9} {'answered':>9} {'seconds':>8} {'RSS start MiB':>14} "
          f"{'RSS end MiB':>12} {'bytes/name':>11}")
    for name, answered, names, secs, s, e, per in rows:
        print(f"{name:<9} {answered:>9} {secs:>8.0f} {s / 1024:>14.1f} {e / 1024:>12.1f} "
              f"{per:>11.0f}")
    print(f"work directory: {work}")


if __name__ == "__main__":
    main()
