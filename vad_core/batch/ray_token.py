"""Ray's cluster token kept private: Ray 2.60 writes ~/.ray/auth_token for a new local cluster with the process's
umask (0644 in a 0755 folder: any local user could read it and run code as this one on the cluster).

    with private_token():
        ray.init("local", ...)      # a token it writes is 0600, in a 0700 folder; an older 0644 one is made 0600
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


def token_path() -> Path:
    """Where Ray reads and writes this user's token (ray._private.authentication: RAY_AUTH_TOKEN_PATH, else
    ~/.ray/auth_token; a new local cluster writes the default one)."""
    return Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")


def make_private(path: Path) -> None:
    """The token file 0600 and the default folder 0700, when this user owns them; others' files are left alone."""
    default = Path.home() / ".ray"
    for item, mode in ((default, 0o700), (path, 0o600)):
        with contextlib.suppress(OSError):
            info = os.lstat(item)
            if info.st_uid == os.getuid() and not os.path.islink(item) and info.st_mode & 0o777 != mode:
                os.chmod(item, mode)


@contextlib.contextmanager
def private_token() -> Iterator[None]:
    """Around ray.init: files Ray makes meanwhile are private (umask 077), and its token file is 0600 after."""
    with contextlib.suppress(OSError):
        (Path.home() / ".ray").mkdir(mode=0o700, exist_ok=True)
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)
        make_private(token_path())
