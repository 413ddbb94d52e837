"""Strong customer authentication with a signed one-time token, and the RSA keys for it.

Wise answers an SCA-protected call with 403 and a one-time token in `x-2fa-approval`; the
client signs that token (ASCII) with the private key whose public half the user uploaded
to Wise (SHA-256, PKCS#1 v1.5) and resends the call with the token and `X-Signature`.
The same RSA primitives verify Wise's webhook signatures (`X-Signature-SHA256`).
"""

import base64
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

MIN_KEY_BITS = 2048


class InvalidKeyError(ValueError):
    """A PEM key that cannot be used, with a message for the form that took it."""


@dataclass(frozen=True)
class KeyPair:
    private_pem: str
    public_pem: str


def private_key_load(pem: str) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.strip().encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise InvalidKeyError(
            "Not an unencrypted PEM private key (it starts with -----BEGIN PRIVATE KEY-----)."
        ) from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise InvalidKeyError("Wise signs with RSA keys; this is another kind of key.")
    if key.key_size < MIN_KEY_BITS:
        raise InvalidKeyError(
            f"The key has {key.key_size} bits; Wise needs at least {MIN_KEY_BITS}."
        )
    return key


def public_key_load(pem: str) -> rsa.RSAPublicKey:
    try:
        key = serialization.load_pem_public_key(pem.strip().encode())
    except (ValueError, TypeError) as exc:
        raise InvalidKeyError(
            "Not a PEM public key (it starts with -----BEGIN PUBLIC KEY-----)."
        ) from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise InvalidKeyError("Wise signs with RSA keys; this is another kind of key.")
    return key


def one_time_token_sign(ott: str, private_key_pem: str) -> str:
    """The `X-Signature` for a one-time token: base64 of RSA-SHA256 (PKCS#1 v1.5)."""
    key = private_key_load(private_key_pem)
    signature = key.sign(ott.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def signature_valid(body: bytes, signature_b64: str, public_key_pem: str) -> bool:
    """Whether `signature_b64` is Wise's RSA-SHA256 signature of the raw `body`."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        public_key_load(public_key_pem).verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
    except (ValueError, InvalidSignature):
        return False
    return True


def keypair_generate() -> KeyPair:
    """A fresh 2048-bit RSA key pair; the user uploads the public half to Wise."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=MIN_KEY_BITS)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return KeyPair(private_pem=private_pem, public_pem=public_pem_of(private_pem))


def public_pem_of(private_key_pem: str) -> str:
    return (
        private_key_load(private_key_pem)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def fingerprint(pem: str) -> str:
    """`SHA256:ab12…` of the public key, to show a key without showing it."""
    try:
        public = private_key_load(pem).public_key() if "PRIVATE" in pem else public_key_load(pem)
    except InvalidKeyError:
        return "unreadable key"
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = base64.b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")
    return f"RSA {public.key_size} bits, SHA256:{digest[:16]}…"
