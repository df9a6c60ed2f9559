"""PAN fingerprints: HMAC-SHA256 under their own key, and no plain hash of a PAN anywhere in
the code."""

from __future__ import annotations

import ast
import base64
import hashlib
import hmac
import secrets
from pathlib import Path

import pytest

from core.crypto import vault

ROOT = Path(__file__).resolve().parents[2]
PAN = "4000000000000010"


def test_fingerprint_is_hmac_sha256_of_the_pan_under_the_fingerprint_key(settings):
    key = base64.b64decode(settings.PAN_FINGERPRINT_KEY)
    assert vault.pan_fingerprint(PAN) == hmac.new(key, PAN.encode(), hashlib.sha256).hexdigest()
    assert vault.pan_fingerprint(PAN) != hashlib.sha256(PAN.encode()).hexdigest()


def test_the_same_card_written_differently_has_one_fingerprint():
    assert vault.pan_fingerprint("4000 0000 0000 0010") == vault.pan_fingerprint(PAN)
    assert vault.pan_fingerprint("4000-0000-0000-0010") == vault.pan_fingerprint(PAN)


def test_another_fingerprint_key_gives_another_fingerprint(settings):
    before = vault.pan_fingerprint(PAN)
    settings.PAN_FINGERPRINT_KEY = base64.b64encode(secrets.token_bytes(32)).decode()
    assert vault.pan_fingerprint(PAN) != before


@pytest.mark.parametrize("key", ["", base64.b64encode(b"short").decode(), "not base64!"])
def test_a_weak_or_missing_fingerprint_key_is_refused(settings, key):
    settings.PAN_FINGERPRINT_KEY = key
    with pytest.raises(vault.VaultError, match="PAN_FINGERPRINT_KEY"):
        vault.pan_fingerprint(PAN)


def test_the_fingerprint_key_differs_from_every_encryption_key(settings):
    settings.PAN_FINGERPRINT_KEY = next(iter(settings.ENCRYPTION_KEYS.values()))
    assert "PAN_FINGERPRINT_KEY must differ from every encryption key" in \
        vault.configuration_problems()


_HASHES = {"md5", "sha1", "sha224", "sha256", "sha384", "sha512", "blake2b", "blake2s",
           "sha3_256", "sha3_512", "new"}


def _source_files():
    for path in ROOT.rglob("*.py"):
        parts = set(path.relative_to(ROOT).parts)
        if parts & {".venv", "var", "node_modules", "tests", "sandbox"}:
            continue
        yield path


def _names_in(node: ast.AST) -> set[str]:
    names = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            names.add(child.id.lower())
        elif isinstance(child, ast.Attribute):
            names.add(child.attr.lower())
    return names


def plain_pan_hashes(source: str) -> list[int]:
    """Lines calling hashlib.<algorithm>(...) on something named like a PAN or card number:
    a plain hash, brute-forceable over the billion or so PANs of one BIN."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in _HASHES and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "hashlib"):
            continue
        mentioned = set().union(set(), *(_names_in(arg) for arg in node.args))
        if any("pan" in name.split("_") or "card" in name for name in mentioned):
            lines.append(node.lineno)
    return lines


def test_the_scan_finds_a_plain_hash_of_a_pan():
    assert plain_pan_hashes("import hashlib\nhashlib.sha256(card.pan.encode()).hexdigest()") == [2]
    assert plain_pan_hashes("hmac.new(key, pan.encode(), hashlib.sha256)") == []


def test_no_module_hashes_a_pan_without_a_key():
    offenders, scanned = [], 0
    for path in _source_files():
        scanned += 1
        offenders += [f"{path.relative_to(ROOT)}:{line}"
                      for line in plain_pan_hashes(path.read_text())]
    assert scanned > 20
    assert offenders == []
