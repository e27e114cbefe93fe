#!/usr/bin/env python3
"""The built-in SMTP receiver's benchmark (issue #19): report mails per second over loopback.

    bench/smtp_bench.py BINARY [--mails N] [--connections C] [--idle K]

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
"""
import argparse
import gzip
import io
import os
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
    a = ap.parse_args()

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
    mails = [report_mail(i) for i in range(a.mails)]
    proc = subprocess.Popen([a.binary, "run", "--config", cfg], stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(work, "run.log"), "w"))
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        time.sleep(0.5)
        idle_rss = rss_kib(proc.pid)

        errors = []
        start = time.time()
        threads = [threading.Thread(target=send, args=(port, mails[k::a.connections], errors))
                   for k in range(a.connections)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        acked = time.time() - start
        while stored(db) < a.mails and time.time() - start < 600:
            time.sleep(0.05)
        done = time.time() - start
        n = stored(db)
        peak_rss = rss_kib(proc.pid)

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
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()

    print(f"mails: {a.mails} over {a.connections} connections, {len(errors)} failed connection(s)")
    for e in errors[:3]:
        print(f"  {e}")
    print(f"acknowledged (250, spooled): {acked:.2f} s, {a.mails / acked:,.0f} mails/s")
    print(f"stored ({n} reports committed): {done:.2f} s, {n / done:,.0f} mails/s")
    print(f"RSS: {idle_rss / 1024:.1f} MB idle, {peak_rss / 1024:.1f} MB after the mails, "
          f"{with_idle / 1024:.1f} MB with {a.idle} idle connections")
    ok = not errors and n == a.mails
    print(("PASS" if ok and a.mails / acked >= 300 else "FAIL") + ": >= 300 mails/s acknowledged")
    print(("PASS" if ok and n / done >= 300 else "FAIL") + ": >= 300 mails/s stored")
    print(("PASS" if with_idle - peak_rss <= 64 * 1024 else "FAIL")
          + f": RSS with {a.idle} connections within 64 MB")
    shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
