import pytest
from cryptography.fernet import Fernet
from django.db import connection

from treasury import crypto


def test_encrypt_round_trip_and_ciphertext_hides_the_secret():
    stored = crypto.encrypt("wise-token-123")
    assert stored.startswith("fernet:")
    assert "wise-token-123" not in stored
    assert crypto.decrypt(stored) == "wise-token-123"


def test_rotation_old_key_still_decrypts(settings):
    old = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    crypto._fernet.cache_clear()
    stored = crypto.encrypt("secret")
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old]
    crypto._fernet.cache_clear()
    try:
        assert crypto.decrypt(stored) == "secret"
    finally:
        crypto._fernet.cache_clear()


@pytest.mark.django_db
def test_encrypted_field_stores_ciphertext():
    from django.db import models

    field = crypto.EncryptedTextField()
    prepared = field.get_prep_value("token-abc")
    assert prepared.startswith("fernet:")
    assert field.from_db_value(prepared, None, connection) == "token-abc"
    assert isinstance(field, models.TextField)
