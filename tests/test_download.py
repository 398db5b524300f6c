"""The dataset downloader against a local HTTP server: no test touches the internet."""

from __future__ import annotations

import functools
import hashlib
import http.server
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from benchmark.data.download import ensure_files, git_blob_id
from benchmark.dataset import SourceFile
from benchmark.errors import HarnessError
from benchmark.registry import get_dataset

SHARED = Path(__file__).resolve().parents[2] / "shared/data/thucnews"
# Copied from the data README rather than from the module, so a typo in either one shows up.
PUBLISHED_IDS = {
    "class.txt": "4c20bac1a8a6be2c207f0e97be4c279651d76d21",
    "dev.txt": "cf7f8de6fc3e3c72284ab59e7ed850f49b7185c0",
    "test.txt": "9c216ace7d0cf2c89fec1b4c9d49a92dc1791d0a",
}
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared THUCNews folder not found at {SHARED}")

# Small stand-ins for the four files, each pinned by its git blob id as a dataset declaration pins them.
CONTENTS = {
    "class.txt": b"finance\nrealty",
    "train.txt": "油价上涨\t0\n新楼盘开盘\t1\n".encode() * 50,
    "dev.txt": "股市大涨\t2\n".encode(),
    "test.txt": "高考改革\t3\n".encode(),
}


def blob_id(data: bytes) -> str:
    # Written out here independently of the module, so the two must agree.
    return hashlib.sha1(b"blob " + str(len(data)).encode() + b"\0" + data).hexdigest()


class _Handler(http.server.SimpleHTTPRequestHandler):
    requests: list[str]

    def do_GET(self):
        self.requests.append(self.path)
        super().do_GET()

    def log_message(self, format, *args):  # keep test output quiet
        pass


def ensure(target: Path, url: str, names=None, **options) -> Path:
    sources = [SourceFile(name, f"{url}/{name}", git_blob=blob_id(CONTENTS[name])) for name in names or CONTENTS]
    return ensure_files(target, sources, what="THUCNews", **options)


class _RangeHandler(_Handler):
    """Answers a range request with the rest of the file (206), as a server that supports resuming does."""

    def do_GET(self):
        asked = self.headers.get("Range")
        if not asked:
            return super().do_GET()
        self.requests.append(f"{self.path} {asked}")
        data = (Path(self.directory) / self.path.lstrip("/")).read_bytes()
        start = int(asked.removeprefix("bytes=").rstrip("-"))
        self.send_response(206)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        self.wfile.write(data[start:])


class _CutHandler(_Handler):
    """Sends the first 100 bytes of the file, promising all of it, then hangs up."""

    def do_GET(self):
        self.requests.append(self.path)
        data = (Path(self.directory) / self.path.lstrip("/")).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[:100])
        self.close_connection = True


class _TruncatingHandler(_Handler):
    """Promises more bytes than it sends, then hangs up, as a dropped connection does."""

    def do_GET(self):
        self.requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.write(b"only part of it")
        self.close_connection = True


def _serve(root: Path, handler_class):
    requests: list[str] = []
    handler = type("Handler", (handler_class,), {"requests": requests})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
    # A short poll keeps shutdown() from waiting half a second per test.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    return server, thread, requests


@pytest.fixture
def served(tmp_path, monkeypatch):
    """A folder served over HTTP holding CONTENTS, with the module expecting their ids."""
    root = tmp_path / "served"
    root.mkdir()
    for name, data in CONTENTS.items():
        (root / name).write_bytes(data)
    server, thread, requests = _serve(root, _Handler)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    yield url, root, requests
    server.shutdown()
    server.server_close()
    thread.join()


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _assert_no_leftovers(folder: Path):
    assert not list(folder.glob("*.part"))


def test_download_lands_verified(served, tmp_path):
    url, _, requests = served
    target = tmp_path / "data"
    assert ensure(target, url) == target
    for name, data in CONTENTS.items():
        assert (target / name).read_bytes() == data
    assert sorted(requests) == sorted(f"/{name}" for name in CONTENTS)
    _assert_no_leftovers(target)
    # A second run finds everything in place and asks for nothing.
    ensure(target, url)
    assert len(requests) == len(CONTENTS)


def test_served_content_with_wrong_id_is_discarded(served, tmp_path):
    url, root, _ = served
    (root / "dev.txt").write_bytes("被篡改的内容\t9\n".encode())
    target = tmp_path / "data"
    with pytest.raises(HarnessError) as raised:
        ensure(target, url, ["dev.txt"])
    message = str(raised.value)
    assert blob_id(CONTENTS["dev.txt"]) in message
    assert blob_id((root / "dev.txt").read_bytes()) in message
    assert not (target / "dev.txt").exists()
    _assert_no_leftovers(target)


def test_existing_correct_file_is_not_downloaded_again(served, tmp_path):
    url, _, requests = served
    target = tmp_path / "data"
    target.mkdir()
    (target / "train.txt").write_bytes(CONTENTS["train.txt"])
    ensure(target, url)
    assert "/train.txt" not in requests
    assert sorted(requests) == ["/class.txt", "/dev.txt", "/test.txt"]


def test_existing_wrong_file_raises_untouched(served, tmp_path):
    url, _, requests = served
    target = tmp_path / "data"
    target.mkdir()
    mine = target / "test.txt"
    mine.write_bytes("我自己的测试集\t0\n".encode())
    before = (mine.read_bytes(), mine.stat().st_mtime_ns)
    with pytest.raises(HarnessError) as raised:
        ensure(target, url)
    message = str(raised.value)
    assert "test.txt" in message and "delete" in message
    assert blob_id(CONTENTS["test.txt"]) in message and blob_id(before[0]) in message
    assert (mine.read_bytes(), mine.stat().st_mtime_ns) == before
    assert requests == []  # local files are checked before anything is fetched


def test_unreachable_server_says_how_to_work_offline(served, tmp_path):
    url = _closed_port_url()
    target = tmp_path / "data"
    with pytest.raises(HarnessError) as raised:
        ensure(target, url)
    message = str(raised.value)
    assert "\n" not in message
    assert f"{url}/class.txt" in message
    assert "--data-dir" in message and str(target) in message
    assert not list(target.iterdir())


def test_http_error_is_reported(served, tmp_path):
    url, root, _ = served
    (root / "class.txt").unlink()
    target = tmp_path / "data"
    with pytest.raises(HarnessError, match=r"HTTP 404.*--data-dir"):
        ensure(target, url, ["class.txt"])
    assert not list(target.iterdir())


def test_truncated_response_is_reported_and_the_next_attempt_continues_it(served, tmp_path):
    _, root, _ = served
    target = tmp_path / "data"
    for handler, attempt in ((_TruncatingHandler, "cut"), (_CutHandler, "partial"), (_RangeHandler, "resumed")):
        server, thread, requests = _serve(root, handler)
        url = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            if attempt == "cut":  # promises more than the file holds: the part fails its check and goes
                with pytest.raises(HarnessError, match=r"closed after 15 of 1000 bytes"):
                    ensure(target, url, ["dev.txt"])
                (target / "dev.txt.part").unlink()
            elif attempt == "partial":
                with pytest.raises(HarnessError, match=r"closed after 100 of 1650 bytes; run again to continue"):
                    ensure(target, url, ["train.txt"])
                assert (target / "train.txt.part").read_bytes() == CONTENTS["train.txt"][:100]
            else:
                ensure(target, url, ["train.txt"])
                assert requests == ["/train.txt bytes=100-"], "only the rest is fetched"
        finally:
            server.shutdown()
            server.server_close()
            thread.join()
    assert (target / "train.txt").read_bytes() == CONTENTS["train.txt"]
    _assert_no_leftovers(target)


def test_stale_part_file_is_replaced(served, tmp_path):
    url, _, _ = served
    target = tmp_path / "data"
    target.mkdir()
    # Longer than the real file, so appending or failing to truncate would show.
    (target / "train.txt.part").write_bytes(b"left over from a killed run\n" * 1000)
    ensure(target, url, ["train.txt"])
    assert (target / "train.txt").read_bytes() == CONTENTS["train.txt"]
    _assert_no_leftovers(target)


def test_environment_variable_names_a_mirror(served, tmp_path, monkeypatch):
    url, root, requests = served
    mirror = root / "mirror"
    mirror.mkdir()
    (mirror / "class.txt").write_bytes(CONTENTS["class.txt"])
    monkeypatch.setenv("TEST_MIRROR", f"{url}/mirror/")
    ensure(tmp_path / "data", url, ["class.txt"], mirror_env="TEST_MIRROR")
    assert requests == ["/mirror/class.txt"]
    monkeypatch.delenv("TEST_MIRROR")
    ensure(tmp_path / "other", url, ["class.txt"], mirror_env="TEST_MIRROR")
    assert requests[-1] == "/class.txt"


def test_offline_names_what_to_fetch_by_hand_and_fetches_nothing(served, tmp_path):
    url, _, requests = served
    target = tmp_path / "data"
    with pytest.raises(HarnessError) as raised:
        ensure(target, url, ["class.txt", "dev.txt"], offline=True)
    message = str(raised.value)
    assert "the run is offline" in message and f"{url}/class.txt, {url}/dev.txt" in message
    assert str(target) in message and requests == [] and not target.exists()


@pytest.mark.parametrize("kind", ["sha256", "md5"])
def test_sha256_and_md5_pin_a_file_too(served, tmp_path, kind):
    url, _, _ = served
    data = CONTENTS["dev.txt"]
    good = {kind: hashlib.new(kind, data).hexdigest()}
    assert ensure_files(tmp_path / "a", [SourceFile("dev.txt", f"{url}/dev.txt", **good)], what="x")
    with pytest.raises(HarnessError, match=f"{kind} {good[kind]}, published {'0' * 8}"):
        ensure_files(tmp_path / "b", [SourceFile("dev.txt", f"{url}/dev.txt", **{kind: "0" * 8})], what="x")
    with pytest.raises(ValueError, match="only kept when a checksum pins it"):
        SourceFile("dev.txt", f"{url}/dev.txt")


def test_git_blob_id_matches_git(tmp_path):
    crafted = tmp_path / "crafted.bin"
    # Larger than one read chunk, with a NUL and non-ASCII, so streaming and the header both matter.
    data = "标题\t0\n".encode() * 300_000 + b"\0tail"
    crafted.write_bytes(data)
    git = subprocess.run(
        ["git", "hash-object", "--no-filters", str(crafted)], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert git_blob_id(crafted) == git
    assert git_blob_id(str(crafted)) == git
    assert git_blob_id(data) == git
    assert git_blob_id(b"") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"  # git's well-known empty blob


@needs_shared
@pytest.mark.parametrize("name", sorted(PUBLISHED_IDS))
def test_shared_files_have_published_ids(name):
    assert git_blob_id(SHARED / name) == PUBLISHED_IDS[name]
    assert get_dataset("thucnews").file(name).git_blob == PUBLISHED_IDS[name]


@needs_shared
def test_shared_copy_is_accepted_without_network(tmp_path, monkeypatch):
    for name in PUBLISHED_IDS:
        shutil.copy(SHARED / name, tmp_path / name)
    thucnews = get_dataset("thucnews")
    ensure_files(tmp_path, [thucnews.file(name) for name in PUBLISHED_IDS], what="thucnews", offline=True)
    _assert_no_leftovers(tmp_path)
