"""The cache holds answers to prompts: its files are the owner's only (0600), in a directory the
gateway creates 0700, whatever the umask. A directory that already exists keeps its mode."""
import os
import stat

import pytest
import requests

from conftest import Gateway


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def chat(gw):
    r = requests.post(gw.base_url + "/v1/chat/completions",
                      json={"model": "mock-gpt", "messages": [{"role": "user", "content": "file modes"}]})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("umask", [0o022, 0o000], ids=["umask-022", "umask-000"])
def test_cache_files_are_owner_only(umask):
    gw = Gateway(preexec_fn=lambda: os.umask(umask))
    try:
        chat(gw)
        assert mode(gw.cache_dir) == 0o700
        for name in ("data.mdb", "lock.mdb"):
            assert mode(os.path.join(gw.cache_dir, name)) == 0o600, name
    finally:
        gw.close()


def test_an_existing_directory_keeps_its_mode_and_new_files_are_owner_only(tmp_path):
    shared = tmp_path / "shared-cache"
    shared.mkdir()
    os.chmod(shared, 0o750)
    gw = Gateway(cache_dir=str(shared))
    try:
        chat(gw)
        assert mode(shared) == 0o750
        assert mode(shared / "data.mdb") == 0o600
        assert mode(shared / "lock.mdb") == 0o600
    finally:
        gw.close()
