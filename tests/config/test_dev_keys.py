"""The dev key file: created once, and upgraded once when an entry is added later."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from config import dev_keys


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


def test_processes_upgrading_at_once_all_read_the_same_new_keys(tmp_path):
    path = tmp_path / "dev-keys.json"
    path.write_text(json.dumps({name: value for name, value in dev_keys.generate().items()
                                if not name.startswith("push_service_account")}))

    with ThreadPoolExecutor(max_workers=4) as pool:
        loaded = list(pool.map(lambda _: dev_keys.load(path), range(4)))

    key_ids = {keys["push_service_account"]["private_key_id"] for keys in loaded}
    assert len(key_ids) == 1
    assert json.loads(path.read_text())["push_service_account"]["private_key_id"] in key_ids
