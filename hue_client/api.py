"""A small client of the Hue HTTP API (/api/v1/) that rides out network cuts, rate limits and restarts."""

from __future__ import annotations

import os
import time
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Callable, Iterator

import requests

from hue_client import __version__

RETRY_STATUSES = {429, 502, 503, 504}


class HueError(Exception):
    """Something the person running the client must fix (a bad token, a wrong URL); str() says what."""


class Rejected(Exception):
    """The server refused this one photo; str() is its reason."""


def retry_after(response: requests.Response, default: float) -> float:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return default


def error_message(response: requests.Response) -> str:
    try:
        return response.json().get("error") or response.text[:300]
    except ValueError:
        return response.text[:300] or f"HTTP {response.status_code}"


class Client:
    def __init__(self, url: str, token: str, *, patience: float = 900, timeout: float = 120,
                 sleep: Callable[[float], None] = time.sleep, say: Callable[[str], None] = lambda text: None):
        if not url:
            raise HueError("Give the server's address with --url or HUE_URL (e.g. https://photos.example.org).")
        if not token:
            raise HueError("Give an API token with --token or HUE_TOKEN (make one on the site: "
                           "your account → API tokens).")
        self.base = url.rstrip("/")
        self.api = self.base + "/api/v1"
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {token}", "User-Agent": f"hue-client/{__version__}"})
        self.patience = patience  # how long to keep retrying through a network cut or an outage (s)
        self.timeout = timeout
        self.sleep = sleep
        self.say = say

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.api + path

    def request(self, method: str, path: str, rewind: Callable[[], object] | None = None,
                **kwargs) -> requests.Response:
        """The response; waits out 429 (Retry-After), 502-504 and network errors for up to `patience` s.
        `rewind` puts an uploaded file back at its start before each try."""
        deadline = time.monotonic() + self.patience
        delay = 1.0
        while True:
            if rewind:
                rewind()
            try:
                response = self.session.request(method, self.url(path), timeout=self.timeout, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                wait, reason = delay, f"cannot reach {self.base} ({type(exc).__name__})"
            else:
                if response.status_code not in RETRY_STATUSES:
                    if response.status_code == 401:
                        raise HueError(f"The server refused the token: {error_message(response)}")
                    return response
                wait = retry_after(response, delay)
                reason = error_message(response) if response.status_code == 429 else f"HTTP {response.status_code}"
                response.close()
            if time.monotonic() + wait > deadline:
                raise HueError(f"Gave up after {self.patience:.0f} s: {reason}")
            self.say(f"waiting {wait:.0f} s: {reason}")
            self.sleep(wait)
            delay = min(delay * 2, 30.0)

    def json(self, method: str, path: str, **kwargs):
        response = self.request(method, path, **kwargs)
        if response.status_code == 404:
            raise HueError(error_message(response))
        if response.status_code >= 400:
            raise HueError(f"{method} {path}: {error_message(response)}")
        return response.json()

    # --- What the commands use --------------------------------------------------------------------

    def account(self) -> dict:
        return self.json("GET", "/account/")

    def upload(self, path: Path, name: str, key: str) -> dict:
        """Upload one photo (the same `key` never makes a second copy); Rejected with the server's reason."""
        with path.open("rb") as handle:
            response = self.request("POST", "/photos/", files={"file": (name, handle)},
                                    headers={"Idempotency-Key": key}, rewind=lambda: handle.seek(0))
        if response.status_code in (400, 413, 415):
            raise Rejected(error_message(response))
        if response.status_code >= 400:
            raise HueError(f"Uploading {name}: {error_message(response)}")
        return response.json()

    def photo(self, photo_id: str) -> dict:
        return self.json("GET", f"/photos/{photo_id}/")

    def colorization(self, job_id: str) -> dict | None:
        response = self.request("GET", f"/colorizations/{job_id}/")
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise HueError(error_message(response))
        return response.json()

    def finished_since(self, moment: str) -> Iterator[dict]:
        """Every colorization that ended after `moment` (ISO 8601), oldest first."""
        page = self.json("GET", "/colorizations/", params={"finished_after": moment, "page_size": 200})
        while True:
            yield from page["results"]
            if not page.get("next"):
                return
            page = self.json("GET", page["next"])

    def download(self, url: str, destination: Path) -> int:
        """Stream a result to `destination` (written beside it, then renamed: never half a file).
        A transfer cut half-way starts again, within `patience`."""
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(f".{destination.name}.part")
        deadline = time.monotonic() + self.patience
        while True:
            response = self.request("GET", url, stream=True)
            try:
                with response:
                    if response.status_code >= 400:
                        raise Rejected(error_message(response))
                    size = 0
                    with partial.open("wb") as handle:
                        for chunk in response.iter_content(256 * 1024):
                            handle.write(chunk)
                            size += len(chunk)
                        handle.flush()
                        os.fsync(handle.fileno())
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
                if time.monotonic() > deadline:
                    raise HueError(f"Gave up downloading {destination.name}: {exc}") from None
                self.say(f"download of {destination.name} cut off; starting it again")
                self.sleep(1)
                continue
            os.replace(partial, destination)
            return size
