"""The hue client's own rules: where results go, what it sends again, how it waits (no server needed)."""

import json

import pytest
import requests

from hue_client import cli
from hue_client.api import Client, HueError


def response(status: int, body: dict | None = None, headers: dict | None = None) -> requests.Response:
    answer = requests.Response()
    answer.status_code = status
    answer._content = json.dumps(body or {}).encode()
    answer._content_consumed = True
    answer.headers.update(headers or {})
    return answer


class Script:
    """Answers a client's requests in turn, recording them and the waits between them."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls, self.waits = [], []

    def request(self, method, url, **kwargs):
        self.calls.append((method, url))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def scripted_client(script: Script, patience: float = 60) -> Client:
    client = Client("http://hue.test/", "hue_x", patience=patience, sleep=script.waits.append)
    client.session.request = script.request
    return client


def test_it_waits_as_long_as_retry_after_says_then_carries_on():
    script = Script(response(429, {"error": "Too many requests"}, {"Retry-After": "7"}), response(200, {"ok": 1}))

    assert scripted_client(script).json("GET", "/account/") == {"ok": 1}
    assert script.waits == [7.0]
    assert script.calls == [("GET", "http://hue.test/api/v1/account/")] * 2


def test_it_rides_out_a_network_cut_with_growing_waits():
    script = Script(requests.ConnectionError(), requests.ConnectionError(), response(200, {"ok": 1}))

    assert scripted_client(script).json("GET", "/account/") == {"ok": 1}
    assert script.waits == [1.0, 2.0]


def test_it_gives_up_once_its_patience_is_spent_saying_why():
    script = Script(response(503, headers={"Retry-After": "120"}))

    with pytest.raises(HueError, match="Gave up after 60 s: HTTP 503"):
        scripted_client(script, patience=60).json("GET", "/account/")


def test_a_refused_token_stops_it_with_the_servers_message():
    script = Script(response(401, {"error": "This API token is not valid: it was revoked"}))

    with pytest.raises(HueError, match="revoked"):
        scripted_client(script).account()


def test_without_a_server_or_token_it_says_where_to_give_them(monkeypatch, capsys):
    monkeypatch.delenv("HUE_URL", raising=False)
    monkeypatch.delenv("HUE_TOKEN", raising=False)

    assert cli.main(["status"]) == 2
    assert "HUE_URL" in capsys.readouterr().err
    assert cli.main(["--url", "http://hue.test", "status"]) == 2
    assert "HUE_TOKEN" in capsys.readouterr().err


def test_results_go_beside_their_relative_paths_and_clashing_names_keep_theirs():
    names = cli.result_names(["box/a.jpg", "box/a.tif", "b.jpeg", "c.png"], "png")

    assert names == {"box/a.jpg": "box/a.jpg.png", "box/a.tif": "box/a.tif.png", "b.jpeg": "b.png", "c.png": "c.png"}


def test_it_finds_photos_recursively_but_not_the_output_folder_hidden_files_or_other_files(tmp_path):
    for relative in ("a.jpg", "box/b.TIF", "box/deeper/c.png", "notes.txt", ".hidden.jpg", "out/a.png",
                     ".cache/d.jpg"):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(b"x")

    found = cli.find_photos(tmp_path, tmp_path / "out")

    assert [relative for relative, _ in found] == ["a.jpg", "box/b.TIF", "box/deeper/c.png"]
