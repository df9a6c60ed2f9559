"""Fill unset key settings from the generated dev key file (dev and test modes only)."""

from __future__ import annotations

import json
import os

from core import dev_keys


def apply(namespace: dict) -> None:
    """Set every key setting the environment left empty from var/dev-keys.json."""
    keys = dev_keys.load(namespace["DEV_KEYS_FILE"])
    defaults = {
        "ISSUER_API_KEY": keys["issuer_api_key"],
        "TELCO_API_KEY": keys["issuer_api_key"],  # the sandbox telco shares the issuer's key
        "GATEWAY_API_KEY": keys["gateway_api_key"],  # the SMS gateway's bearer key
        "MPESA_API_KEY": keys["mpesa_api_key"],
        "SCREENING_API_KEY": keys["screening_api_key"],
        "TOKEN_SERVICE_MERCHANT_ID": keys["merchant_id"],
        "TOKEN_SERVICE_KEY_ID": keys["token_service_key_id"],
        "TOKEN_SERVICE_SHARED_SECRET": keys["token_service_shared_secret"],
        "TOKEN_SERVICE_JWE_PUBLIC_KEY": keys["token_service_jwe_public_pem"],
        "TOKEN_SERVICE_WEBHOOK_SECRETS": [keys["webhook_secret"]],
        "PAN_FINGERPRINT_KEY": keys["fingerprint_key"],
        "ENCRYPTION_KEYS": keys["encryption_keys"],
        "ENCRYPTION_ACTIVE_KEY_ID": keys["encryption_active_key"],
        "OTP_HASH_KEY": keys["otp_key"],
        "JWT_PUBLIC_KEYS": {keys["jwt_kid"]: keys["jwt_public_pem"]},
    }
    for name, value in defaults.items():
        if not namespace.get(name) and not os.environ.get(name):
            namespace[name] = value
    if not namespace.get("PUSH_SERVICE_ACCOUNT") and not os.environ.get("PUSH_SERVICE_ACCOUNT"):
        # The sandbox plays Google's token endpoint beside the push gateway it plays.
        namespace["PUSH_SERVICE_ACCOUNT"] = {
            **keys["push_service_account"],
            "token_uri": namespace["PUSH_GATEWAY_BASE_URL"].rstrip("/") + "/token",
        }
    if not os.environ.get("SECRET_KEY"):
        namespace["SECRET_KEY"] = keys["secret_key"]
    else:
        namespace["SECRET_KEY"] = os.environ["SECRET_KEY"]
    # The dev signing key lets `mint_token` act as the wallet app's identity provider.
    namespace["JWT_DEV_SIGNING_KEY"] = keys["jwt_private_pem"]
    namespace["JWT_DEV_SIGNING_KID"] = keys["jwt_kid"]
    if isinstance(namespace.get("ENCRYPTION_KEYS"), str):
        namespace["ENCRYPTION_KEYS"] = json.loads(namespace["ENCRYPTION_KEYS"])
