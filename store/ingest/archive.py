"""Reading a zip (a zipped bundle, or the zip inside an .xlsx) without trusting it.

Only the entries asked for are decompressed, a block at a time, and the totals are
capped both as declared and as actually inflated: a small archive cannot unpack to
gigabytes (a "zip bomb"). Encrypted entries and compression methods Python cannot
read are refused with a reason instead of a traceback.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from store.ingest.file_problems import BundleError

# Caps on what one archive may unpack to; override with WORKBENCH_MAX_UNZIPPED_MB.
MAX_UNZIPPED_BYTES = 2 * 1024**3
# A CSV export compresses 5-20 times, a sparse one perhaps 50; zip bombs reach thousands.
MAX_RATIO = 200
# Tiny entries compress oddly (a 200-byte file of one repeated row): the ratio cap
# applies once an entry inflates beyond this.
RATIO_FREE_BYTES = 1024**2
_SUPPORTED = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
_BLOCK = 1024**2


def max_unzipped_bytes() -> int:
    """The cap in force (``WORKBENCH_MAX_UNZIPPED_MB`` overrides the 2 GB default)."""
    env = os.environ.get("WORKBENCH_MAX_UNZIPPED_MB", "").strip()
    return int(float(env) * 1024**2) if env else MAX_UNZIPPED_BYTES


def member_name(info: zipfile.ZipInfo) -> str:
    """The entry's path with Windows back-slashes read as folders."""
    return info.filename.replace("\\", "/")


def is_hidden(name: str) -> bool:
    """macOS resource forks and dot-files, which archivers add without asking."""
    return "__MACOSX/" in name or PurePosixPath(name).name.startswith(".")


def open_zip(data: bytes | Path, source: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(data if isinstance(data, Path) else io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise BundleError(f"{source}: not a readable zip archive") from exc


def read_members(
    zf: zipfile.ZipFile, source: str, wanted: Callable[[str], bool]
) -> dict[str, bytes]:
    """``{path: bytes}`` of the entries ``wanted`` accepts (paths with ``/``), checked
    against the caps; raises ``BundleError`` naming the entry that breaks one."""
    cap = max_unzipped_bytes()
    infos = [i for i in zf.infolist() if not i.is_dir() and wanted(member_name(i))]
    for info in infos:
        name = member_name(info)
        if info.flag_bits & 0x1:
            raise BundleError(f"{source}: {name} is encrypted; zip the files without a password")
        if info.compress_type not in _SUPPORTED:
            raise BundleError(
                f"{source}: {name} uses compression method {info.compress_type}, which cannot "
                "be read; zip it with the usual Deflate method"
            )
    declared = sum(i.file_size for i in infos)
    if declared > cap:
        raise BundleError(
            f"{source}: its tables unpack to {declared / 1024**2:,.0f} MB, over the "
            f"{cap / 1024**2:,.0f} MB limit (WORKBENCH_MAX_UNZIPPED_MB)"
        )
    out: dict[str, bytes] = {}
    total = 0
    for info in infos:
        name = member_name(info)
        parts: list[bytes] = []
        size = 0
        try:
            with zf.open(info) as fh:
                while block := fh.read(_BLOCK):
                    size += len(block)
                    total += len(block)
                    if total > cap:
                        raise BundleError(
                            f"{source}: {name} unpacks beyond the {cap / 1024**2:,.0f} MB limit"
                        )
                    if size > RATIO_FREE_BYTES and size > MAX_RATIO * max(info.compress_size, 1):
                        raise BundleError(
                            f"{source}: {name} inflates more than {MAX_RATIO} times its packed "
                            "size; refused as a likely zip bomb"
                        )
                    parts.append(block)
        except (zipfile.BadZipFile, EOFError, OSError, RuntimeError, NotImplementedError) as exc:
            # zipfile raises RuntimeError for a password, BadZipFile for a CRC mismatch.
            raise BundleError(f"{source}: {name} cannot be read ({exc})") from exc
        out[name] = b"".join(parts)
    return out
