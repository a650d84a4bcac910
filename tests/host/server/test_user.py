"""Users, settings and user data (COMPAT §1.1 Users, §1.2): ComfyUI's shapes and status codes, and no path ever
leaving the user's folder."""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from host.registry import Registry
from host.server import routes_user, safe_paths, users
from host.server.app import ServerConfig, build_app

pytestmark = pytest.mark.timeout(60)

MakeClient = Callable[..., Any]


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    return tmp_path / "user"


@pytest.fixture
async def make_client(registry: Registry, paths, user_dir: Path) -> AsyncIterator[MakeClient]:
    clients: list[TestClient] = []

    async def make(multi_user: bool = False, install: bool = False) -> TestClient:
        config = ServerConfig(user_dir=user_dir, output_dir=paths.output_dir, temp_dir=paths.temp_dir,
                              extra={"multi_user": multi_user})
        app = build_app(registry, config, extra_routes=routes_user.routes())
        if install:
            users.install(app, config)
        client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def client(make_client: MakeClient) -> TestClient:
    return await make_client()


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A canary next to the user folder that no request may read, change or remove."""
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    return secret


async def status(resp: Any) -> int:
    await resp.read()
    return resp.status


# -- users -----------------------------------------------------------------------------------------------------


async def test_single_user_reports_migrated_once_the_default_folder_exists(client: TestClient, user_dir: Path) -> None:
    assert await (await client.get("/users")).json() == {"storage": "server", "migrated": False}
    assert await (await client.get("/api/settings")).json() == {}
    assert (user_dir / "default").is_dir()
    assert await (await client.get("/api/users")).json() == {"storage": "server", "migrated": True}


async def test_single_user_ignores_the_header_and_refuses_new_users(client: TestClient, user_dir: Path) -> None:
    await client.post("/settings/a", json=1, headers={"Comfy-User": "someone"})
    assert json.loads((user_dir / "default" / "comfy.settings.json").read_text()) == {"a": 1}
    resp = await client.post("/users", json={"username": "bob"})
    assert resp.status == 400 and "error" in await resp.json()


async def test_multi_user_create_and_list(make_client: MakeClient, user_dir: Path) -> None:
    client = await make_client(multi_user=True)
    assert await (await client.get("/api/users")).json() == {"storage": "server", "users": {}}
    resp = await client.post("/api/users", json={"username": "  Ann Lee!  "})
    assert resp.status == 200
    user_id = await resp.json()
    assert re.fullmatch(r"Ann-Lee-_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", user_id)
    assert await (await client.get("/users")).json() == {"storage": "server", "users": {user_id: "Ann Lee!"}}
    assert json.loads((user_dir / "users.json").read_text()) == {user_id: "Ann Lee!"}
    resp = await client.post(f"/userdata/{user_id}%2Fnot-here.json", data=b"x", headers={"Comfy-User": user_id})
    assert await resp.json() == f"{user_id}/not-here.json"  # a subfolder of the user's own folder
    assert (user_dir / user_id / user_id / "not-here.json").read_bytes() == b"x"


@pytest.mark.parametrize("body", [{"username": "Ann Lee!"}, {"username": "   "}, {"username": 5}, {},
                                  ["x"], "not json", {"username": "__system"}])
async def test_post_users_rejects_duplicate_and_invalid(make_client: MakeClient, body: Any) -> None:
    client = await make_client(multi_user=True)
    await client.post("/users", json={"username": "Ann Lee!"})
    resp = await client.post("/users", data=body.encode() if isinstance(body, str) else json.dumps(body))
    assert resp.status == 400 and isinstance((await resp.json())["error"], str)
    assert len((await (await client.get("/users")).json())["users"]) == 1


async def test_multi_user_unknown_or_system_users_are_refused(make_client: MakeClient, user_dir: Path) -> None:
    user_dir.mkdir()
    (user_dir / "users.json").write_text(json.dumps({"__system": "sys", "ann_1": "ann", "../up": "evil"}))
    client = await make_client(multi_user=True)
    for name in (None, "", "nobody", "__system", "../up"):
        headers = {} if name is None else {"Comfy-User": name}
        assert await status(await client.get("/settings", headers=headers)) == 401
        assert await status(await client.post("/settings/x", json=1, headers=headers)) == 401
        assert await status(await client.get("/userdata?dir=w", headers=headers)) == 403
        assert await status(await client.get("/v2/userdata", headers=headers)) == 403
        assert await status(await client.post("/userdata/a.json", data=b"1", headers=headers)) == 403
    assert sorted(p.name for p in user_dir.iterdir()) == ["users.json"]
    assert await (await client.get("/settings", headers={"Comfy-User": "ann_1"})).json() == {}


async def test_multi_user_folders_are_separate(make_client: MakeClient) -> None:
    client = await make_client(multi_user=True, install=True)
    ann = await (await client.post("/users", json={"username": "ann"})).json()
    bob = await (await client.post("/users", json={"username": "bob"})).json()
    assert client.app is not None and set(client.app[users.USERS].users()) == {ann, bob}  # the cached store
    await client.post("/userdata/workflows%2Fa.json", data=b"ann's", headers={"Comfy-User": ann})
    await client.post("/settings/theme", json="dark", headers={"Comfy-User": ann})
    assert await (await client.get("/v2/userdata", headers={"Comfy-User": bob})).json() == []
    assert await status(await client.get("/userdata/workflows%2Fa.json", headers={"Comfy-User": bob})) == 404
    assert await (await client.get("/settings/theme", headers={"Comfy-User": bob})).json() is None
    resp = await client.get(f"/userdata/..%2F{ann}%2Fworkflows%2Fa.json", headers={"Comfy-User": bob})
    assert resp.status == 403


# -- settings --------------------------------------------------------------------------------------------------


async def test_settings_store_merge_and_read_back(client: TestClient, user_dir: Path) -> None:
    assert await (await client.get("/settings/Comfy.Locale")).json() is None
    assert await status(await client.post("/api/settings", json={"a": 1, "b": {"c": [1, 2]}})) == 200
    assert await status(await client.post("/api/settings", data=json.dumps({"a": 2, "d": None}))) == 200
    for value in (True, "text", 3.5, [1, "x"], {"nested": {}}, None):
        assert await status(await client.post("/api/settings/Comfy.Value", data=json.dumps(value))) == 200
        assert await (await client.get("/api/settings/Comfy.Value")).json() == value
    expected = {"a": 2, "b": {"c": [1, 2]}, "d": None, "Comfy.Value": None}
    assert await (await client.get("/settings")).json() == expected
    text = (user_dir / "default" / "comfy.settings.json").read_text()
    assert json.loads(text) == expected and "\n    " in text  # indented, as ComfyUI writes it


@pytest.mark.parametrize(("path", "body"), [("/settings", b"[1, 2]"), ("/settings", b"7"), ("/settings", b"{bad"),
                                            ("/settings", b""), ("/settings/x", b"{bad"), ("/settings/x", b"")])
async def test_settings_bad_bodies_are_400(client: TestClient, path: str, body: bytes) -> None:
    await client.post("/settings", json={"keep": 1})
    assert await status(await client.post(path, data=body)) == 400
    assert await (await client.get("/settings")).json() == {"keep": 1}


async def test_unreadable_settings_read_as_empty(client: TestClient, user_dir: Path) -> None:
    (user_dir / "default").mkdir(parents=True)
    (user_dir / "default" / "comfy.settings.json").write_text("{ not json")
    assert await (await client.get("/settings")).json() == {}
    assert await (await client.get("/settings/x")).json() is None
    assert await status(await client.post("/settings/x", json=1)) == 200
    assert await (await client.get("/settings")).json() == {"x": 1}


async def test_settings_file_blocked_by_a_folder_is_400(client: TestClient) -> None:
    await client.post("/userdata/comfy.settings.json%2Finner", data=b"1")
    assert await (await client.get("/settings")).json() == {}
    assert await status(await client.post("/settings/x", json=1)) == 400


# -- listing ---------------------------------------------------------------------------------------------------


@pytest.fixture
def tree(user_dir: Path) -> Path:
    root = user_dir / "default"
    for rel, data in {"workflows/b.json": "bb", "workflows/A.json": "a", "workflows/sub/c.json": "ccc",
                      "workflows/.hidden": "h", "top.txt": "t"}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(data)
    return root


async def test_userdata_listing_shapes(client: TestClient, tree: Path) -> None:
    assert await (await client.get("/userdata?dir=workflows")).json() == ["A.json", "b.json"]
    assert await (await client.get("/api/userdata?dir=workflows&recurse=true")).json() == [
        "A.json", "b.json", "sub/c.json"]
    split = await (await client.get("/userdata?dir=workflows&recurse=true&split=true")).json()
    assert split == [["A.json", "A.json"], ["b.json", "b.json"], ["sub/c.json", "sub", "c.json"]]
    info = await (await client.get("/userdata?dir=workflows&recurse=true&full_info=true&split=true")).json()
    assert [(i["path"], i["size"]) for i in info] == [("A.json", 1), ("b.json", 2), ("sub/c.json", 3)]
    assert all(set(i) == {"path", "size", "modified", "created"} for i in info)
    assert await (await client.get("/userdata?dir=workflows%2Fsub")).json() == ["c.json"]
    assert await (await client.get("/userdata?dir=top.txt")).json() == []


@pytest.mark.parametrize(("query", "code"), [("", 400), ("?dir=", 400), ("?dir=missing", 404),
                                             ("?dir=..", 403), ("?dir=../..", 403), ("?dir=/etc", 403),
                                             ("?dir=%252e%252e", 403), ("?dir=workflows/../../x", 403)])
async def test_userdata_listing_errors(client: TestClient, tree: Path, query: str, code: int) -> None:
    assert await status(await client.get("/userdata" + query)) == code


async def test_userdata_v2_lists_directories_first(client: TestClient, tree: Path) -> None:
    items = await (await client.get("/api/v2/userdata?path=workflows")).json()
    assert [(i["name"], i["path"], i["type"]) for i in items] == [
        ("sub", "workflows/sub", "directory"), (".hidden", "workflows/.hidden", "file"),
        ("A.json", "workflows/A.json", "file"), ("b.json", "workflows/b.json", "file"),
        ("c.json", "workflows/sub/c.json", "file")]
    assert "size" not in items[0] and items[3]["size"] == 2 and isinstance(items[3]["modified"], float)
    everything = await (await client.get("/v2/userdata")).json()
    assert everything[0]["type"] == "directory" and {"top.txt", "c.json"} <= {i["name"] for i in everything}
    assert await (await client.get("/v2/userdata?path=workflows%252Fsub")).json() == [
        {"name": "c.json", "path": "workflows/sub/c.json", "type": "file", "size": 3,
         "modified": (tree / "workflows/sub/c.json").stat().st_mtime}]


async def test_userdata_v2_for_a_new_user_is_empty(client: TestClient) -> None:
    assert await (await client.get("/v2/userdata")).json() == []


@pytest.mark.parametrize(("query", "code"), [("?path=missing", 404), ("?path=top.txt", 400), ("?path=..", 400),
                                             ("?path=%2Fetc", 400), ("?path=%252e%252e%252f", 400),
                                             ("?path=workflows%2F..%2F..", 400)])
async def test_userdata_v2_errors(client: TestClient, tree: Path, query: str, code: int) -> None:
    assert await status(await client.get("/v2/userdata" + query)) == code


async def test_listings_skip_symlinks_that_leave_the_folder(client: TestClient, tree: Path, outside: Path) -> None:
    os.symlink(outside, tree / "workflows" / "link.json")
    os.symlink(outside.parent, tree / "workflows" / "linkdir")
    os.symlink(tree / "top.txt", tree / "workflows" / "inner.txt")
    assert await (await client.get("/userdata?dir=workflows&recurse=true")).json() == [
        "A.json", "b.json", "inner.txt", "sub/c.json"]
    names = {i["name"] for i in await (await client.get("/v2/userdata?path=workflows")).json()}
    assert "link.json" not in names and "linkdir" not in names and "inner.txt" in names
    assert await status(await client.get("/userdata?dir=workflows%2Flinkdir")) == 403
    assert await status(await client.get("/v2/userdata?path=workflows%2Flinkdir")) == 400


# -- files -----------------------------------------------------------------------------------------------------


async def test_post_get_delete_a_file(client: TestClient, user_dir: Path) -> None:
    raw = b'{"nodes": []}\x00\xff'
    resp = await client.post("/userdata/workflows%2Fnew%2Fw.json", data=raw)
    assert resp.status == 200 and await resp.json() == "workflows/new/w.json"
    assert (user_dir / "default" / "workflows" / "new" / "w.json").read_bytes() == raw
    resp = await client.get("/api/userdata/workflows%2Fnew%2Fw.json")
    assert resp.status == 200 and await resp.read() == raw
    assert await status(await client.delete("/userdata/workflows%2Fnew%2Fw.json")) == 204
    assert not (user_dir / "default" / "workflows" / "new" / "w.json").exists()
    assert await status(await client.get("/userdata/workflows%2Fnew%2Fw.json")) == 404
    assert await status(await client.delete("/userdata/workflows%2Fnew%2Fw.json")) == 404


async def test_post_overwrite_and_full_info(client: TestClient) -> None:
    assert await status(await client.post("/userdata/a.json", data=b"1")) == 200
    assert await status(await client.post("/userdata/a.json?overwrite=false", data=b"2")) == 409
    assert await (await client.get("/userdata/a.json")).read() == b"1"
    resp = await client.post("/userdata/a.json?overwrite=true&full_info=true", data=b"333")
    info = await resp.json()
    assert info["path"] == "a.json" and info["size"] == 3 and set(info) == {"path", "size", "modified", "created"}
    assert await (await client.get("/userdata/a.json")).read() == b"333"
    assert await status(await client.post("/userdata/b.json?overwrite=false", data=b"")) == 200


async def test_directories_are_not_files(client: TestClient, tree: Path) -> None:
    assert await status(await client.get("/userdata/workflows")) == 404
    assert await status(await client.delete("/userdata/workflows")) == 404
    assert await status(await client.post("/userdata/workflows", data=b"x")) == 400
    assert await status(await client.post("/userdata/top.txt%2Fx.json", data=b"x")) == 400
    assert await status(await client.post("/userdata/%252E", data=b"x")) == 400
    assert await status(await client.get("/userdata/%252E")) == 404
    assert (tree / "workflows" / "A.json").read_text() == "a"


TRAVERSALS = ["..%2Fsecret.txt", "..%2F..%2Fsecret.txt", "%2E%2E%2Fsecret.txt", "%252E%252E%252Fsecret.txt",
              "workflows%2F..%2F..%2Fsecret.txt", "%2Fetc%2Fpasswd", "%2F%2Fetc%2Fpasswd", "a%00b",
              "link%2Fsecret.txt", "link%2Fnew.json", "linkfile"]


@pytest.mark.parametrize("name", TRAVERSALS)
async def test_file_routes_never_leave_the_folder(client: TestClient, user_dir: Path, outside: Path,
                                                  name: str) -> None:
    root = user_dir / "default"
    root.mkdir(parents=True)
    os.symlink(outside.parent, root / "link")
    os.symlink(outside, root / "linkfile")
    (root / "ok.json").write_text("ok")
    before = sorted(p.name for p in outside.parent.iterdir())
    assert await status(await client.get(f"/userdata/{name}")) in (400, 403)
    assert await status(await client.post(f"/userdata/{name}", data=b"pwned")) in (400, 403)
    assert await status(await client.delete(f"/userdata/{name}")) in (400, 403)
    assert await status(await client.post(f"/userdata/{name}/move/x.json")) in (400, 403)
    assert await status(await client.post(f"/userdata/ok.json/move/{name}")) in (400, 403)
    assert outside.read_text() == "secret" and sorted(p.name for p in outside.parent.iterdir()) == before
    assert (root / "ok.json").read_text() == "ok"


# -- move ------------------------------------------------------------------------------------------------------


async def test_move(client: TestClient, tree: Path) -> None:
    resp = await client.post("/userdata/workflows%2FA.json/move/archive%2FA2.json")
    assert resp.status == 200 and await resp.json() == "archive/A2.json"
    assert (tree / "archive" / "A2.json").read_text() == "a" and not (tree / "workflows" / "A.json").exists()
    resp = await client.post("/api/userdata/archive%2FA2.json/move/workflows%2Fb.json?overwrite=false")
    assert resp.status == 409 and (tree / "archive" / "A2.json").exists()
    resp = await client.post("/userdata/archive%2FA2.json/move/workflows%2Fb.json?full_info=true")
    info = await resp.json()
    assert info["path"] == "workflows/b.json" and info["size"] == 1 and "created" in info
    assert (tree / "workflows" / "b.json").read_text() == "a"
    assert await (await client.post("/userdata/top.txt/move/top.txt")).json() == "top.txt"
    assert (tree / "top.txt").read_text() == "t"


@pytest.mark.parametrize(("source", "dest", "code"), [("missing.json", "x.json", 404), ("top.txt", "workflows", 409),
                                                      ("workflows", "workflows%2Fsub%2Finner", 400),
                                                      ("top.txt", "%252E", 400)])
async def test_move_errors(client: TestClient, tree: Path, source: str, dest: str, code: int) -> None:
    assert await status(await client.post(f"/userdata/{source}/move/{dest}")) == code
    assert (tree / "top.txt").read_text() == "t" and (tree / "workflows" / "sub" / "c.json").exists()


# -- the frontend ----------------------------------------------------------------------------------------------


async def test_frontend_sequence(client: TestClient, user_dir: Path) -> None:
    headers = {"Comfy-User": ""}  # the frontend always sends it; empty in single-user mode
    assert await (await client.get("/api/users", headers=headers)).json() == {"storage": "server", "migrated": False}
    assert await (await client.get("/api/settings", headers=headers)).json() == {}
    assert await status(await client.post("/api/settings/Comfy.TutorialCompleted", json=True, headers=headers)) == 200
    assert await (await client.get("/api/settings", headers=headers)).json() == {"Comfy.TutorialCompleted": True}
    assert await status(await client.get("/api/userdata?dir=workflows&recurse=true&split=false&full_info=true",
                                         headers=headers)) == 404
    workflow = json.dumps({"nodes": [], "links": [], "version": 0.4}).encode()
    resp = await client.post("/api/userdata/workflows%2Fx.json?overwrite=false&full_info=true", data=workflow,
                             headers=headers)
    assert resp.status == 200 and (await resp.json())["path"] == "workflows/x.json"
    listing = await (await client.get("/api/v2/userdata?path=workflows", headers=headers)).json()
    assert [(i["name"], i["path"], i["type"], i["size"]) for i in listing] == [
        ("x.json", "workflows/x.json", "file", len(workflow))]
    listed = await (await client.get("/api/userdata?dir=workflows&recurse=true&full_info=true", headers=headers)).json()
    assert [i["path"] for i in listed] == ["x.json"]
    resp = await client.post("/api/userdata/workflows%2Fx.json/move/workflows%2Fy.json?overwrite=false&full_info=true",
                             headers=headers)
    assert resp.status == 200 and (await resp.json())["path"] == "workflows/y.json"
    assert await (await client.get("/api/userdata/workflows%2Fy.json", headers=headers)).read() == workflow
    assert await status(await client.delete("/api/userdata/workflows%2Fy.json", headers=headers)) == 204
    assert await (await client.get("/api/v2/userdata?path=workflows", headers=headers)).json() == []
    assert await (await client.get("/api/users", headers=headers)).json() == {"storage": "server", "migrated": True}
    assert sorted(p.name for p in (user_dir / "default").iterdir()) == ["comfy.settings.json", "workflows"]


def test_store_is_a_plain_object_reading_nothing_until_asked(tmp_path: Path) -> None:
    store = users.UserStore(tmp_path / "u", multi_user=True)
    assert not (tmp_path / "u").exists()
    assert store.users() == {} and not (tmp_path / "u").exists()
    (tmp_path / "u").mkdir()
    (tmp_path / "u" / "users.json").write_text("[1]")
    assert users.UserStore(tmp_path / "u", multi_user=True).users() == {}
    assert users.sanitize("a b/c..d_e-f") == "a-b-c-d_e-f"
    with pytest.raises(users.UnknownUser):
        store.user_id(None)
    with pytest.raises(safe_paths.PathRefused):
        store.resolve("x", "../y")


async def test_written_files_get_ordinary_permissions(client: TestClient, user_dir: Path) -> None:
    await client.post("/userdata/a.json", data=b"1")
    await client.post("/settings/x", json=1)
    for path in (user_dir / "default" / "a.json", user_dir / "default" / "comfy.settings.json"):
        assert path.stat().st_mode & 0o777 == 0o644
    (user_dir / "default" / "a.json").chmod(0o600)
    await client.post("/userdata/a.json", data=b"2")
    assert (user_dir / "default" / "a.json").stat().st_mode & 0o777 == 0o600


async def test_deeply_nested_json_is_400(make_client: MakeClient) -> None:
    client = await make_client(multi_user=True)
    deep = b"[" * 100000
    assert await status(await client.post("/users", data=deep)) == 400
    assert await status(await client.post("/settings/x", data=deep, headers={"Comfy-User": ""})) == 401
    single = await make_client()
    assert await status(await single.post("/settings/x", data=deep)) == 400
    assert await status(await single.post("/settings", data=deep)) == 400
