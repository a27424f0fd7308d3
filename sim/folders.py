"""Results folders: a unique name, a hidden staging folder, and an atomic publication.

Every writer of a results folder (``hedgesim run``, ``hedgesim compare``, :func:`sim.write_results`)
writes into a hidden sibling, ``.<name>.partial-<pid>.<random>@<host>``, and publishes it with one
``rename``, which the operating system performs atomically and which replaces an *empty* folder
only: if another run published a non-empty folder under the same name meanwhile, the rename fails
and this run stops with one line (exit code 2) instead of replacing it. ``force`` asks to replace
a non-empty folder; the old one is removed only after the new one is in place.

A default folder name (``results/<name>/<UTC time>/``) is reserved with ``mkdir``, which also is
atomic: two runs started in the same second get ``<time>`` and ``<time>-2``.

A run killed by SIGKILL (or a power cut) cannot clean up; its staging folder is removed by the next
run that writes next to it, once the process named in the folder's name is gone from this host.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sim.errors import HedgesimError

#: Longest text the overrides add to a default folder name (the rest is cut and replaced by a hash).
LABEL_CHARS = 80
_STAMP = "%Y-%m-%dT%H-%M-%SZ"
_DEFAULT_NAME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ")
_HIDDEN = re.compile(r"^\.(?P<name>.+)\.(?P<what>partial|old)-(?P<pid>\d+)(?:\.\w+)?(?:@(?P<host>.*))?$")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname())[:40] or "host"


def folder_label(overrides: dict[str, object] | None) -> str:
    """The overrides as a folder-name suffix: ``inertia=0.3_actors.japan.budget=200`` ("" if none)."""
    from sim.scenario import override_text

    if not overrides:
        return ""
    text = "_".join(override_text(k, v) for k, v in overrides.items())
    text = re.sub(r"[^A-Za-z0-9._=+-]+", "-", text).strip("-")
    if len(text) > LABEL_CHARS:
        import hashlib

        text = text[: LABEL_CHARS - 9] + "-" + hashlib.sha256(text.encode()).hexdigest()[:8]
    return text


def default_folder(name: str, label: str = "", root: str | Path = "results") -> Path:
    """Reserve a new, empty folder ``results/<name>/<UTC time>[_<label>]/`` and return it.

    The folder is created with ``mkdir`` (atomic), trying ``-2``, ``-3``, ... after a name that
    exists, so runs started in the same second, in one process or many, never share a folder.
    """
    stamp = datetime.now(UTC).strftime(_STAMP) + (f"_{label}" if label else "")
    parent = Path(root) / name
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _cannot(parent, err) from None
    names = (parent / (stamp if k == 1 else f"{stamp}-{k}") for k in range(1, 10_000))
    return _make_first_free(names, parent)


def check_folder(out: Path, force: bool) -> None:
    """Refuse, before any work, to overwrite a non-empty folder or to write into a file."""
    try:
        if out.exists() and not out.is_dir():
            raise HedgesimError(f"{out}: exists and is not a folder; choose another --out")
        if out.is_dir() and any(out.iterdir()) and not force:
            raise HedgesimError(
                f"{out}: folder is not empty; choose another --out, or add --force to replace it"
            )
        if out.is_dir() and force:  # --force replaces a results folder, never the user's own files
            here, target = Path.cwd().resolve(), out.resolve()
            if here == target or target in here.parents:
                raise HedgesimError(
                    f"{out}: is the working folder or holds it; --force will not replace it; "
                    "choose another --out"
                )
            scenarios = sorted(p.name for p in out.glob("*.toml"))
            if scenarios:
                raise HedgesimError(
                    f"{out}: holds scenario files ({scenarios[0]}); --force replaces only a results "
                    "folder; choose another --out"
                )
    except OSError as err:
        raise _cannot(out, err) from None


@contextmanager
def staging(out: str | Path, force: bool = False, reserved: bool = False) -> Iterator[Path]:
    """A hidden sibling folder to write into, published as ``out`` when the block ends without error.

    On any error, Ctrl-C or SIGTERM the staging folder is removed (and ``out`` too when it is an
    empty folder ``reserved`` by :func:`default_folder`), so nothing is left half-written. An
    ``OSError`` while writing (a full disk, a read-only file system) becomes one line.
    """
    out = Path(out)
    check_folder(out, force)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _cannot(out, err) from None
    clean_stale(out.parent)
    try:
        tmp = _new_staging(out)
    except HedgesimError:
        if reserved:
            _remove_if_empty(out)
        raise
    try:
        try:
            yield tmp
        except OSError as err:
            raise HedgesimError(
                f"{out}: cannot write the results ({_reason(err)}); nothing was written"
            ) from None
        publish(tmp, out, force)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if reserved:
            _remove_if_empty(out)
        raise


def _new_staging(out: Path) -> Path:
    """Make the hidden staging folder of ``out``: a name of its own, even for two writers in one
    process, made with ``mkdir`` (so with the user's usual permissions)."""
    pid, host = os.getpid(), _host()
    names = (out.parent / f".{out.name}.partial-{pid}.{secrets.token_hex(4)}@{host}" for _ in range(100))
    return _make_first_free(names, out)


def _make_first_free(names: Iterator[Path], out: Path) -> Path:
    """Make the first folder of ``names`` that does not exist yet (``mkdir`` is atomic)."""
    for folder in names:
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
        except OSError as err:
            raise _cannot(out, err) from None
    raise HedgesimError(f"{out}: no free name for a new folder; choose another --out")


def publish(tmp: Path, out: Path, force: bool) -> None:
    """Rename the staging folder ``tmp`` to ``out``, atomically.

    The rename replaces nothing but an empty folder: a non-empty ``out`` (another run's results,
    published while this one ran) is kept, and this run fails in one line, unless ``force``.
    """
    try:
        os.rename(tmp, out)
        return
    except OSError as err:
        if err.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            if err.errno == errno.ENOTDIR:
                raise HedgesimError(f"{out}: exists and is not a folder; choose another --out") from None
            raise _cannot(out, err) from None
    if not force:
        raise HedgesimError(
            f"{out}: another run wrote this folder while this one ran; its results are kept and this "
            "run's are not (choose another --out, or add --force to replace it)"
        )
    old = out.parent / f".{out.name}.old-{os.getpid()}@{_host()}"
    for _ in range(10):  # another run may publish between the two renames: try again
        try:
            os.rename(out, old)
            os.rename(tmp, out)
            break
        except FileNotFoundError:
            continue
        except OSError as err:
            if err.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise _cannot(out, err) from None
            shutil.rmtree(old, ignore_errors=True)
    else:
        raise HedgesimError(f"{out}: other runs keep writing this folder; choose another --out")
    shutil.rmtree(old, ignore_errors=True)


def clean_stale(parent: Path) -> list[Path]:
    """Remove the staging folders in ``parent`` that runs killed on this host left behind.

    A hidden ``.<name>.partial-<pid>[.<random>][@<host>]`` (or ``.old-``) folder is removed only when its host
    is this one and no process ``<pid>`` is alive; an empty results folder that such a run had
    reserved (:func:`default_folder`) goes with it. Returns the folders removed.
    """
    removed: list[Path] = []
    try:
        entries = [p for p in parent.iterdir() if p.name.startswith(".")]
    except OSError:
        return removed
    for p in entries:
        m = _HIDDEN.match(p.name)
        if not m or (m["host"] is not None and m["host"] != _host()) or _alive(int(m["pid"])):
            continue
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p)
        target = parent / m["name"]
        if m["what"] == "partial" and _DEFAULT_NAME.match(m["name"]) and _remove_if_empty(target):
            removed.append(target)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # another user's process, or a number we cannot check: keep it
    return True


def _remove_if_empty(folder: Path) -> bool:
    try:
        folder.rmdir()
        return True
    except OSError:
        return False


def _reason(err: OSError) -> str:
    return err.strerror or str(err) or type(err).__name__


def _cannot(out: Path, err: OSError) -> HedgesimError:
    """One line for a folder that cannot be made: below a file, read-only, a name too long."""
    reason = _reason(err)
    for p in out.parents:
        try:
            if p.exists() and not p.is_dir():
                reason = f"{p} is a file, not a folder"
                break
        except OSError:
            continue
    return HedgesimError(f"{out}: cannot create the results folder ({reason}); choose another --out")
