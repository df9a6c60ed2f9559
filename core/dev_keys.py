"""Development and test key material, generated on first use into one JSON file.

Only the dev, test and sandbox settings read this file; production settings never
do (they refuse to start without real keys from the environment). The file is
created atomically with a hard link, so several processes starting at once
(web, worker, sandbox) all end up reading the same keys. A file written by an older
version lacks the keys added since; `load` adds them once, under a lock, and writes the
file back, so every process again reads the same keys.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import secrets
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "var" / "dev-keys.json"


def _rsa_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_pem, public_pem


def _b64_secret(size: int = 32) -> str:
    return base64.b64encode(secrets.token_bytes(size)).decode()


# The push gateway's FCM project, and the sandbox's token endpoint (dev and test settings
# aim token_uri at PUSH_GATEWAY_BASE_URL + "/token" whatever this file says).
PUSH_PROJECT = "mpesa-wallet-dev"
PUSH_TOKEN_URI = "http://127.0.0.1:8900/push/token"


def _push_service_account() -> tuple[dict, str]:
    """A Google service-account key file, as the Cloud console downloads it, and its
    public key (the sandbox's token endpoint verifies assertions with it)."""
    private_pem, public_pem = _rsa_pair()
    email = f"push-sender@{PUSH_PROJECT}.iam.gserviceaccount.com"
    account = {
        "type": "service_account",
        "project_id": PUSH_PROJECT,
        "private_key_id": secrets.token_hex(20),
        "private_key": private_pem,
        "client_email": email,
        "client_id": str(secrets.randbelow(10**21)).zfill(21),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": PUSH_TOKEN_URI,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": f"https://www.googleapis.com/robot/v1/metadata/x509/{email}",
        "universe_domain": "googleapis.com",
    }
    return account, public_pem


def generate() -> dict:
    jwt_private, jwt_public = _rsa_pair()
    jwe_private, jwe_public = _rsa_pair()
    push_account, push_public = _push_service_account()
    return {
        "_comment": "DEVELOPMENT AND TEST KEYS ONLY. Never used by production settings.",
        "merchant_id": "mpesa_wallet_dev",
        "token_service_key_id": "dev-" + secrets.token_hex(4),
        "token_service_shared_secret": _b64_secret(),
        "token_service_jwe_private_pem": jwe_private,
        "token_service_jwe_public_pem": jwe_public,
        "webhook_secret": "whsec_" + secrets.token_hex(24),
        "issuer_api_key": "iss_" + secrets.token_hex(16),
        "gateway_api_key": "gw_" + secrets.token_hex(16),
        "mpesa_api_key": "mpesa_" + secrets.token_hex(16),
        "screening_api_key": "scr_" + secrets.token_hex(16),
        "jwt_kid": "dev-jwt-1",
        "jwt_private_pem": jwt_private,
        "jwt_public_pem": jwt_public,
        "encryption_keys": {"dev-k1": _b64_secret()},
        "encryption_active_key": "dev-k1",
        "fingerprint_key": _b64_secret(),
        "otp_key": _b64_secret(),
        "secret_key": secrets.token_urlsafe(50),
        "push_service_account": push_account,
        "push_service_account_public_pem": push_public,
    }


def load(path: Path | str | None = None) -> dict:
    """Return the dev keys, creating the file the first time it is asked for."""
    path = Path(path or os.environ.get("DEV_KEYS_FILE") or DEFAULT_PATH)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".dev-keys-")
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(generate(), fh, indent=2)
            os.chmod(tmp, 0o600)
            try:
                os.link(tmp, path)  # fails if another process won the race: read theirs
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)
    with open(path) as fh:
        keys = json.load(fh)
    if not _KEY_NAMES <= keys.keys():
        keys = _add_missing_keys(path)
    return keys


# Every name generate() writes, known without generating RSA keys on each load.
_KEY_NAMES = frozenset(
    {
        "_comment",
        "merchant_id",
        "token_service_key_id",
        "token_service_shared_secret",
        "token_service_jwe_private_pem",
        "token_service_jwe_public_pem",
        "webhook_secret",
        "issuer_api_key",
        "gateway_api_key",
        "mpesa_api_key",
        "screening_api_key",
        "push_service_account",
        "push_service_account_public_pem",
        "jwt_kid",
        "jwt_private_pem",
        "jwt_public_pem",
        "encryption_keys",
        "encryption_active_key",
        "fingerprint_key",
        "otp_key",
        "secret_key",
    }
)


def _add_missing_keys(path: Path) -> dict:
    """Add the keys an older file lacks, keeping every key it has; return the result."""
    # The lock makes one process generate and the others read what it wrote; the key
    # file itself is replaced (a new inode), so the lock lives in a file of its own.
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with open(path) as fh:
            keys = json.load(fh)
        missing = {name: value for name, value in generate().items() if name not in keys}
        if not missing:
            return keys
        keys.update(missing)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".dev-keys-")
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(keys, fh, indent=2)
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
        return keys
