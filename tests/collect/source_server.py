"""A loopback static file server for the source-table tests: URL path -> bytes, every request logged.

Helpers build what NCBI would serve for an assembly: the Datasets v2 dataset report and genome package zip (under
``/datasets/v2``, as a rebased ``https://api.ncbi.nlm.nih.gov/datasets/v2`` URL), and the FTP folder's
``*_genomic.fna.gz`` and ``*_assembly_report.txt``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlparse

from genomefactory.collect.source_table import Assembly

from .ncbi_server import assembly as report_of

REPORT_HEADER = (
    "# Sequence-Name\tSequence-Role\tAssigned-Molecule\tAssigned-Molecule-Location/Type\tGenBank-Accn\t"
    "Relationship\tRefSeq-Accn\tAssembly-Unit\tSequence-Length\tUCSC-style-name\n"
)


class FileServer:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.log: list[str] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> FileServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def serve(self, url: str, body: bytes) -> None:
        """Serve ``body`` under the path of ``url`` (its scheme and host are ignored, as with fetch.base_url)."""
        self.files[urlparse(url).path] = body

    def serve_assembly(self, asm: Assembly, chroms: dict[str, str], report_rows: list[str]) -> None:
        fasta = "".join(
            f">{name} test chromosome\n" + "".join(seq[i : i + 80] + "\n" for i in range(0, len(seq), 80))
            for name, seq in chroms.items()
        ).encode()
        self.serve(asm.file_url("genomic.fna.gz"), gzip.compress(fasta, compresslevel=1))
        self.serve(
            asm.file_url("assembly_report.txt"),
            (REPORT_HEADER + "".join(r + "\n" for r in report_rows)).encode(),
        )
        rep = report_of(asm.accession, asm.name, 9606, asm.species, "Chromosome", "reference genome", None)  # type: ignore[arg-type]
        base = f"/datasets/v2/genome/accession/{asm.accession}"
        self.files[f"{base}/dataset_report"] = json.dumps(
            {"reports": [rep["report"]], "total_count": 1}
        ).encode()
        member = f"ncbi_dataset/data/{asm.accession}/{asm.accession}_{asm.name}_genomic.fna"
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            zf.writestr(member, fasta)
            zf.writestr("md5sum.txt", f"{hashlib.md5(fasta).hexdigest()}  {member}\n")
        self.files[f"{base}/download"] = buf.getvalue()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                path = urlparse(self.path).path
                server.log.append(path)
                body = server.files.get(path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

        return Handler
