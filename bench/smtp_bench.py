#!/usr/bin/env python3
"""The built-in SMTP receiver's benchmark (issue #19): report mails per second over loopback.

    bench/smtp_bench.py BINARY [--mails N] [--connections C] [--idle K] [--via-postfix]

Starts `BINARY run` with an [smtp] table (SQLite store, offline enrichment, no dashboard) in a
scratch folder, then:
  1. sends N report mails (each a distinct aggregate report, gzipped, as Google sends them) over
     C connections at once with Python's smtplib; each mail waits for its 250, which the receiver
     gives only once the mail is durably in its spool;
  2. measures the mails/s until the last 250, and until the last report is committed in the store
     (polled in SQLite);
  3. opens K idle connections at once (EHLO, then nothing) and reports the process's resident
     memory before and with them.
Prints the numbers and a PASS/FAIL line per target (300 mails/s acknowledged and stored; RSS with
200 connections within 64 MB of the idle process). Not a timed test: run it on a quiet machine.

--via-postfix (as root, with Debian's postfix package): the mails go through a private Postfix
instance (its own configuration, queue and log in the scratch folder; the system's Postfix is not
used) that relays them to the receiver over STARTTLS, verifying the receiver's self-signed
certificate, as a site whose MX is Postfix would (README, "Behind Postfix instead"; the
configuration is the one tests/smtp_receiver_test.cc uses). "acknowledged" is then Postfix's 250
(queued by Postfix); "stored" still counts reports committed in the store, end to end. The script
also checks that Postfix logged status=sent for every mail and that its queue is empty.
"""
import argparse
import gzip
import io
import os
import pwd
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import smtplib
from email.message import EmailMessage

RECORD = """  <record>
    <row><source_ip>192.0.2.{ip}</source_ip><count>{count}</count>
      <policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated>
    </row>
    <identifiers><header_from>example.com</header_from></identifiers>
    <auth_results><dkim><domain>example.com</domain><result>pass</result></dkim>
      <spf><domain>example.com</domain><result>pass</result></spf></auth_results>
  </record>
"""


def report_mail(i):
    """A distinct aggregate report (report_id i, 20 records) in a mail, gzipped like Google's."""
    begin = 1_700_000_000 + 86400 * (i % 300)
    records = "".join(RECORD.format(ip=1 + r, count=1 + (i + r) % 7) for r in range(20))
    xml = f"""<?xml version="1.0" encoding="UTF-8" ?>
<feedback>
  <report_metadata><org_name>bench.example</org_name><email>noreply@bench.example</email>
    <report_id>bench-{i}</report_id><date_range><begin>{begin}</begin><end>{begin + 86399}</end></date_range>
  </report_metadata>
  <policy_published><domain>example.com</domain><adkim>r</adkim><aspf>r</aspf><p>none</p><sp>none</sp><pct>100</pct></policy_published>
{records}</feedback>
"""
    m = EmailMessage()
    m["From"] = "noreply-dmarc-support@bench.example"
    m["To"] = "dmarc@reports.example.com"
    m["Subject"] = f"Report domain: example.com Submitter: bench.example Report-ID: bench-{i}"
    m.set_content("DMARC aggregate report")
    m.add_attachment(gzip.compress(xml.encode()), maintype="application", subtype="gzip",
                     filename=f"bench.example!example.com!{begin}!{begin + 86399}.xml.gz")
    return m.as_bytes()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def stored(db):
    try:
        c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        n = c.execute("SELECT count(*) FROM aggregate_reports").fetchone()[0]
        c.close()
        return n
    except sqlite3.Error:
        return 0


MASTER_CF = """127.0.0.1:{port} inet n - n - - smtpd
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
tlsmgr unix - - n 1000? 1 tlsmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
smtp unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
tlsproxy unix - - n - 0 tlsproxy
"""


class Postfix:
    """A private Postfix instance in WORK/postfix relaying reports.example.com to the receiver's
    port over STARTTLS with its certificate verified (as testing/postfix.h sets one up)."""

    def __init__(self, work, relay_port, cert, tls):
        self.dir = os.path.join(work, "postfix")
        self.conf = os.path.join(self.dir, "conf")
        self.log = os.path.join(self.dir, "maillog")
        self.port = free_port()
        os.chmod(work, 0o755)  # mkdtemp's 0700 would keep Postfix's daemons (user postfix) out
        for sub in ("conf", "queue", "data"):
            os.makedirs(os.path.join(self.dir, sub))
        pw = pwd.getpwnam("postfix")
        os.chown(os.path.join(self.dir, "data"), pw.pw_uid, pw.pw_gid)
        nexthop = f"[127.0.0.1]:{relay_port}"
        d = self.dir
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(f"compatibility_level = 3.6\nqueue_directory = {d}/queue\n"
                    f"data_directory = {d}/data\nmaillog_file = {self.log}\n"
                    f"maillog_file_prefixes = {d}\nmyhostname = relay.test\nmydestination =\n"
                    f"local_recipient_maps =\nalias_maps =\nalias_database =\n"
                    f"inet_interfaces = 127.0.0.1\ninet_protocols = ipv4\n"
                    f"mynetworks = 127.0.0.0/8\nrelay_domains = reports.example.com\n"
                    f"transport_maps = inline:{{ reports.example.com=smtp:{nexthop} }}\n"
                    f"smtp_tls_security_level = encrypt\nsmtp_tls_CAfile = {cert}\n"
                    f"smtp_tls_policy_maps = "
                    f"inline:{{ {{ {nexthop} = secure match=bench.example }} }}\n"
                    f"smtp_tls_loglevel = 1\n"
                    f"smtp_tls_connection_reuse = {'yes' if tls == 'reuse' else 'no'}\n")
            if tls == "none":
                f.write("smtp_tls_security_level = none\nsmtp_tls_policy_maps =\n")
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(port=self.port))

    def command(self, *args):
        return subprocess.run([args[0], "-c", self.conf, *args[1:]], capture_output=True,
                              text=True, check=False)

    def start(self):
        if self.command("/usr/sbin/postfix", "start").returncode != 0:
            sys.exit("postfix did not start:\n" + self.maillog())
        wait_for_port(self.port)

    def stop(self):
        self.command("/usr/sbin/postfix", "stop")

    def maillog(self):
        try:
            with open(self.log) as f:
                return f.read()
        except OSError:
            return ""

    def queue_empty(self):
        return "Mail queue is empty" in self.command("/usr/sbin/postqueue", "-p").stdout


def wait_for_port(port):
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)


def send(port, mails, errors):
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
            s.ehlo("bench.example")
            for m in mails:
                s.sendmail("noreply@bench.example", ["dmarc@reports.example.com"], m)
    except Exception as e:  # noqa: BLE001 - reported, counted as a failure
        errors.append(repr(e))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--mails", type=int, default=3000)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--idle", type=int, default=200)
    ap.add_argument("--via-postfix", action="store_true",
                    help="send through a private Postfix relaying to the receiver over TLS")
    ap.add_argument("--postfix-tls", choices=("reuse", "new", "none"), default="reuse",
                    help="Postfix's hop: TLS with connections reused (smtp_tls_connection_reuse, "
                         "the default), a new TLS connection a mail, or plain text")
    ap.add_argument("--keep", action="store_true",
                    help="keep the scratch folder (store, logs, Postfix's maillog)")
    a = ap.parse_args()
    if a.via_postfix and (os.geteuid() != 0 or not os.path.exists("/usr/sbin/postfix")):
        sys.exit("--via-postfix needs root (Postfix's master runs as root) and the postfix package")

    work = tempfile.mkdtemp(prefix="dmarc-smtp-bench-")
    port = free_port()
    db = os.path.join(work, "store.db")
    cfg = os.path.join(work, "bench.toml")
    with open(cfg, "w") as f:
        f.write(f'[store]\nurl = "sqlite:{db}"\n[enrich]\noffline = true\n[web]\nenabled = false\n'
                f'[log]\nlevel = "warning"\n'
                f'[smtp]\nlisten = "127.0.0.1:{port}"\nhostname = "bench.example"\n'
                f'accept = ["reports.example.com"]\nspool = "{work}/spool"\nafter = "delete"\n'
                f'max_connections = {a.idle + a.connections + 16}\n'
                f'max_connections_per_client = {a.idle + a.connections + 16}\n')
        postfix = None
        if a.via_postfix:
            cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                            "1", "-subj", "/CN=bench.example", "-addext",
                            "subjectAltName=DNS:bench.example", "-keyout", key, "-out", cert],
                           check=True, capture_output=True)
            f.write(f'tls_cert = "{cert}"\ntls_key = "{key}"\n')
            postfix = Postfix(work, port, cert, a.postfix_tls)
    mails = [report_mail(i) for i in range(a.mails)]
    proc = subprocess.Popen([a.binary, "run", "--config", cfg], stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(work, "run.log"), "w"))
    try:
        wait_for_port(port)
        if postfix:
            postfix.start()
        time.sleep(0.5)
        idle_rss = rss_kib(proc.pid)

        errors = []
        start = time.time()
        inject = postfix.port if postfix else port
        threads = [threading.Thread(target=send, args=(inject, mails[k::a.connections], errors))
                   for k in range(a.connections)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        acked = time.time() - start
        polls = 0
        while stored(db) < a.mails and time.time() - start < 600:
            # A deferred mail waits minutes for Postfix's next try: say so rather than wait.
            polls += 1
            if postfix and polls % 20 == 0 and "status=deferred" in postfix.maillog():
                print("Postfix deferred mail (see its maillog with --keep); stopping")
                break
            time.sleep(0.05)
        done = time.time() - start
        n = stored(db)
        peak_rss = rss_kib(proc.pid)
        if postfix:
            # Postfix removes a mail from its queue once the receiver's 250 came back.
            while n == a.mails and not postfix.queue_empty() and time.time() - start < 600:
                time.sleep(0.2)
            relayed = postfix.maillog().count("status=sent (250 2.0.0 Ok: queued as ")
            verified = postfix.maillog().count("Verified TLS connection established")
            queue_empty = postfix.queue_empty()

        socks = []
        for _ in range(a.idle):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.recv(512)
            s.sendall(b"EHLO idle.example\r\n")
            socks.append(s)
        time.sleep(1)
        with_idle = rss_kib(proc.pid)
        for s in socks:
            s.close()
    finally:
        if postfix:
            postfix.stop()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()

    print(f"mails: {a.mails} over {a.connections} connections, {len(errors)} failed connection(s)")
    for e in errors[:3]:
        print(f"  {e}")
    if postfix:
        print(f"via Postfix: {relayed} mails relayed (status=sent) over {verified} verified TLS "
              f"connection(s), queue {'empty' if queue_empty else 'NOT empty'}")
    print(f"acknowledged (250, {'queued by Postfix' if postfix else 'spooled'}): {acked:.2f} s, "
          f"{a.mails / acked:,.0f} mails/s")
    print(f"stored ({n} reports committed): {done:.2f} s, {n / done:,.0f} mails/s")
    print(f"RSS: {idle_rss / 1024:.1f} MB idle, {peak_rss / 1024:.1f} MB after the mails, "
          f"{with_idle / 1024:.1f} MB with {a.idle} idle connections")
    ok = not errors and n == a.mails and (not postfix or (relayed == a.mails and queue_empty))
    print(("PASS" if ok and a.mails / acked >= 300 else "FAIL") + ": >= 300 mails/s acknowledged")
    print(("PASS" if ok and n / done >= 300 else "FAIL") + ": >= 300 mails/s stored")
    print(("PASS" if with_idle - peak_rss <= 64 * 1024 else "FAIL")
          + f": RSS with {a.idle} connections within 64 MB")
    if a.keep:
        print(f"kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
