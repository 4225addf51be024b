"""A loopback HTTP server mimicking NCBI Datasets v2 (dataset reports, genome package zips) and plain file links.

Reports are shaped like ``v2reportsAssemblyDataReportPage`` (snake_case), zips follow the NCBI package layout with
real genome files from ../shared/data/genomes. Faults are queued per route: ``server.faults[key] = ["500", ...]``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import socket
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

PAGE_CAP = 2  # smaller than NCBI's 1000 so paging is exercised


def assembly(
    acc: str, asm: str, taxon: int, organism: str, level: str, category: str | None, fasta: Path
) -> dict[str, Any]:
    return {
        "report": {
            "accession": acc,
            "current_accession": acc,
            "source_database": "SOURCE_DATABASE_REFSEQ"
            if acc.startswith("GCF")
            else "SOURCE_DATABASE_GENBANK",
            "organism": {"tax_id": taxon, "organism_name": organism},
            "assembly_info": {
                "assembly_level": level,
                "assembly_status": "current",
                "assembly_name": asm,
                **({"refseq_category": category} if category else {}),
            },
            "assembly_stats": {"total_sequence_length": "0", "gc_percent": 50.0},
        },
        "asm": asm,
        "fasta": fasta,
    }


class NCBIServer:
    def __init__(self, genomes: Path) -> None:
        cd = genomes / "GCF_001457455.1_NCTC11397_genomic.fna.gz"
        lam = genomes / "lambda_NC_001416.1.fasta.gz"
        self.assemblies = [
            assembly(
                "GCF_001457455.1",
                "NCTC11397",
                1717,
                "Corynebacterium diphtheriae",
                "Complete Genome",
                "reference genome",
                cd,
            ),
            assembly(
                "GCA_001457455.1",
                "NCTC11397",
                1717,
                "Corynebacterium diphtheriae",
                "Complete Genome",
                None,
                cd,
            ),
            assembly("GCF_900000001.1", "strainB", 1717, "Corynebacterium diphtheriae", "Contig", None, lam),
            assembly(
                "GCF_000840245.1",
                "ViralProj14204",
                10710,
                "Escherichia virus Lambda",
                "Complete Genome",
                "reference genome",
                lam,
            ),
        ]
        self.files = {p.name: p.read_bytes() for p in (cd, lam)}
        self.faults: dict[str, list[str]] = {}
        self.log: list[dict[str, Any]] = []
        self._zips: dict[str, bytes] = {}
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> NCBIServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def fasta_bytes(self, acc: str) -> bytes:
        a = next(a for a in self.assemblies if a["report"]["accession"] == acc)
        return gzip.decompress(a["fasta"].read_bytes())

    def package(self, acc: str, fault: str | None) -> bytes:
        key = f"{acc}:{fault}"
        if key in self._zips:
            return self._zips[key]
        a = next(a for a in self.assemblies if a["report"]["accession"] == acc)
        fna_name = f"ncbi_dataset/data/{acc}/{acc}_{a['asm']}_genomic.fna"
        fna = self.fasta_bytes(acc)
        md5 = hashlib.md5(fna).hexdigest() if fault != "bad_md5" else "0" * 32
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            zf.writestr("README.md", "# NCBI Datasets Genome Package\n")
            zf.writestr(
                "ncbi_dataset/data/assembly_data_report.jsonl",
                json.dumps(
                    {"accession": acc, "organism": {"organismName": a["report"]["organism"]["organism_name"]}}
                )
                + "\n",
            )
            catalog = {
                "apiVersion": "V2",
                "assemblies": [
                    {"files": [{"filePath": "assembly_data_report.jsonl", "fileType": "DATA_REPORT"}]},
                    {
                        "accession": acc,
                        "files": [
                            {
                                "filePath": fna_name.removeprefix("ncbi_dataset/data/"),
                                "fileType": "GENOMIC_NUCLEOTIDE_FASTA",
                                "uncompressedLengthBytes": str(len(fna)),
                            }
                        ],
                    },
                ],
            }
            zf.writestr("ncbi_dataset/data/dataset_catalog.json", json.dumps(catalog))
            zf.writestr(fna_name, fna)
            if fault == "traversal":
                zf.writestr("../../evil.txt", "pwned")
            zf.writestr("md5sum.txt", f"{md5}  {fna_name}\n")
        self._zips[key] = buf.getvalue()
        return self._zips[key]

    def select(self, taxon: str, q: dict[str, list[str]]) -> list[dict[str, Any]]:
        out = [a["report"] for a in self.assemblies if str(a["report"]["organism"]["tax_id"]) == taxon]
        if q.get("filters.reference_only", ["false"])[0] == "true":
            out = [r for r in out if r["assembly_info"].get("refseq_category") == "reference genome"]
        source = q.get("filters.assembly_source", ["all"])[0]
        if source != "all":
            out = [r for r in out if r["source_database"].endswith(source.upper())]
        levels = q.get("filters.assembly_level")
        if levels:
            out = [r for r in out if r["assembly_info"]["assembly_level"].lower().replace(" ", "_") in levels]
        return out

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, body: bytes, ctype: str, extra: dict[str, str] | None = None) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def _fault(self, key: str) -> str | None:
                queue = server.faults.get(key)
                return queue.pop(0) if queue else None

            def _body(self, body: bytes, ctype: str, fault: str | None) -> None:
                rng = self.headers.get("Range")
                start = int(rng.split("=")[1].split("-")[0]) if rng else 0
                if start >= len(body) and rng:
                    return self._send(416, b"", "text/plain", {"Content-Range": f"bytes */{len(body)}"})
                part = body[start:]
                code = 206 if rng else 200
                extra = {"Content-Range": f"bytes {start}-{len(body) - 1}/{len(body)}"} if rng else {}
                if fault in ("drop", "cut_no_length"):  # cut_no_length: a close-delimited body, cut in half
                    self.send_response(code)
                    self.send_header("Content-Type", ctype)
                    if fault == "drop":
                        self.send_header("Content-Length", str(len(part)))
                    for k, v in extra.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(part[: len(part) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return None
                return self._send(code, part, ctype, extra)

            def do_GET(self) -> None:
                u = urlparse(self.path)
                q = parse_qs(u.query)
                parts = [p for p in u.path.split("/") if p]
                server.log.append({"path": u.path, "query": q, "headers": dict(self.headers)})
                if parts[:1] == ["files"] and len(parts) == 2:
                    key = f"file:{parts[1]}"
                else:
                    key = (
                        "report"
                        if parts[-1:] == ["dataset_report"]
                        else f"download:{parts[-2] if len(parts) > 1 else ''}"
                    )
                fault = self._fault(key)
                if fault == "500":
                    return self._send(500, b'{"error": "internal"}', "application/json")
                if fault == "429":
                    return self._send(
                        429, b'{"error": "too many requests"}', "application/json", {"Retry-After": "7"}
                    )
                if fault and fault.startswith("429:"):  # a 429 with the Retry-After value after the colon
                    return self._send(
                        429, b'{"error": "too many requests"}', "application/json", {"Retry-After": fault[4:]}
                    )
                if fault == "no_length":  # a complete body, close-delimited (no Content-Length)
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.end_headers()
                    body = server.files[parts[1]] if key.startswith("file:") else b""
                    self.wfile.write(body)
                    self.close_connection = True
                    return None
                if key.startswith("file:"):
                    if parts[1] not in server.files:
                        return self._send(404, b"not found", "text/plain")
                    return self._body(server.files[parts[1]], "application/gzip", fault)
                if parts[:1] == ["genome"] and parts[1] == "taxon" and parts[3] == "dataset_report":
                    return self._reports(server.select(parts[2], q), q)
                if parts[:2] == ["genome", "accession"] and parts[3] == "dataset_report":
                    reports = [a["report"] for a in server.assemblies if a["report"]["accession"] == parts[2]]
                    return self._reports(reports, q)
                if parts[:2] == ["genome", "accession"] and parts[3] == "download":
                    if not any(a["report"]["accession"] == parts[2] for a in server.assemblies):
                        return self._send(404, b'{"error": "no such accession"}', "application/json")
                    return self._body(server.package(parts[2], fault), "application/zip", fault)
                return self._send(404, b'{"error": "unknown endpoint"}', "application/json")

            def _reports(self, reports: list[dict[str, Any]], q: dict[str, list[str]]) -> None:
                if not reports:
                    return self._send(200, json.dumps({"total_count": 0}).encode(), "application/json")
                size = min(int(q.get("page_size", ["20"])[0]), PAGE_CAP)
                start = int(q.get("page_token", ["0"])[0])
                page: dict[str, Any] = {"reports": reports[start : start + size], "total_count": len(reports)}
                if start + size < len(reports):
                    page["next_page_token"] = str(start + size)
                return self._send(200, json.dumps(page).encode(), "application/json")

        return Handler
