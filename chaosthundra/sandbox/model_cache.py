"""botocore's data files (service models, endpoint rules), parsed once and kept.

botocore parses the JSON of each service model it needs in every process: for the
sandbox's own clients and moto (S3, IAM, Lambda, DynamoDB, CloudWatch Logs, the
endpoint data) about 0.1 s of every ``chaos run``. The sandbox's sessions read them
through :class:`CachedFileLoader`, which keeps each file's parsed content in marshal
form under ``<cache>/botocore``, keyed by the file's path, size and time stamp and by
the interpreter's version: another botocore, or another Python, parses afresh (entries
older than 30 days go when a new one is written). The content is botocore's, as plain
dictionaries (botocore's own loader gives ordered ones; both keep the file's order,
which is all botocore reads of them).

The functions' own boto3 (in their execution environments) does not use it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import marshal
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

from botocore.loaders import JSONFileLoader

from chaosthundra.cache import cache_dir

__all__ = ["CachedFileLoader", "use_cache"]

_OPENERS = ((".json", open), (".json.gz", gzip.open))
_KEEP_DAYS = 30  # an entry older than this is removed when another is written


class CachedFileLoader(JSONFileLoader):
    """A botocore file loader that keeps what it parsed in ``folder``."""

    def __init__(self, folder: Optional[Path] = None) -> None:
        self.folder = folder if folder is not None else cache_dir("botocore")

    def load_file(self, file_path: str) -> Any:
        """The content of ``file_path`` + ``.json`` or ``.json.gz``; None if neither exists."""
        for extension, opener in _OPENERS:
            path = file_path + extension
            try:
                stat = os.stat(path)
            except OSError:
                continue
            key = f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\0{sys.version}"
            kept = self.folder / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".marshal")
            try:
                return marshal.loads(kept.read_bytes())
            except (OSError, EOFError, ValueError, TypeError):
                pass
            with opener(path, "rb") as source:
                data = json.loads(source.read().decode("utf-8"))
            self._keep(kept, data)
            return data
        return None

    def _keep(self, target: Path, data: Any) -> None:
        """Write ``data`` to ``target`` atomically; a cache that cannot be written is
        only slower, so an OSError is ignored."""
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                "wb", dir=target.parent, prefix=".model-", delete=False
            ) as staging:
                staging.write(marshal.dumps(data))
            os.replace(staging.name, target)
            old = time.time() - _KEEP_DAYS * 86400
            for entry in target.parent.glob("*.marshal"):
                if entry.stat().st_mtime < old:
                    entry.unlink()
        except OSError:
            pass


def use_cache(session: Any) -> None:
    """Make ``session`` (a boto3 session) read botocore's data through the cache."""
    loader = session._session.get_component("data_loader")
    if not isinstance(loader.file_loader, CachedFileLoader):
        loader.file_loader = CachedFileLoader()
