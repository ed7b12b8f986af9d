"""Encryption of mail server passwords at rest.

The key never lives in the database: it comes from ``MAILROOM_CREDENTIAL_KEYS`` (comma-separated
Fernet keys, the first encrypts, all decrypt, so keys can be rotated) or, when that is unset, from
a key file generated once in the data directory with owner-only permissions. The scale-out
shape (``DATABASE_URL`` or ``CELERY_BROKER_URL`` set) requires the variable.
"""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from mailroom import conf


class CredentialError(Exception):
    """A stored secret cannot be decrypted with the configured keys."""


@cache
def _fernet() -> MultiFernet:
    keys = conf.env_list("MAILROOM_CREDENTIAL_KEYS")
    if not keys and conf.is_shared():
        # Every machine must decrypt what another stored: no key file of one machine's own.
        conf.shared_secret("MAILROOM_CREDENTIAL_KEYS")  # raises, naming the variable
    if not keys:
        path = conf.DATA_DIR / "credentials.key"
        if not path.exists():
            conf.DATA_DIR.mkdir(parents=True, exist_ok=True)
            path.write_bytes(Fernet.generate_key())
            path.chmod(0o600)
        keys = [path.read_text().strip()]
    return MultiFernet([Fernet(key.encode()) for key in keys])


def encrypt_secret(plain: str) -> str:
    """Encrypt ``plain`` for storage; an empty secret stays empty."""
    if not plain:
        return ""
    return _fernet().encrypt(plain.encode()).decode()


def decrypt_secret(token: str) -> str:
    """Decrypt a value written by :func:`encrypt_secret`."""
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise CredentialError(
            "the stored password cannot be decrypted with the configured keys; "
            "enter the password again or restore MAILROOM_CREDENTIAL_KEYS"
        ) from None


def rotate_secret(token: str) -> str:
    """``token`` encrypted again with the first key (after a new key was put first in
    ``MAILROOM_CREDENTIAL_KEYS``); raises :class:`CredentialError` if no key decrypts it."""
    if not token:
        return ""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise CredentialError("no key of MAILROOM_CREDENTIAL_KEYS decrypts it") from None


# How long a password sealed into a form stays usable.
SEAL_SECONDS = 3600


def seal_secret(plain: str) -> str:
    """Encrypt ``plain`` so a form can carry it back without the page ever showing it.

    Used when a connection check succeeded: the password input is never filled back in, so the
    checked password travels as this token to the following Save. It expires after an hour.
    """
    return encrypt_secret(plain)


def unseal_secret(token: str) -> str:
    """The password sealed by :func:`seal_secret`, or "" when the token is missing, forged or
    older than :data:`SEAL_SECONDS`."""
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode(), ttl=SEAL_SECONDS).decode()
    except (InvalidToken, UnicodeError):
        return ""
