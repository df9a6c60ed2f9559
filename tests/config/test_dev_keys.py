"""The dev key file: generated once, shared by every process, and upgraded in place when a
newer version of the code needs a key an older file lacks."""

from __future__ import annotations

import json
import stat
from concurrent.futures import ThreadPoolExecutor

import pytest

from core import dev_keys

NEW_KEYS = ("mpesa_api_key", "screening_api_key", "push_service_account",
            "push_service_account_public_pem")


@pytest.fixture(scope="module")
def generated():
    return dev_keys.generate()


@pytest.fixture
def old_file(tmp_path, generated):
    """A key file as written before the Visa Direct and push service-account keys existed."""
    path = tmp_path / "dev-keys.json"
    old = {name: value for name, value in generated.items() if name not in NEW_KEYS}
    path.write_text(json.dumps(old))
    path.chmod(0o600)
    return path, old


def test_a_fresh_file_has_the_visa_direct_keys(tmp_path):
    keys = dev_keys.load(tmp_path / "dev-keys.json")

    assert keys["mpesa_api_key"].startswith("mpesa_")
    assert keys["screening_api_key"].startswith("scr_")


def test_an_old_file_still_loads_and_gains_the_missing_keys(old_file):
    path, old = old_file

    keys = dev_keys.load(path)

    assert all(keys[name] for name in NEW_KEYS)
    assert {name: keys[name] for name in old} == old


def test_the_added_keys_are_written_back_so_every_process_agrees(old_file):
    path, _ = old_file

    first = dev_keys.load(path)
    second = dev_keys.load(path)

    assert json.loads(path.read_text()) == first == second
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_processes_upgrading_at_once_end_up_with_the_same_keys(old_file):
    path, _ = old_file

    with ThreadPoolExecutor(max_workers=4) as pool:
        loaded = list(pool.map(lambda _: dev_keys.load(path), range(4)))

    assert all(keys == loaded[0] for keys in loaded)
    assert json.loads(path.read_text()) == loaded[0]


def test_load_knows_every_key_that_generate_writes(generated):
    # load() checks a file against this list; a key missing from it is never added.
    assert dev_keys._KEY_NAMES == set(generated)


def test_a_key_file_from_before_the_push_service_account_gains_it_and_keeps_the_rest(tmp_path):
    path = tmp_path / "dev-keys.json"
    old = {name: value for name, value in dev_keys.generate().items()
           if not name.startswith("push_service_account")}
    path.write_text(json.dumps(old))

    keys = dev_keys.load(path)

    assert keys["push_service_account"]["type"] == "service_account"
    assert "BEGIN PUBLIC KEY" in keys["push_service_account_public_pem"]
    assert {name: keys[name] for name in old} == old  # nothing that existed changes
    assert json.loads(path.read_text()) == keys  # written back for the other processes
