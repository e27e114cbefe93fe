#!/usr/bin/env python3
"""Writes the hostile-input fixtures in this folder. Deterministic: running it again produces
the same bytes (gzip mtime 0, fixed zip timestamps). Run from anywhere:
    python3 testdata/broken/make_fixtures.py
"""
import gzip
import io
import os
import zipfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))

GOOD = """<?xml version="1.0" encoding="UTF-8"?>
<feedback>
  <version>1.0</version>
  <report_metadata>
    <org_name>{org}</org_name>
    <email>dmarc@example.net</email>
    <report_id>{rid}</report_id>
    <date_range><begin>1700000000</begin><end>1700086399</end></date_range>
  </report_metadata>
  <policy_published><domain>example.com</domain><p>none</p></policy_published>
  <record>
    <row>
      <source_ip>192.0.2.1</source_ip>
      <count>{count}</count>
      <policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>fail</spf></policy_evaluated>
    </row>
    <identifiers><header_from>{hfrom}</header_from></identifiers>
    <auth_results><dkim><domain>example.com</domain><selector>{sel}</selector><result>pass</result></dkim></auth_results>
  </record>
</feedback>
"""


def good(org="example.net", rid="fixture-1", count="3", hfrom="example.com", sel="s1"):
    return GOOD.format(org=org, rid=rid, count=count, hfrom=hfrom, sel=sel).encode()


def gz(data):
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as f:
        f.write(data)
    return buf.getvalue()


def zipped(entries):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return buf.getvalue()


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def main():
    zeros = b"\0" * (200 * 1024 * 1024)
    # Compression bombs: 200 MiB of zeros, compressed about 1000:1.
    write("gzip-bomb.xml.gz", gz(zeros))
    write("zip-bomb.zip", zipped([("report.xml", zeros)]))
    # A bomb inside a bomb: gzip of the gzip bomb (tiny on disk).
    write("double-gzip-bomb.gz", gz(gz(zeros)))
    # Many entries.
    write("zip-many-entries.zip", zipped([(f"r{i}.xml", b"<a/>") for i in range(1500)]))
    # Entity expansion (billion laughs) and external entity (XXE).
    laughs = ['<!ENTITY lol0 "lol">']
    for i in range(1, 10):
        laughs.append(f'<!ENTITY lol{i} "' + f"&lol{i-1};" * 10 + '">')
    write("billion-laughs.xml",
          ('<?xml version="1.0"?>\n<!DOCTYPE feedback [\n' + "\n".join(laughs) + "\n]>\n").encode()
          + good(org="&lol9;"))
    write("xxe-file.xml",
          b'<?xml version="1.0"?>\n<!DOCTYPE feedback [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
          + good(org="&xxe;").split(b"\n", 1)[1])
    # Deep nesting: 100,000 nested elements.
    write("deep-nesting.xml", b"<feedback>" + b"<a>" * 100000 + b"</a>" * 100000 + b"</feedback>")
    # Truncated containers and documents.
    full = good()
    write("truncated.xml.gz", gz(full)[:-20])
    write("truncated.zip", zipped([("report.xml", full)])[:60])
    write("truncated.xml", full[: len(full) // 2])
    # Empty and garbage.
    write("empty.xml", b"")
    write("whitespace-only.xml", b"  \n\t \n")
    write("garbage.bin", bytes((i * 7919 + 13) % 256 for i in range(4096)))
    write("not-a-report.xml", b'<?xml version="1.0"?><html><body>hello</body></html>')
    # Zip entry names that try to escape: must be treated as labels only.
    write("zip-path-traversal.zip",
          zipped([("../../etc/cron.d/evil.xml", good(rid="traversal-1")),
                  ("/abs/path.xml", good(rid="traversal-2"))]))
    # Invalid UTF-8 in several fields.
    write("invalid-utf8.xml", good(org="bad\xff\xfeorg", hfrom="ex\x80ample.com").replace(
        b"bad\xc3\xbf\xc3\xbeorg", b"bad\xff\xfeorg").replace(b"ex\xc2\x80ample.com", b"ex\x80ample.com"))
    # Script payloads in every text field: kept verbatim, escaped on output.
    payload = "<script>alert(1)</script>\"'&,;\n=cmd|' /C calc'!A0"
    esc = payload.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    write("script-payload.xml", good(org=esc, rid="x" + esc, hfrom=esc, sel=esc))
    # Counts: huge, negative, not a number, with whitespace.
    write("huge-count.xml", good(count="99999999999999999999999"))
    write("big-count.xml", good(count="18446744073709551615"))
    write("negative-count.xml", good(count="-5"))
    write("nan-count.xml", good(count="many"))
    # Valid data inside a zip that also holds junk entries.
    write("zip-mixed.zip", zipped([("readme.txt", b"just text"), ("a.xml", good(rid="mixed-1")),
                                   ("b.xml", good(rid="mixed-2"))]))
    # zlib (not gzip) stream with gzip-looking name: recognised by content, not name.
    write("zlib-not-gzip.xml.gz", zlib.compress(good()))
    # Gzip inside zip inside gzip (nested containers, legitimate).
    write("nested.gz", gz(zipped([("inner.xml.gz", gz(good(rid="nested-1")))])))


if __name__ == "__main__":
    main()
